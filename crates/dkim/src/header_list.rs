//! The `h=` tag of a signature (RFC 6376 §3.5): the signed header field names, in order, and
//! the header fields they select (§5.4.2).

use std::collections::HashMap;

use crate::message::HeaderField;

/// Name-by-field comparisons [`select_headers`] makes by scanning before it indexes the fields
/// by name instead: a long `h=` over many fields costs O(fields + names), not their product.
const SCAN_BUDGET: usize = 1 << 14;

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

/// Selects the header fields named in `names`, bottom-up per name (RFC 6376 §5.4.2): the n-th
/// occurrence of a name in the list takes the n-th instance from the bottom; names with no
/// instance left (over-signing) select nothing. `skip` excludes one field (the signature
/// being verified).
pub fn select_headers<N: AsRef<str>>(
    headers: &[HeaderField],
    names: impl IntoIterator<Item = N>,
    skip: Option<usize>,
) -> Vec<&HeaderField> {
    let names = names.into_iter();
    let mut used = vec![false; headers.len()];
    if let Some(s) = skip
        && let Some(u) = used.get_mut(s)
    {
        *u = true;
    }
    let mut out = Vec::with_capacity(names.size_hint().0);
    // past the scan budget: unused field positions by lowercase name, bottom one last
    let mut index: Option<HashMap<Vec<u8>, Vec<usize>>> = None;
    let mut key = Vec::new();
    let mut scanned = 0usize;
    for name in names {
        let name = name.as_ref();
        scanned = scanned.saturating_add(headers.len());
        if index.is_none() && scanned > SCAN_BUDGET {
            let mut by_name: HashMap<Vec<u8>, Vec<usize>> = HashMap::new();
            for (i, h) in headers.iter().enumerate() {
                if !used.get(i).copied().unwrap_or(true) {
                    let lower = h.canonical_name().to_ascii_lowercase();
                    by_name.entry(lower).or_default().push(i);
                }
            }
            index = Some(by_name);
        }
        let found = match index.as_mut() {
            Some(by_name) => {
                key.clear();
                key.extend(name.bytes().map(|b| b.to_ascii_lowercase()));
                by_name.get_mut(key.as_slice()).and_then(Vec::pop)
            }
            None => headers
                .iter()
                .enumerate()
                .rev()
                .find(|(i, h)| !used.get(*i).copied().unwrap_or(true) && h.name_is(name))
                .map(|(i, _)| i),
        };
        if let Some(i) = found
            && let Some(h) = headers.get(i)
        {
            if let Some(u) = used.get_mut(i) {
                *u = true;
            }
            out.push(h);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{HeaderField, HeaderList, select_headers};

    /// The selection rule of RFC 6376 §5.4.2 on whole lists, for comparison.
    fn reference<'a>(
        headers: &'a [HeaderField],
        names: &[&str],
        skip: Option<usize>,
    ) -> Vec<&'a HeaderField> {
        let mut used: Vec<bool> = (0..headers.len()).map(|i| Some(i) == skip).collect();
        let mut out = Vec::new();
        for n in names {
            if let Some(i) = (0..headers.len())
                .rev()
                .find(|&i| !used[i] && headers[i].name_is(n))
            {
                used[i] = true;
                out.push(&headers[i]);
            }
        }
        out
    }

    /// Long `h=` lists over many fields (past the scan budget, where the fields are indexed
    /// by name) select exactly what the §5.4.2 rule selects: bottom-up per name,
    /// case-insensitively, over-signed names selecting nothing, the skipped field never.
    #[test]
    fn indexed_selection_equals_the_rule() {
        let mut headers = Vec::new();
        for i in 0..300 {
            let name = match i % 5 {
                0 => "Received".to_string(),
                1 => "from".to_string(),
                2 => "X-A ".to_string(),
                3 => "DKIM-Signature".to_string(),
                _ => format!("X-{i}"),
            };
            headers.push(HeaderField::new(name, format!(" {i}")));
        }
        let mut names = Vec::new();
        for i in 0..400 {
            names.push(match i % 7 {
                0 => "received",
                1 => "From",
                2 => "x-a",
                3 => "dkim-signature",
                4 => "X-4",
                5 => "absent",
                _ => "X-299",
            });
        }
        for skip in [None, Some(3), Some(298)] {
            let got = select_headers(&headers, names.iter(), skip);
            let want = reference(&headers, &names, skip);
            assert_eq!(got, want, "skip {skip:?}");
            assert!(skip.is_none_or(|s| !got.iter().any(|h| std::ptr::eq(*h, &headers[s]))));
        }
        // short lists take the scan path and agree too
        let short = ["from", "received", "from", "nothing", "X-4"];
        assert_eq!(
            select_headers(&headers, short.iter(), Some(1)),
            reference(&headers, &short, Some(1))
        );
    }

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
