//! Domain names, one way for every crate (RFC 1035 §2.3.4, RFC 5890 §2.3): normalisation to
//! the form DNS is queried with (lowercase, no trailing dot, labels 1–63 octets, at most 253),
//! U-labels to A-labels, and the label arithmetic the checks need (subdomain tests, the last
//! n labels). Model: hickory's `Name` (`zone_of`, `num_labels`, `trim_to`).

use crate::DnsError;

/// Normalises a query name: lowercase ASCII, no trailing dot. Rejects names DNS cannot carry
/// (empty labels, labels over 63 octets, names over 253 octets; RFC 1035 §2.3.4) and 8-bit
/// names: every name we ask is A-labels ([`to_ascii`], RFC 5890 §2.3.2.1), and raw UTF-8
/// would ask a different name than the domain the reader sees.
pub fn normalize(name: &str) -> Result<String, DnsError> {
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    if trimmed.is_empty() || trimmed.len() > 253 || !trimmed.is_ascii() {
        return Err(DnsError::InvalidName(name.to_string()));
    }
    for label in trimmed.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(DnsError::InvalidName(name.to_string()));
        }
    }
    Ok(trimmed.to_ascii_lowercase())
}

/// A domain as A-labels (RFC 5890 §2.3.2.1, UTS #46 to ASCII), lowercase, without the
/// trailing dot; ASCII input is only lowercased. The result is then [`normalize`]d.
pub fn to_ascii(raw: &[u8]) -> Result<String, DnsError> {
    let shown = || DnsError::InvalidName(String::from_utf8_lossy(raw).into_owned());
    // the final dot, if any, is left to `normalize`, which removes one: stripping one here
    // too would read `example..` as `example`
    // ASCII goes to `normalize` as it is (it lowercases): one allocation, not two
    let ascii = match std::str::from_utf8(raw) {
        Ok(text) if raw.is_ascii() => std::borrow::Cow::Borrowed(text),
        _ => idna::domain_to_ascii_cow(raw, idna::AsciiDenyList::EMPTY).map_err(|_| shown())?,
    };
    normalize(&ascii).map_err(|_| shown())
}

/// True when every label is letters, digits, `-` or `_` (host names and the `_`-prefixed
/// names of DKIM, DMARC and SPF records; RFC 1123 §2.1 plus underscores, RFC 8552).
pub fn is_host_like(name: &str) -> bool {
    !name.is_empty()
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// `name` equals `parent` or lies below it: ASCII case ignored, one trailing dot on either
/// side ignored, labels compared whole (`xexample.com` is not under `example.com`).
pub fn is_subdomain_of(name: &str, parent: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name).as_bytes();
    let parent = parent.strip_suffix('.').unwrap_or(parent).as_bytes();
    if parent.is_empty() {
        return false;
    }
    if name.eq_ignore_ascii_case(parent) {
        return true;
    }
    match name.len().checked_sub(parent.len()) {
        Some(cut) if cut > 0 => {
            name.get(cut..)
                .is_some_and(|tail| tail.eq_ignore_ascii_case(parent))
                && name.get(cut - 1) == Some(&b'.')
        }
        _ => false,
    }
}

/// The number of labels of a name (its dots plus one; the root has none).
pub fn label_count(name: &str) -> usize {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() {
        0
    } else {
        name.split('.').count()
    }
}

/// The last `n` labels of `name` (all of it when it has fewer).
pub fn last_labels(name: &str, n: usize) -> &str {
    let total = label_count(name);
    if n >= total {
        return name;
    }
    let mut rest = name;
    for _ in 0..total - n {
        match rest.split_once('.') {
            Some((_, r)) => rest = r,
            None => break,
        }
    }
    rest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes() {
        assert_eq!(normalize("Example.COM.").unwrap(), "example.com");
        assert!(normalize("").is_err());
        assert!(normalize(".").is_err());
        assert!(normalize("a..b").is_err());
        assert!(normalize(&"a".repeat(64)).is_err());
        assert!(normalize(&format!("{}.com", "a".repeat(63))).is_ok());
        assert_eq!(
            to_ascii("Bücher.Example.".as_bytes()).unwrap(),
            "xn--bcher-kva.example"
        );
        assert!(to_ascii(b"a..b").is_err());
        // one final dot is the root; two are an empty label (RFC 1035 §2.3.4), in either form
        assert_eq!(to_ascii(b"evil.example.").unwrap(), "evil.example");
        assert!(to_ascii(b"evil.example..").is_err());
        assert!(to_ascii("bücher.example..".as_bytes()).is_err());
        assert!(to_ascii(b".").is_err());
    }

    #[test]
    fn subdomains_and_labels() {
        assert!(is_subdomain_of("Mail.Example.COM.", "example.com"));
        assert!(is_subdomain_of("example.com", "EXAMPLE.com."));
        assert!(!is_subdomain_of("badexample.com", "example.com"));
        assert!(!is_subdomain_of("example.com", ""));
        assert_eq!(last_labels("a.b.c.d", 2), "c.d");
        assert_eq!(last_labels("a.b", 5), "a.b");
        assert_eq!(label_count("a.b.c."), 3);
        assert_eq!(label_count(""), 0);
        assert!(is_host_like("_dmarc.example-1.com"));
        assert!(!is_host_like("exa mple.com"));
    }
}
