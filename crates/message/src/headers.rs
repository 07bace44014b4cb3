//! The header fields of one message, in their original order, each with its per-name
//! occurrence index (the index a milter's CHGHEADER names, RFC 5322 §3.6 field order).

use std::collections::HashMap;

use foldhash::fast::RandomState;

use crate::field::{HeaderField, trim_wsp_end};
use crate::name_key::NameKey;

/// Room reserved at the first field.
const FIRST_CAPACITY: usize = 32;

/// The header fields of one message, kept once: original order, raw bytes, and for each
/// field its 1-based occurrence among fields of the same name (case-insensitive, whitespace
/// before the colon ignored, RFC 5322 §1.2.2 and §4.5.2). Adding a field is O(1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    fields: Vec<HeaderField>,
    occurrence: Vec<u32>,
    /// Keyed with a per-process random seed, so an attacker cannot choose names that collide;
    /// the number of names is bounded by the message's header limits anyway.
    counts: HashMap<NameKey, u32, RandomState>,
    bytes: usize,
    scratch: Vec<u8>,
}

impl Headers {
    /// No fields yet.
    pub fn new() -> Self {
        Headers::default()
    }

    /// Appends a field and returns its 1-based occurrence among fields of its name.
    pub fn push(&mut self, field: HeaderField) -> u32 {
        if self.fields.capacity() == 0 {
            // most messages have 10–40 fields: one allocation each, not five growth steps
            self.fields.reserve(FIRST_CAPACITY);
            self.occurrence.reserve(FIRST_CAPACITY);
            self.counts.reserve(FIRST_CAPACITY);
        }
        let occurrence = self.count_one(&field.name);
        self.bytes = self
            .bytes
            .saturating_add(field.name.len())
            .saturating_add(field.value.len())
            .saturating_add(3);
        self.fields.push(field);
        self.occurrence.push(occurrence);
        occurrence
    }

    /// Counts one more field called `name` without storing it (a field past a size limit)
    /// and returns its occurrence index, so later fields of that name keep true indexes.
    pub fn count_one(&mut self, name: &[u8]) -> u32 {
        self.scratch.clear();
        self.scratch
            .extend(trim_wsp_end(name).iter().map(u8::to_ascii_lowercase));
        if let Some(n) = self.counts.get_mut(self.scratch.as_slice()) {
            *n = n.saturating_add(1);
            return *n;
        }
        self.counts.insert(NameKey::new(&self.scratch), 1);
        1
    }

    /// The fields, top to bottom.
    pub fn fields(&self) -> &[HeaderField] {
        &self.fields
    }

    /// Number of fields stored.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// No fields stored.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Bytes of the stored fields as they appear in the message (name, colon, value, CRLF).
    pub fn byte_len(&self) -> usize {
        self.bytes
    }

    /// Every field with its occurrence index, top to bottom.
    pub fn indexed(&self) -> impl Iterator<Item = (&HeaderField, u32)> {
        self.fields.iter().zip(self.occurrence.iter().copied())
    }

    /// The fields called `name` with their occurrence indexes, top to bottom.
    pub fn named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = (&'a HeaderField, u32)> {
        self.indexed().filter(move |(f, _)| f.name_is(name))
    }

    /// How many fields called `name` were seen (stored or only counted).
    pub fn count(&self, name: &str) -> u32 {
        self.counts
            .get(name.to_ascii_lowercase().as_bytes())
            .copied()
            .unwrap_or(0)
    }
}

impl From<Vec<HeaderField>> for Headers {
    fn from(fields: Vec<HeaderField>) -> Self {
        let mut h = Headers::new();
        for f in fields {
            h.push(f);
        }
        h
    }
}

impl<'a> IntoIterator for &'a Headers {
    type Item = &'a HeaderField;
    type IntoIter = std::slice::Iter<'a, HeaderField>;
    fn into_iter(self) -> Self::IntoIter {
        self.fields.iter()
    }
}

impl std::ops::Deref for Headers {
    type Target = [HeaderField];
    fn deref(&self) -> &[HeaderField] {
        &self.fields
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_name_indexes_are_case_insensitive_and_ignore_obsolete_whitespace() {
        let mut h = Headers::new();
        let idx: Vec<u32> = [
            ("Received", " a"),
            ("authentication-results", " x; none"),
            ("Received", " b"),
            ("Authentication-Results ", " y; none"),
        ]
        .into_iter()
        .map(|(n, v)| h.push(HeaderField::new(n, v)))
        .collect();
        assert_eq!(idx, [1, 1, 2, 2]);
        assert_eq!(h.count("AUTHENTICATION-RESULTS"), 2);
        assert_eq!(h.named("authentication-results").count(), 2);
        assert_eq!(h.count_one(b"Received"), 3);
        assert_eq!(h.len(), 4);
        assert_eq!(
            h.byte_len(),
            (8 + 2 + 3) + (22 + 8 + 3) + (8 + 2 + 3) + (23 + 8 + 3)
        );
    }

    #[test]
    fn many_fields_of_one_name_stay_linear() {
        // 100,000 fields: each push is a hash lookup, not a scan of the earlier fields
        let mut h = Headers::new();
        for i in 0..100_000u32 {
            assert_eq!(h.push(HeaderField::new("X", " v")), i + 1);
        }
        assert_eq!(h.count("x"), 100_000);
    }
}
