//! The key of the per-name occurrence count (RFC 5322 §1.2.2: field names compare without
//! regard to case), kept without a heap allocation for the names mail actually uses.

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};

/// Longest name kept inline (`Content-Transfer-Encoding` is 25 bytes).
const INLINE: usize = 30;

/// A lowercase field name. It hashes and compares as its bytes, so a map keyed by it is
/// searched with a plain `&[u8]`.
#[derive(Debug, Clone)]
pub(crate) enum NameKey {
    /// A name of at most [`INLINE`] bytes.
    Inline { len: u8, bytes: [u8; INLINE] },
    /// A longer name.
    Heap(Box<[u8]>),
}

impl NameKey {
    /// The key for `name` (already lowercased by the caller).
    pub(crate) fn new(name: &[u8]) -> Self {
        let mut bytes = [0u8; INLINE];
        match (bytes.get_mut(..name.len()), u8::try_from(name.len())) {
            (Some(room), Ok(len)) => {
                room.copy_from_slice(name);
                NameKey::Inline { len, bytes }
            }
            _ => NameKey::Heap(name.into()),
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match self {
            NameKey::Inline { len, bytes } => bytes.get(..usize::from(*len)).unwrap_or(bytes),
            NameKey::Heap(b) => b,
        }
    }
}

impl Borrow<[u8]> for NameKey {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl Hash for NameKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // the same as hashing the `[u8]` it borrows as, as `Borrow` requires
        self.as_bytes().hash(state);
    }
}

impl PartialEq for NameKey {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for NameKey {}

#[cfg(test)]
mod tests {
    use super::NameKey;
    use std::collections::HashMap;

    #[test]
    fn short_and_long_names_are_found_by_their_bytes() {
        let long = b"x-a-very-long-vendor-header-name-beyond-the-inline-room".as_slice();
        let mut map = HashMap::new();
        for name in [b"from".as_slice(), b"", long, &[b'a'; 30], &[b'a'; 31]] {
            let key = NameKey::new(name);
            assert_eq!(
                matches!(key, NameKey::Inline { .. }),
                name.len() <= 30,
                "{name:?}"
            );
            map.insert(key, name.len());
        }
        assert_eq!(map.len(), 5);
        assert_eq!(map.get(b"from".as_slice()), Some(&4));
        assert_eq!(map.get(long), Some(&long.len()));
        assert_eq!(map.get([b'a'; 31].as_slice()), Some(&31));
        assert_eq!(map.get(b"fro".as_slice()), None);
    }
}
