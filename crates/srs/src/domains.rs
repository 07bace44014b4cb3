//! A set of local domains with postsrsd's matching rules.

use std::collections::HashSet;

/// Domains matched as postsrsd's `domains` / `domains-file` do: `example.com` matches exactly
/// that domain, `.example.com` matches every subdomain of it but not `example.com` itself;
/// case-insensitive, a trailing dot ignored, U-labels and A-labels the same domain (RFC 5890
/// §2.3.2.1: an MTA without SMTPUTF8 passes `xn--bcher-kva.example` for `bücher.example`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DomainSet {
    /// Lower-cased exact domains.
    exact: HashSet<String>,
    /// Lower-cased parents whose subdomains match (stored without the leading dot).
    parents: HashSet<String>,
}

impl DomainSet {
    /// An empty set.
    pub fn new() -> Self {
        DomainSet::default()
    }

    /// Adds one entry (`example.com` or `.example.com`); empty entries are ignored.
    pub fn insert(&mut self, entry: &str) {
        let entry = comparable(entry.trim());
        match entry.strip_prefix('.') {
            Some("") => {}
            Some(parent) => {
                self.parents.insert(parent.to_owned());
            }
            None if entry.is_empty() => {}
            None => {
                self.exact.insert(entry);
            }
        }
    }

    /// Parses a domains file: one entry per line, blank lines and `#` comments ignored.
    pub fn parse(text: &str) -> Self {
        let mut set = DomainSet::new();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or_default();
            set.insert(line);
        }
        set
    }

    /// True if `domain` is in the set (exactly, or below a `.parent` entry).
    pub fn contains(&self, domain: &str) -> bool {
        let domain = comparable(domain);
        if self.exact.contains(&domain) {
            return true;
        }
        let mut rest = domain.as_str();
        while let Some((_, parent)) = rest.split_once('.') {
            if self.parents.contains(parent) {
                return true;
            }
            rest = parent;
        }
        false
    }

    /// True if the set has no entries.
    pub fn is_empty(&self) -> bool {
        self.exact.is_empty() && self.parents.is_empty()
    }
}

/// `domain` (or `.domain`) as compared: A-labels, lowercase, no trailing dot; ASCII that is
/// not a valid name only lowercased.
fn comparable(domain: &str) -> String {
    let domain = domain.trim_end_matches('.');
    let (dot, name) = match domain.strip_prefix('.') {
        Some(rest) => (".", rest),
        None => ("", domain),
    };
    if name.is_ascii() {
        return format!("{dot}{}", name.to_ascii_lowercase());
    }
    match dns::name::to_ascii(name.as_bytes()) {
        Ok(ascii) => format!("{dot}{ascii}"),
        Err(_) => format!("{dot}{}", name.to_lowercase()),
    }
}

impl<'a> FromIterator<&'a str> for DomainSet {
    fn from_iter<I: IntoIterator<Item = &'a str>>(iter: I) -> Self {
        let mut set = DomainSet::new();
        for entry in iter {
            set.insert(entry);
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_and_subdomain_entries() {
        let set: DomainSet = ["example.com", ".example.org", ""].into_iter().collect();
        assert!(set.contains("example.com"));
        assert!(set.contains("EXAMPLE.COM."));
        assert!(!set.contains("sub.example.com"));
        assert!(!set.contains("example.org"));
        assert!(set.contains("a.example.org"));
        assert!(set.contains("b.a.Example.ORG"));
        assert!(!set.contains("badexample.org"));
        assert!(!set.contains(""));
    }

    /// U-labels and A-labels are one domain, in entries and in queries, any case.
    #[test]
    fn internationalized_domains_match_in_either_form() {
        let set: DomainSet = ["bücher.example", ".xn--strae-oqa.example"]
            .into_iter()
            .collect();
        assert!(set.contains("bücher.example"));
        assert!(set.contains("xn--bcher-kva.example"));
        assert!(set.contains("BÜCHER.example."));
        assert!(set.contains("mx.straße.example"));
        assert!(set.contains("mx.XN--STRAE-OQA.example"));
        assert!(!set.contains("bucher.example"));
        assert!(!set.contains("straße.example"));
    }

    #[test]
    fn parse_file() {
        let set = DomainSet::parse("# local\nexample.com\n\n.lists.example.net # lists\n");
        assert!(set.contains("example.com"));
        assert!(set.contains("x.lists.example.net"));
        assert!(!DomainSet::parse("\n#\n").contains("x"));
        assert!(DomainSet::parse("").is_empty());
    }
}
