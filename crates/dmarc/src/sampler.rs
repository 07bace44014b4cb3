//! The random source for `pct` sampling (RFC 7489 §6.6.4).

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

/// A source of uniform numbers in `0..100` for `pct` sampling (RFC 7489 §6.6.4).
pub trait Sampler: Send + Sync + fmt::Debug {
    /// A number in `0..100`; the policy applies when it is below `pct`.
    fn roll(&self) -> u8;
}

/// Always rolls the same number (tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedSampler(pub u8);

impl Sampler for FixedSampler {
    fn roll(&self) -> u8 {
        self.0 % 100
    }
}

/// A std-only pseudo-random sampler: SipHash with a random key over a counter.
#[derive(Debug, Default)]
pub struct RandomSampler {
    state: RandomState,
    counter: AtomicU64,
}

impl RandomSampler {
    /// A sampler with a fresh random key.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Sampler for RandomSampler {
    fn roll(&self) -> u8 {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut h = self.state.build_hasher();
        h.write_u64(n);
        // the remainder is below 100, so it fits in u8
        u8::try_from(h.finish() % 100).unwrap_or(0)
    }
}
