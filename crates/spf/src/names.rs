//! The names check_host() works with (RFC 7208 §4.3, §7.3): the sender split into local-part
//! and domain, domains it can evaluate, and expanded domain-specs turned into query names.

/// `name` equals `parent` or lies below it, case-insensitively (RFC 7208 §5.5).
pub(crate) fn is_subdomain(name: &str, parent: &str) -> bool {
    dns::name::is_subdomain_of(name, parent)
}

/// Splits `local@domain` at the last `@`; a missing or empty local-part becomes `postmaster`
/// (RFC 7208 §4.3).
pub(crate) fn split_sender(sender: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let sender = strip_angle(sender);
    match sender.iter().rposition(|&b| b == b'@') {
        Some(at) => {
            let local = sender.get(..at).unwrap_or_default();
            let domain = sender.get(at + 1..).unwrap_or_default();
            let local = if local.is_empty() {
                b"postmaster".to_vec()
            } else {
                local.to_vec()
            };
            (local, domain.to_vec())
        }
        None => (b"postmaster".to_vec(), sender.to_vec()),
    }
}

pub(crate) fn trim_ascii(s: &[u8]) -> &[u8] {
    s.trim_ascii()
}

pub(crate) fn strip_angle(s: &[u8]) -> &[u8] {
    let s = trim_ascii(s);
    s.strip_prefix(b"<")
        .and_then(|s| s.strip_suffix(b">"))
        .unwrap_or(s)
}

/// Turns an expanded domain-spec into a query name (RFC 7208 §7.3): drop one trailing dot,
/// remove labels from the left until at most 253 octets remain, then require a name DNS can
/// carry (no empty label, labels of at most 63 octets, ASCII).
pub(crate) fn to_target_name(expanded: &[u8]) -> Option<String> {
    let mut name = expanded.strip_suffix(b".").unwrap_or(expanded);
    while name.len() > 253 {
        let dot = name.iter().position(|&b| b == b'.')?;
        name = name.get(dot + 1..)?;
    }
    if name.is_empty() || !name.is_ascii() {
        return None;
    }
    if name
        .split(|&b| b == b'.')
        .any(|l| l.is_empty() || l.len() > 63)
    {
        return None;
    }
    String::from_utf8(name.to_vec()).ok()
}

/// A `<domain>` check_host() can evaluate (RFC 7208 §4.3): at most 253 octets, labels of 1–63
/// octets, at least two labels. `strict` (the initial identity) also requires letters, digits,
/// `-` and `_` only and a top label that is not all-numeric, which rules out address literals.
pub(crate) fn is_valid_domain(domain: &str, strict: bool) -> bool {
    let name = domain.strip_suffix('.').unwrap_or(domain);
    if name.is_empty() || name.len() > 253 || !name.is_ascii() {
        return false;
    }
    let labels: Vec<&str> = name.split('.').collect();
    if labels.len() < 2 || labels.iter().any(|l| l.is_empty() || l.len() > 63) {
        return false;
    }
    if strict {
        let ldh = labels.iter().all(|l| {
            l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
        let numeric_top = labels
            .last()
            .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()));
        return ldh && !numeric_top;
    }
    true
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;

    #[test]
    fn domains() {
        assert!(is_valid_domain("example.com", true));
        assert!(is_valid_domain("Example.COM.", true));
        assert!(is_valid_domain("_spf.example.com", true));
        assert!(!is_valid_domain("example", true));
        assert!(!is_valid_domain("[1.2.3.4]", true));
        assert!(!is_valid_domain("1.2.3.4", true));
        assert!(!is_valid_domain("a..example.com", true));
        assert!(!is_valid_domain(&format!("{}.com", "a".repeat(64)), true));
        assert!(is_valid_domain(&format!("{}.com", "a".repeat(63)), true));
        assert!(is_valid_domain("foo:bar.example.com", false));
    }

    #[test]
    fn target_names() {
        assert_eq!(
            to_target_name(b"example.com.").as_deref(),
            Some("example.com")
        );
        assert_eq!(to_target_name(b"a..b"), None);
        assert_eq!(to_target_name(b""), None);
        let long = format!("{}.example.com", ["abcdefghi"; 30].join("."));
        let t = to_target_name(long.as_bytes()).unwrap();
        assert!(t.len() <= 253 && t.ends_with(".example.com"), "{t}");
        assert!(long.ends_with(&t) && long.as_bytes()[long.len() - t.len() - 1] == b'.');
        assert_eq!(to_target_name("x".repeat(300).as_bytes()), None);
    }

    #[test]
    fn senders() {
        assert_eq!(
            split_sender(b"a@b.example"),
            (b"a".to_vec(), b"b.example".to_vec())
        );
        assert_eq!(
            split_sender(b"@b.example"),
            (b"postmaster".to_vec(), b"b.example".to_vec())
        );
        assert_eq!(
            split_sender(b"<x@y@b.example>"),
            (b"x@y".to_vec(), b"b.example".to_vec())
        );
        assert_eq!(
            split_sender(b"b.example"),
            (b"postmaster".to_vec(), b"b.example".to_vec())
        );
    }

    #[test]
    fn subdomains() {
        assert!(is_subdomain("mail.example.com", "example.com"));
        assert!(is_subdomain("Example.COM.", "example.com"));
        assert!(!is_subdomain("mail.bad-example.com", "example.com"));
        assert!(!is_subdomain("com", "example.com"));
    }

    #[test]
    fn mapped_addresses() {
        assert_eq!(
            "::ffff:1.2.3.4".parse::<IpAddr>().unwrap().to_canonical(),
            "1.2.3.4".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            "::1.2.3.4".parse::<IpAddr>().unwrap().to_canonical(),
            "::1.2.3.4".parse::<IpAddr>().unwrap()
        );
    }
}
