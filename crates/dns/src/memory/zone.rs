//! Zone text into a [`MemoryResolver`]: [`MemoryResolver::from_zone`] and
//! [`MemoryResolver::load_zone`], and the checks of the values they read (format in the
//! [parent module's docs](super)).

use super::{MemoryResolver, RecordType};
use crate::{DnsError, normalize_name};

/// Error from [`MemoryResolver::from_zone`]: the line number (1-based) and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("zone line {line}: {message}")]
pub struct ZoneError {
    /// 1-based line number in the zone text.
    pub line: usize,
    /// What could not be parsed.
    pub message: String,
}

impl MemoryResolver {
    /// Builds a resolver from zone text (format in the module docs).
    pub fn from_zone(text: &str) -> Result<Self, ZoneError> {
        let resolver = Self::new();
        resolver.load_zone(text)?;
        Ok(resolver)
    }

    /// Adds the records of `text` (format in the module docs; RFC 1035 §5 master-file syntax
    /// is read too, see [`crate::zonefile`]).
    pub fn load_zone(&self, text: &str) -> Result<(), ZoneError> {
        let entries = crate::zonefile::parse(text).map_err(|e| ZoneError {
            line: e.line,
            message: e.message,
        })?;
        for entry in entries {
            let err = |message: &str| ZoneError {
                line: entry.line,
                message: message.to_string(),
            };
            let name = entry.name.as_str();
            let value = entry.value.as_str();
            match entry.rtype.as_str() {
                "TIMEOUT" => self.fail(name, DnsError::Timeout),
                "SERVFAIL" => self.fail(name, DnsError::ServFail),
                "NXDOMAIN" => self.fail(name, DnsError::NxDomain),
                "TXT" | "SPF" => {
                    if let Some(e) = error_keyword(value) {
                        self.fail_type(name, RecordType::Txt, e);
                    } else {
                        let strings = parse_character_strings(value).map_err(|m| err(&m))?;
                        self.add_txt_strings(name, &strings);
                    }
                }
                "A" => {
                    if let Some(e) = error_keyword(value) {
                        self.fail_type(name, RecordType::A, e);
                    } else {
                        let ip = value.parse().map_err(|_| err("bad IPv4 address"))?;
                        self.add_a(name, ip);
                    }
                }
                "AAAA" => {
                    if let Some(e) = error_keyword(value) {
                        self.fail_type(name, RecordType::Aaaa, e);
                    } else {
                        let ip = value.parse().map_err(|_| err("bad IPv6 address"))?;
                        self.add_aaaa(name, ip);
                    }
                }
                "MX" => {
                    if let Some(e) = error_keyword(value) {
                        self.fail_type(name, RecordType::Mx, e);
                    } else {
                        let (pref, exchange) = split_word(value);
                        let pref = pref.parse().map_err(|_| err("bad MX preference"))?;
                        let exchange = exchange.trim();
                        if exchange.is_empty() {
                            return Err(err("MX needs an exchange"));
                        }
                        // "." is the null MX (RFC 7505); anything else must be a host name.
                        let exchange = entry.absolute(exchange);
                        if !exchange.is_empty() {
                            check_host_name(&exchange).map_err(|m| err(&m))?;
                        }
                        self.add_mx(name, pref, &exchange);
                    }
                }
                "PTR" => {
                    if let Some(e) = error_keyword(value) {
                        self.fail_type(name, RecordType::Ptr, e);
                    } else {
                        let target = entry.absolute(value);
                        check_host_name(&target).map_err(|m| err(&m))?;
                        self.add_ptr_name(name, &target);
                    }
                }
                "CNAME" => {
                    let target = entry.absolute(value);
                    check_host_name(&target).map_err(|m| err(&m))?;
                    self.add_cname(name, &target);
                }
                other if crate::zonefile::SKIPPED_TYPES.contains(&other) => {}
                other => return Err(err(&format!("unknown record type {other:?}"))),
            }
        }
        Ok(())
    }
}

/// A target host name (MX exchange, PTR, CNAME) must be a name DNS can carry (RFC 1035 §2.3.4).
fn check_host_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("bad host name \".\" (the root is not a host)".into());
    }
    if name.ends_with('.') {
        return Err(format!("bad host name {name:?} (empty label)"));
    }
    normalize_name(name)
        .map(|_| ())
        .map_err(|_| format!("bad host name {name:?}"))
}

fn error_keyword(value: &str) -> Option<DnsError> {
    match value.to_ascii_uppercase().as_str() {
        "TIMEOUT" => Some(DnsError::Timeout),
        "SERVFAIL" => Some(DnsError::ServFail),
        "NXDOMAIN" => Some(DnsError::NxDomain),
        _ => None,
    }
}

fn split_word(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    match s.find(char::is_whitespace) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, ""),
    }
}

/// Parses TXT RDATA: one or more `"quoted"` strings (with `\"`, `\\` and `\DDD` escapes), or
/// a single unquoted word.
fn parse_character_strings(value: &str) -> Result<Vec<Vec<u8>>, String> {
    let bytes = value.as_bytes();
    if !value.starts_with('"') {
        if value.is_empty() {
            return Err("TXT needs a value".into());
        }
        return Ok(vec![bytes.to_vec()]);
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes.get(i) {
            Some(b' ' | b'\t') => i += 1,
            Some(b'"') => {
                i += 1;
                let mut s = Vec::new();
                loop {
                    match bytes.get(i) {
                        None => return Err("unterminated quoted string".into()),
                        Some(b'"') => {
                            i += 1;
                            break;
                        }
                        Some(b'\\') => {
                            let digits = bytes.get(i + 1..i + 4);
                            if let Some(d) = digits.filter(|d| d.iter().all(u8::is_ascii_digit)) {
                                let n =
                                    d.iter().fold(0u32, |acc, b| acc * 10 + u32::from(b - b'0'));
                                let byte = u8::try_from(n).map_err(|_| "escape over 255")?;
                                s.push(byte);
                                i += 4;
                            } else if let Some(&c) = bytes.get(i + 1) {
                                s.push(c);
                                i += 2;
                            } else {
                                return Err("dangling backslash".into());
                            }
                        }
                        Some(&c) => {
                            s.push(c);
                            i += 1;
                        }
                    }
                }
                out.push(s);
            }
            Some(_) => return Err("text outside quotes".into()),
            None => break,
        }
    }
    Ok(out)
}
