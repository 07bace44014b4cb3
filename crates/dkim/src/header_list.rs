//! The `h=` tag of a signature (RFC 6376 §3.5): the signed header field names, in order.

/// The names of a signature's `h=` tag in order, FWS removed, as written (compare them
/// case-insensitively, RFC 6376 §3.5), kept in one string: one allocation per signature
/// instead of one per name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderList {
    /// The names joined by `:`; no name is empty or holds `:` or whitespace.
    joined: String,
}

impl HeaderList {
    /// An empty list with room for `bytes` bytes of names.
    pub(crate) fn with_capacity(bytes: usize) -> Self {
        HeaderList {
            joined: String::with_capacity(bytes),
        }
    }

    /// Appends a name (the caller has checked it: not empty, no `:`, no whitespace).
    pub(crate) fn push(&mut self, name: &str) {
        if !self.joined.is_empty() {
            self.joined.push(':');
        }
        self.joined.push_str(name);
    }

    /// The names, top of the list first (RFC 6376 §5.4.2 selects fields in this order).
    pub fn iter(&self) -> impl Iterator<Item = &str> + Clone + '_ {
        self.joined.split(':').filter(|n| !n.is_empty())
    }

    /// How many names the list holds.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// True when `h=` was absent (an ARC-Seal, RFC 8617 §4.1.3).
    pub fn is_empty(&self) -> bool {
        self.joined.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::HeaderList;

    #[test]
    fn names_in_order() {
        let mut l = HeaderList::default();
        assert!(l.is_empty() && l.iter().next().is_none());
        assert_eq!(l.len(), 0);
        for n in ["From", "to", "from"] {
            l.push(n);
        }
        assert_eq!(l.iter().collect::<Vec<_>>(), ["From", "to", "from"]);
        assert_eq!(l.len(), 3);
    }
}
