//! The canonical body hashes one message needs (RFC 6376 §3.7), computed in a single pass as
//! the body streams in and shared by everything that needs one: DKIM verification, our DKIM
//! signatures and ARC (RFC 8617 §4.1.2 uses the DKIM body hash). A body is hashed once per
//! distinct canonicalization, hash algorithm and `l=` limit, however many signatures ask.

use crypto::{CryptoProvider, HashAlg};

use crate::canon::{BodyHash, BodyHasher};
use crate::signature::Canonicalization;

/// Which canonical body hash: canonicalization, digest, and the `l=` length limit
/// (RFC 6376 §3.4.3–§3.4.5, §3.5 `l=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BodyHashKey {
    /// Body canonicalization (RFC 6376 §3.4).
    pub canon: Canonicalization,
    /// Digest algorithm.
    pub hash: HashAlg,
    /// Hash at most this many canonical bytes (`l=`), or all of them.
    pub limit: Option<u64>,
}

/// A handle to one requested body hash (RFC 6376 §3.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BodyHashId(usize);

struct Slot {
    key: BodyHashKey,
    hasher: BodyHasher,
    /// Requested after body data had already gone by: it cannot be computed.
    late: bool,
}

/// The body hashes of one message being computed (RFC 6376 §3.7); see the module docs.
pub struct BodyHashes {
    provider: &'static dyn CryptoProvider,
    slots: Vec<Slot>,
    started: bool,
}

impl std::fmt::Debug for BodyHashes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyHashes")
            .field(
                "keys",
                &self.slots.iter().map(|s| s.key).collect::<Vec<_>>(),
            )
            .field("started", &self.started)
            .finish()
    }
}

impl Default for BodyHashes {
    fn default() -> Self {
        BodyHashes::new(crypto::default_provider())
    }
}

impl BodyHashes {
    /// No hash requested yet; digests come from `provider`.
    pub fn new(provider: &'static dyn CryptoProvider) -> Self {
        BodyHashes {
            provider,
            slots: Vec::new(),
            started: false,
        }
    }

    /// Asks for the hash `key`; the same key asked twice shares one hasher. Ask before the
    /// first body chunk: a hash first asked for later is reported as unavailable.
    pub fn request(&mut self, key: BodyHashKey) -> BodyHashId {
        if let Some(i) = self.slots.iter().position(|s| s.key == key) {
            return BodyHashId(i);
        }
        self.slots.push(Slot {
            key,
            hasher: BodyHasher::with_provider(self.provider, key.canon, key.hash, key.limit),
            late: self.started,
        });
        BodyHashId(self.slots.len() - 1)
    }

    /// Feeds the next body chunk (CRLF line ends, split anywhere) to every hasher.
    pub fn update(&mut self, chunk: &[u8]) {
        if chunk.is_empty() {
            return;
        }
        self.started = true;
        for s in &mut self.slots {
            s.hasher.update(chunk);
        }
    }

    /// Number of distinct hashes being computed (each body byte is hashed this many times).
    pub fn hasher_count(&self) -> usize {
        self.slots.len()
    }

    /// Ends the body and returns every hash (RFC 6376 §3.4.3/§3.4.4 end-of-body rules).
    pub fn finish(self) -> FinishedBodyHashes {
        FinishedBodyHashes {
            hashes: self
                .slots
                .into_iter()
                .map(|s| (s.key, (!s.late).then(|| s.hasher.finish())))
                .collect(),
        }
    }
}

/// The finished body hashes of one message (RFC 6376 §3.7).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FinishedBodyHashes {
    hashes: Vec<(BodyHashKey, Option<BodyHash>)>,
}

impl FinishedBodyHashes {
    /// The hash for `id`, or `None` if it could not be computed (asked for too late).
    pub fn get(&self, id: BodyHashId) -> Option<&BodyHash> {
        self.hashes.get(id.0).and_then(|(_, h)| h.as_ref())
    }

    /// The hash for `key`, if it was requested and computed.
    pub fn by_key(&self, key: &BodyHashKey) -> Option<&BodyHash> {
        self.hashes
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, h)| h.as_ref())
    }

    /// Number of distinct hashes computed.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// No hash was requested.
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(canon: Canonicalization, limit: Option<u64>) -> BodyHashKey {
        BodyHashKey {
            canon,
            hash: HashAlg::Sha256,
            limit,
        }
    }

    #[test]
    fn one_hasher_per_distinct_key() {
        let mut h = BodyHashes::default();
        let a = h.request(key(Canonicalization::Relaxed, None));
        let b = h.request(key(Canonicalization::Relaxed, None));
        let c = h.request(key(Canonicalization::Simple, None));
        let d = h.request(key(Canonicalization::Relaxed, Some(3)));
        assert_eq!(a, b);
        assert_eq!(h.hasher_count(), 3);
        h.update(b"hello  world\r\n");
        let done = h.finish();
        assert_eq!(
            done.get(a).unwrap().digest,
            crypto::sha256(b"hello world\r\n").to_vec()
        );
        assert_eq!(
            done.get(c).unwrap().digest,
            crypto::sha256(b"hello  world\r\n").to_vec()
        );
        assert_eq!(done.get(d).unwrap().digest, crypto::sha256(b"hel").to_vec());
        assert_eq!(done.len(), 3);
    }

    #[test]
    fn a_hash_asked_for_after_the_body_started_is_unavailable() {
        let mut h = BodyHashes::default();
        h.update(b"x\r\n");
        let late = h.request(key(Canonicalization::Simple, None));
        assert_eq!(h.finish().get(late), None);
    }
}
