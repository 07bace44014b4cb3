//! Takes libpq's TLS parameters (`sslmode`, `sslrootcert`) out of a PostgreSQL connection
//! string, in both of its forms: the URL (`postgres://h/db?sslmode=verify-full&…`, values
//! percent-encoded) and `key=value` pairs (`host=h sslmode=verify-full`, values optionally
//! in single quotes with backslash escapes, as libpq and tokio-postgres read them). The rest
//! goes to tokio-postgres unchanged, which rejects parameters it does not know.

use std::ops::Range;
use std::path::PathBuf;

use crate::tls::{RootSource, TlsSettings};

/// The connection string without the TLS parameters, and the TLS settings they gave.
pub(crate) fn split_tls(conn: &str) -> Result<(String, TlsSettings), String> {
    let (rest, params) = if conn.starts_with("postgres://") || conn.starts_with("postgresql://") {
        split_url(conn)?
    } else {
        split_pairs(conn)?
    };
    let mut tls = TlsSettings::default();
    for (key, value) in params {
        match key.as_str() {
            "sslmode" => tls.mode = value.parse()?,
            "sslrootcert" if value.is_empty() => {
                return Err("sslrootcert is empty: give a PEM file or `system`".into());
            }
            "sslrootcert" if value == "system" => tls.root_cert = Some(RootSource::System),
            "sslrootcert" => tls.root_cert = Some(RootSource::File(PathBuf::from(value))),
            _ => {}
        }
    }
    Ok((rest, tls))
}

fn is_tls_key(key: &str) -> bool {
    key == "sslmode" || key == "sslrootcert"
}

type Params = Vec<(String, String)>;

fn split_url(conn: &str) -> Result<(String, Params), String> {
    let Some((base, query)) = conn.split_once('?') else {
        return Ok((conn.to_string(), Vec::new()));
    };
    let mut kept = Vec::new();
    let mut taken = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let key = percent_decode(k)?;
        if is_tls_key(&key) {
            taken.push((key, percent_decode(v)?));
        } else {
            kept.push(pair);
        }
    }
    let rest = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((rest, taken))
}

fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b, hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (b'%', None) => return Err(format!("bad percent escape in {s:?}")),
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| format!("{s:?} is not UTF-8 after percent decoding"))
}

fn split_pairs(conn: &str) -> Result<(String, Params), String> {
    let mut kept: Vec<&str> = Vec::new();
    let mut taken = Vec::new();
    for (key, value, span) in pairs(conn)? {
        if is_tls_key(&key) {
            taken.push((key, value));
        } else if let Some(text) = conn.get(span) {
            kept.push(text);
        }
    }
    Ok((kept.join(" "), taken))
}

/// Each `key = value` of a libpq keyword/value string with its byte range.
fn pairs(conn: &str) -> Result<Vec<(String, String, Range<usize>)>, String> {
    let mut out = Vec::new();
    let mut chars = conn.char_indices().peekable();
    loop {
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let Some(&(start, _)) = chars.peek() else {
            return Ok(out);
        };
        let mut key = String::new();
        while let Some((_, c)) = chars.next_if(|(_, c)| !c.is_whitespace() && *c != '=') {
            key.push(c);
        }
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        if chars.next_if(|(_, c)| *c == '=').is_none() {
            return Err(format!("expected `=` after {key:?}"));
        }
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        let quoted = chars.next_if(|(_, c)| *c == '\'').is_some();
        let mut end = conn.len();
        loop {
            let Some((i, c)) = chars.next() else {
                if quoted {
                    return Err(format!("unterminated quoted value of {key:?}"));
                }
                break;
            };
            match c {
                '\\' => match chars.next() {
                    Some((_, escaped)) => value.push(escaped),
                    None => return Err(format!("dangling backslash in the value of {key:?}")),
                },
                '\'' if quoted => {
                    end = i + 1;
                    break;
                }
                c if c.is_whitespace() && !quoted => {
                    end = i;
                    break;
                }
                c => value.push(c),
            }
        }
        out.push((key, value, start..end));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::SslMode;

    #[test]
    fn url_parameters_are_taken_out() {
        let (rest, tls) = split_tls(
            "postgres://u:p@db.example:5432/r?connect_timeout=5&sslmode=verify-full&sslrootcert=%2Fetc%2Fca%20x.pem",
        )
        .unwrap();
        assert_eq!(rest, "postgres://u:p@db.example:5432/r?connect_timeout=5");
        assert_eq!(tls.mode, SslMode::VerifyFull);
        assert_eq!(
            tls.root_cert,
            Some(RootSource::File("/etc/ca x.pem".into()))
        );
        let (rest, tls) = split_tls("postgresql://h/db?sslmode=require").unwrap();
        assert_eq!(rest, "postgresql://h/db");
        assert_eq!((tls.mode, tls.root_cert), (SslMode::Require, None));
        let (rest, tls) = split_tls("postgres://h/db").unwrap();
        assert_eq!(rest, "postgres://h/db");
        assert_eq!(tls, TlsSettings::default());
        assert_eq!(tls.mode, SslMode::Prefer);
    }

    #[test]
    fn keyword_parameters_are_taken_out() {
        let (rest, tls) = split_tls(
            "host=db user=m password='a b\\'c' sslmode = verify-ca sslrootcert='/etc/my ca.pem' dbname=r",
        )
        .unwrap();
        assert_eq!(rest, "host=db user=m password='a b\\'c' dbname=r");
        assert_eq!(tls.mode, SslMode::VerifyCa);
        assert_eq!(
            tls.root_cert,
            Some(RootSource::File("/etc/my ca.pem".into()))
        );
        let (_, tls) = split_tls("host=db sslrootcert=system").unwrap();
        assert_eq!(tls.root_cert, Some(RootSource::System));
    }

    #[test]
    fn bad_values_are_refused() {
        for bad in [
            "postgres://h/db?sslmode=verify",
            "postgres://h/db?sslmode=allow",
            "postgres://h/db?sslmode=%zz",
            "postgres://h/db?sslrootcert=",
            "host=h sslmode=VERIFY-FULL",
            "host=h sslmode",
            "host=h sslrootcert='/x",
            "host=h sslmode=require\\",
        ] {
            assert!(split_tls(bad).is_err(), "{bad}");
        }
    }
}
