//! Domain names as DMARC compares them: normalisation to lowercase A-labels (RFC 5890 §2.3), subdomain tests and label arithmetic.

use crate::error::DmarcError;

/// Normalises a domain to the A-label form DMARC compares (RFC 9989 §5.3.1): IDNA
/// (UTS #46) to ASCII, lowercase, no trailing dot, every label 1–63 octets of letters, digits,
/// `-` or `_`, at most 253 octets in all.
pub(crate) fn normalize_domain(raw: &[u8]) -> Result<String, DmarcError> {
    let shown = || DmarcError::InvalidDomain(String::from_utf8_lossy(raw).into_owned());
    let raw = raw.strip_suffix(b".").unwrap_or(raw);
    if raw.is_empty() {
        return Err(shown());
    }
    let ascii = if raw.is_ascii() {
        String::from_utf8_lossy(raw).to_ascii_lowercase()
    } else {
        idna::domain_to_ascii_cow(raw, idna::AsciiDenyList::EMPTY)
            .map_err(|_| shown())?
            .into_owned()
    };
    if ascii.len() > 253 {
        return Err(shown());
    }
    for label in ascii.split('.') {
        if label.is_empty()
            || label.len() > 63
            || !label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(shown());
        }
    }
    Ok(ascii)
}

/// Normalises a domain given as text by a caller (SPF/DKIM identifiers); lowercase ASCII
/// fallback when IDNA refuses it, so comparisons stay possible.
pub(crate) fn normalize_identifier(raw: &str) -> String {
    normalize_domain(raw.as_bytes())
        .unwrap_or_else(|_| raw.trim_end_matches('.').to_ascii_lowercase())
}

/// The number of labels of a normalised domain.
pub(crate) fn label_count(domain: &str) -> usize {
    domain.split('.').count()
}

/// The last `n` labels of `domain` (all of it when it has fewer).
pub(crate) fn last_labels(domain: &str, n: usize) -> &str {
    let total = label_count(domain);
    if n >= total {
        return domain;
    }
    let mut rest = domain;
    for _ in 0..total - n {
        match rest.split_once('.') {
            Some((_, r)) => rest = r,
            None => break,
        }
    }
    rest
}

/// `sub` equals `parent` or is below it.
pub(crate) fn is_subdomain_or_same(sub: &str, parent: &str) -> bool {
    sub == parent
        || sub
            .strip_suffix(parent)
            .is_some_and(|head| head.ends_with('.'))
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
