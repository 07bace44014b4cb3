//! Where the store is: `sqlite:/var/lib/authmilter/reports.db` or
//! `postgres://user:password@host:5432/dbname` (also `postgresql://` and the libpq
//! `key=value` form after `postgres:`).

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::conn_string::split_tls;
use crate::error::{StoreError, with_causes};
use crate::tls::TlsSettings;

/// A parsed store location. Its `Display` hides any password.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// An SQLite database file (created when missing).
    Sqlite(PathBuf),
    /// A PostgreSQL connection string, checked by the driver's parser.
    Postgres(String),
}

impl FromStr for StoreLocation {
    type Err = StoreError;

    fn from_str(text: &str) -> Result<Self, StoreError> {
        let t = text.trim();
        let bad = |why: &str| StoreError::Location {
            location: redact(t),
            why: why.to_string(),
        };
        if let Some(path) = t.strip_prefix("sqlite:") {
            // sqlite:/abs, sqlite:///abs and sqlite:relative all name a file
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err(bad("no file name after sqlite:"));
            }
            if path.contains('\0') {
                return Err(bad("NUL in the file name"));
            }
            return Ok(StoreLocation::Sqlite(PathBuf::from(path)));
        }
        if t.starts_with("postgres://") || t.starts_with("postgresql://") {
            postgres_config(t)?;
            return Ok(StoreLocation::Postgres(t.to_string()));
        }
        if let Some(kv) = t.strip_prefix("postgres:") {
            postgres_config(kv)?;
            return Ok(StoreLocation::Postgres(kv.to_string()));
        }
        Err(bad(
            "expected sqlite:/path/to/reports.db or postgres://user@host/dbname",
        ))
    }
}

/// The driver's configuration and the TLS settings of a PostgreSQL connection string.
pub(crate) fn postgres_config(
    conn: &str,
) -> Result<(tokio_postgres::Config, TlsSettings), StoreError> {
    let bad = |why: String| StoreError::Location {
        location: redact(conn),
        why,
    };
    let (rest, tls) = split_tls(conn).map_err(bad)?;
    let mut config = tokio_postgres::Config::from_str(&rest).map_err(|e| bad(with_causes(&e)))?;
    // libpq would take its built-in socket directory; the driver refuses at every connection
    // (no host, or an empty one: `postgres://:5432/db`; `host= dbname=x` reads as the host
    // `dbname=x`, no name a resolver answers)
    // `hostaddr` given: an empty host is only the TLS name, as in libpq
    let addresses = !config.get_hostaddrs().is_empty();
    let unusable_host = config.get_hosts().iter().any(|h| {
        matches!(h, tokio_postgres::config::Host::Tcp(name)
            if (name.is_empty() && !addresses)
                || name.contains(|c: char| c == '=' || c.is_whitespace()))
    });
    // as libpq: as many `hostaddr` as `host` values when both are given, and one port for
    // all or one per host
    let (hosts, addrs) = (config.get_hosts().len(), config.get_hostaddrs().len());
    if hosts > 0 && addrs > 0 && hosts != addrs {
        return Err(bad(format!(
            "{hosts} host names and {addrs} hostaddr values: give one address per host"
        )));
    }
    let (servers, ports) = (hosts.max(addrs), config.get_ports().len());
    if ports > 1 && ports != servers {
        return Err(bad(format!(
            "{ports} ports for {servers} hosts: give one port for all, or one per host"
        )));
    }
    if unusable_host || (config.get_hosts().is_empty() && config.get_hostaddrs().is_empty()) {
        return Err(bad(
            "no host to connect to: name the server (postgres://user@host/db, or host=/var/run/postgresql for the local socket)".into(),
        ));
    }
    config.ssl_mode(tls.driver_mode());
    Ok((config, tls))
}

impl StoreLocation {
    /// The TLS settings of a PostgreSQL location (`None` for SQLite).
    pub fn tls(&self) -> Option<TlsSettings> {
        match self {
            StoreLocation::Sqlite(_) => None,
            StoreLocation::Postgres(conn) => postgres_config(conn).ok().map(|(_, tls)| tls),
        }
    }

    /// Checks what the location names beyond its text (what `config check` runs): for
    /// PostgreSQL, that the trusted roots of `sslmode=verify-*` (the `sslrootcert` file or
    /// the system's store) load.
    pub fn check_files(&self) -> Result<(), StoreError> {
        let StoreLocation::Postgres(conn) = self else {
            return Ok(());
        };
        let (_, tls) = postgres_config(conn)?;
        tls.check().map_err(|why| StoreError::Location {
            location: redact(conn),
            why,
        })
    }

    /// The location as written in the configuration, password included (for serializing the
    /// configuration back; never log it, use `Display`).
    pub fn as_config_text(&self) -> String {
        match self {
            StoreLocation::Sqlite(p) => format!("sqlite:{}", p.display()),
            StoreLocation::Postgres(s) if s.contains("://") => s.clone(),
            StoreLocation::Postgres(s) => format!("postgres:{s}"),
        }
    }

    /// True when the location carries a password (a PostgreSQL URL's `user:secret@` or a
    /// `password` key; PostgreSQL 17 docs §32.1.1), which the file holding it must keep private.
    pub fn has_password(&self) -> bool {
        match self {
            StoreLocation::Sqlite(_) => false,
            StoreLocation::Postgres(conn) => postgres_config(conn)
                .ok()
                .is_some_and(|(config, _)| config.get_password().is_some()),
        }
    }

    /// `sqlite` or `postgres`.
    pub fn backend_name(&self) -> &'static str {
        match self {
            StoreLocation::Sqlite(_) => "sqlite",
            StoreLocation::Postgres(_) => "postgres",
        }
    }
}

impl fmt::Display for StoreLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact(&self.as_config_text()))
    }
}

impl fmt::Debug for StoreLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoreLocation({self})")
    }
}

/// Replaces the password of a URL (`user:secret@`, and every `password=` of its query) or of
/// a libpq `key=value` string (every `password` key, spaces around `=` and a quoted value
/// included; PostgreSQL 17 docs §32.1.1.1) with `***`.
pub fn redact(text: &str) -> String {
    match text.find("://") {
        Some(scheme_end) => redact_url(text, scheme_end + 3),
        None => redact_key_values(text),
    }
}

fn redact_url(text: &str, rest_start: usize) -> String {
    let mut out = text.to_string();
    let rest = text.get(rest_start..).unwrap_or_default();
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = rest.get(..authority_end).unwrap_or_default();
    let mut query_from = rest_start + authority_end;
    if let Some(at) = authority.rfind('@')
        && let Some(colon) = authority.get(..at).and_then(|u| u.find(':'))
    {
        let (a, b) = (rest_start + colon + 1, rest_start + at);
        out.replace_range(a..b, "***");
        query_from = query_from + 3 - (b - a);
    }
    let Some(q) = out.get(query_from..).and_then(|r| r.find('?')) else {
        return out;
    };
    let (head, query) = out.split_at(query_from + q + 1);
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
            _ => pair.to_string(),
        })
        .collect();
    format!("{head}{}", query.join("&"))
}

fn redact_key_values(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut copied = 0;
    while i < bytes.len() {
        // a keyword, then optional spaces, `=`, optional spaces, then the value
        while bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        let key_start = i;
        while bytes
            .get(i)
            .is_some_and(|b| *b != b'=' && !b.is_ascii_whitespace())
        {
            i += 1;
        }
        let key = text.get(key_start..i).unwrap_or_default();
        while bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        if bytes.get(i) != Some(&b'=') {
            continue;
        }
        i += 1;
        while bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        let value_start = i;
        if bytes.get(i) == Some(&b'\'') {
            i += 1;
            while let Some(b) = bytes.get(i) {
                i += if *b == b'\\' { 2 } else { 1 };
                if *b == b'\'' {
                    break;
                }
            }
            i = i.min(bytes.len());
        } else {
            while bytes.get(i).is_some_and(|b| !b.is_ascii_whitespace()) {
                i += 1;
            }
        }
        // `postgres:password=...`: the keyword may follow the scheme's colon
        let name = key.rsplit(':').next().unwrap_or(key);
        if name.eq_ignore_ascii_case("password") && i > value_start {
            out.push_str(text.get(copied..value_start).unwrap_or_default());
            out.push_str("***");
            copied = i;
        }
    }
    out.push_str(text.get(copied..).unwrap_or_default());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A location that names no server opens at no attempt (the driver has no built-in
    /// socket directory, unlike libpq): refused when the configuration is read, so `config
    /// check` names it, instead of a store that retries every 30 s while records are dropped.
    #[test]
    fn a_location_without_a_host_is_refused() {
        for text in [
            "postgres://",
            "postgresql:///reports",
            "postgres://authmilter@/reports",
            "postgres:dbname=x",
            "postgres:user=authmilter dbname=reports",
            "postgres://:5432/reports",
            "postgres:host= dbname=x",
            "postgres://u@,/x",
            "postgres:host='' hostaddr=127.0.0.1,127.0.0.2 dbname=x",
            "postgres://postgres@:18599,db.example:18599/rep?hostaddr=127.0.0.1",
            "postgres:host=127.0.0.1,127.0.0.1,127.0.0.1 port=1,2 dbname=x",
            "postgres://u@h1,h2,h3/x?port=1,2",
        ] {
            let err = text.parse::<StoreLocation>().unwrap_err().to_string();
            assert!(err.contains("host"), "{text}: {err}");
        }
        for text in [
            "postgres://%2Fvar%2Frun%2Fpostgresql/reports",
            "postgres:host=/var/run/postgresql dbname=reports",
            "postgres:hostaddr=127.0.0.1 dbname=reports",
            "postgres://postgres@:18592/rep?hostaddr=127.0.0.1&sslmode=disable",
            "postgres:host='' hostaddr=127.0.0.1 port=18592 user=postgres dbname=rep",
            "postgres://authmilter@db.example/reports",
            "postgres://u@h1:5432,h2:5433/x",
            "postgres:host=a.example,b.example port=5432 dbname=x",
        ] {
            assert!(text.parse::<StoreLocation>().is_ok(), "{text}");
        }
    }

    #[test]
    fn a_password_in_the_location_is_noticed() {
        for (text, has) in [
            ("sqlite:/var/lib/authmilter/reports.db", false),
            ("postgres://authmilter@db.example/reports", false),
            ("postgres://authmilter:secret@db.example/reports", true),
            (
                "postgres:host=db.example user=authmilter dbname=reports",
                false,
            ),
            (
                "postgres:host=db.example password = 'se cret' dbname=reports",
                true,
            ),
            (
                "postgres://authmilter@db.example/reports?password=secret",
                true,
            ),
        ] {
            let location: StoreLocation = text.parse().unwrap();
            assert_eq!(location.has_password(), has, "{text}");
        }
    }

    #[test]
    fn locations_parse_and_hide_passwords() {
        assert_eq!(
            "sqlite:/var/lib/authmilter/reports.db"
                .parse::<StoreLocation>()
                .unwrap(),
            StoreLocation::Sqlite("/var/lib/authmilter/reports.db".into())
        );
        assert_eq!(
            "sqlite:///tmp/r.db".parse::<StoreLocation>().unwrap(),
            StoreLocation::Sqlite("/tmp/r.db".into())
        );
        let pg: StoreLocation = "postgres://milter:s3cret@db.example:5432/reports"
            .parse()
            .unwrap();
        assert_eq!(
            pg.to_string(),
            "postgres://milter:***@db.example:5432/reports"
        );
        assert!(pg.as_config_text().contains("s3cret"));
        let kv: StoreLocation = "postgres:host=127.0.0.1 user=m password=x dbname=r"
            .parse()
            .unwrap();
        assert_eq!(
            kv.to_string(),
            "postgres:host=127.0.0.1 user=m password=*** dbname=r"
        );
        // libpq's key/value syntax also allows spaces around `=` and a quoted value (with
        // `\'` inside); a URL may repeat `password` in its query: no part of any shows
        for (text, secrets) in [
            (
                "postgres:host=db.example password = topsecret dbname=d",
                &["topsecret"][..],
            ),
            (
                "postgres:host=db.example password='se cret' dbname=d",
                &["se", "cret"],
            ),
            (
                r"postgres:password='it\'s a secret' host=db.example",
                &["it", "secret"],
            ),
            (
                "postgres://u:pw1@db.example/d?password=pw2&sslmode=disable&Password=pw3",
                &["pw1", "pw2", "pw3"],
            ),
        ] {
            let shown = redact(text);
            for secret in secrets {
                assert!(!shown.contains(secret), "{text} shown as {shown}");
            }
            assert!(shown.contains("db.example"), "{shown}");
        }
        assert_eq!(
            redact("postgres:host=h password = 'x y' dbname=d"),
            "postgres:host=h password = *** dbname=d"
        );
        for bad in [
            "",
            "sqlite:",
            "mysql://x/y",
            "postgres://h:notaport/db",
            "reports.db",
        ] {
            assert!(bad.parse::<StoreLocation>().is_err(), "{bad}");
        }
        // client certificates are not supported: refused by name, not ignored
        let e = "postgres://h/db?sslcert=/etc/c.pem"
            .parse::<StoreLocation>()
            .unwrap_err()
            .to_string();
        assert!(e.contains("sslcert"), "{e}");
        let e = "postgres://h/db?sslmode=verify"
            .parse::<StoreLocation>()
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown sslmode \"verify\""), "{e}");
    }
}
