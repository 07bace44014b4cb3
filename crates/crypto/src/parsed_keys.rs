//! Verification keys of the aws-lc-rs backend, parsed once and kept.
//!
//! Parsing an RSA public key and computing its Montgomery constants costs a few microseconds,
//! as much as a fifth of the verification itself, and a mail stream meets the same few keys
//! over and over (the DNS answers are cached too). The parsed keys are kept by their bytes, at
//! most [`CAPACITY`] per algorithm (the oldest goes first), so a stream of distinct keys costs
//! what it did before and no more memory than the bound.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use aws_lc_rs::signature::{ParsedPublicKey, VerificationAlgorithm};

/// Parsed keys kept per algorithm.
pub(crate) const CAPACITY: usize = 256;

/// Parsed keys for one verification algorithm.
pub(crate) struct ParsedKeys {
    algorithm: &'static dyn VerificationAlgorithm,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Keyed per process at random (foldhash): the keys come from DNS, so from anyone.
    map: HashMap<Box<[u8]>, Arc<ParsedPublicKey>, foldhash::fast::RandomState>,
    order: VecDeque<Box<[u8]>>,
}

impl ParsedKeys {
    /// An empty set for `algorithm`.
    pub(crate) fn new(algorithm: &'static dyn VerificationAlgorithm) -> Self {
        ParsedKeys {
            algorithm,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Verifies `sig` over `data` under `key` (its bytes as the algorithm expects them):
    /// `Some(false)` for a bad signature, `None` for a key the backend refuses (RFC 6376
    /// §6.1.2 step 8: an unusable key is no failed signature).
    pub(crate) fn verify(&self, key: &[u8], data: &[u8], sig: &[u8]) -> Option<bool> {
        self.parsed(key)
            .map(|parsed| parsed.verify_sig(data, sig).is_ok())
    }

    fn parsed(&self, key: &[u8]) -> Option<Arc<ParsedPublicKey>> {
        if let Some(hit) = self.lock().map.get(key) {
            return Some(Arc::clone(hit));
        }
        // parse outside the lock; two threads may parse the same new key once each
        let parsed = Arc::new(ParsedPublicKey::new(self.algorithm, key).ok()?);
        let mut inner = self.lock();
        if !inner.map.contains_key(key) {
            if inner.order.len() >= CAPACITY
                && let Some(oldest) = inner.order.pop_front()
            {
                inner.map.remove(&oldest);
            }
            inner.order.push_back(key.into());
            inner.map.insert(key.into(), Arc::clone(&parsed));
        }
        Some(parsed)
    }

    /// Keys kept now (tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().map.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // a panic while holding the lock leaves a consistent map: keep using it
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{ED25519, Ed25519KeyPair, KeyPair};

    /// A kept key verifies exactly as a fresh one: good signatures pass, altered data and
    /// altered signatures fail, a malformed key fails and is not kept; the bound holds.
    #[test]
    fn kept_keys_verify_like_fresh_ones_and_stay_bounded() {
        let keys = ParsedKeys::new(&ED25519);
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).expect("keygen");
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("key");
        let public = pair.public_key().as_ref().to_vec();
        let sig = pair.sign(b"message").as_ref().to_vec();
        for _ in 0..3 {
            assert_eq!(keys.verify(&public, b"message", &sig), Some(true));
            assert_eq!(keys.verify(&public, b"massage", &sig), Some(false));
            let mut bad = sig.clone();
            bad[0] ^= 1;
            assert_eq!(keys.verify(&public, b"message", &bad), Some(false));
        }
        assert_eq!(keys.len(), 1);
        assert_eq!(keys.verify(&[1, 2, 3], b"message", &sig), None);
        assert_eq!(keys.len(), 1, "a rejected key is not kept");
        for _ in 0..CAPACITY + 10 {
            let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).expect("keygen");
            let other = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("key");
            let s = other.sign(b"m");
            assert_eq!(
                keys.verify(other.public_key().as_ref(), b"m", s.as_ref()),
                Some(true)
            );
        }
        assert_eq!(keys.len(), CAPACITY);
        // the first key was evicted and is parsed again when it returns
        assert_eq!(keys.verify(&public, b"message", &sig), Some(true));
    }
}
