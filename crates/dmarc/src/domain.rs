//! Domain names as DMARC compares them: normalisation to lowercase A-labels (RFC 5890 §2.3), subdomain tests and label arithmetic.

use crate::error::DmarcError;

/// Normalises a domain to the A-label form DMARC compares (RFC 9989 §5.3.1): IDNA
/// (UTS #46) to ASCII, lowercase, no trailing dot, every label 1–63 octets of letters, digits,
/// `-` or `_`, at most 253 octets in all (`dns::name`).
pub(crate) fn normalize_domain(raw: &[u8]) -> Result<String, DmarcError> {
    let shown = || DmarcError::InvalidDomain(String::from_utf8_lossy(raw).into_owned());
    let ascii = dns::name::to_ascii(raw).map_err(|_| shown())?;
    if !dns::name::is_host_like(&ascii) {
        return Err(shown());
    }
    Ok(ascii)
}

/// Normalises a domain given as text by a caller (SPF/DKIM identifiers); lowercase ASCII
/// fallback when IDNA refuses it, so comparisons stay possible.
pub(crate) fn normalize_identifier(raw: &str) -> String {
    normalize_domain(raw.as_bytes())
        .unwrap_or_else(|_| raw.trim_end_matches('.').to_ascii_lowercase())
}

pub(crate) use dns::name::{label_count, last_labels};

/// `sub` equals `parent` or is below it (`dns::name::is_subdomain_of`).
pub(crate) fn is_subdomain_or_same(sub: &str, parent: &str) -> bool {
    dns::name::is_subdomain_of(sub, parent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        assert_eq!(last_labels("a.b.c.d", 2), "c.d");
        assert_eq!(last_labels("a.b", 5), "a.b");
        assert!(is_subdomain_or_same("x.example.com", "example.com"));
        assert!(!is_subdomain_or_same("xexample.com", "example.com"));
    }

    #[test]
    fn normalizes() {
        assert_eq!(normalize_domain(b"Example.COM.").unwrap(), "example.com");
        assert_eq!(
            normalize_domain("Bücher.example".as_bytes()).unwrap(),
            "xn--bcher-kva.example"
        );
        assert!(normalize_domain(b"a..b").is_err());
        assert!(normalize_domain(b"").is_err());
        assert!(normalize_domain(b"exa mple.com").is_err());
    }
}
