//! A small TTL cache with a hard size bound, shared between threads.
//!
//! Entries expire at the instant given on insert (the record TTL, RFC 1035 §3.2.1, or the
//! negative-caching TTL, RFC 2308 §5). When full, the oldest insertion goes first (FIFO), after
//! expired entries. The bounds are exact: the cache never holds more than `capacity` entries,
//! nor entries whose sizes (as given to [`TtlCache::insert_sized`]) add up to more than
//! `max_bytes`.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::sync::Mutex;
use std::time::Instant;

/// A bounded map whose entries expire (see the module docs).
#[derive(Debug)]
pub struct TtlCache<K, V> {
    capacity: usize,
    max_bytes: usize,
    inner: Mutex<Inner<K, V>>,
}

#[derive(Debug)]
struct Inner<K, V> {
    /// Keyed per process at random (foldhash): names come from mail, so from anyone.
    map: HashMap<K, Slot<V>, foldhash::fast::RandomState>,
    /// Insertion order; entries whose sequence number no longer matches the map are stale.
    order: VecDeque<(K, u64)>,
    next_seq: u64,
    /// Sum of the sizes of the entries in `map`.
    bytes: usize,
}

#[derive(Debug)]
struct Slot<V> {
    value: V,
    expires: Instant,
    seq: u64,
    size: usize,
}

impl<K: Hash + Eq + Clone, V: Clone> TtlCache<K, V> {
    /// A cache for at most `capacity` entries (0 disables caching), of any size.
    pub fn new(capacity: usize) -> Self {
        Self::with_max_bytes(capacity, usize::MAX)
    }

    /// A cache for at most `capacity` entries whose sizes add up to at most `max_bytes`.
    pub fn with_max_bytes(capacity: usize, max_bytes: usize) -> Self {
        Self {
            capacity,
            max_bytes,
            inner: Mutex::new(Inner {
                map: HashMap::default(),
                order: VecDeque::new(),
                next_seq: 0,
                bytes: 0,
            }),
        }
    }

    /// The value for `key` if present and not expired at `now`.
    pub fn get(&self, key: &K, now: Instant) -> Option<V> {
        let mut inner = self.inner.lock().ok()?;
        match inner.map.get(key) {
            Some(slot) if slot.expires > now => Some(slot.value.clone()),
            Some(_) => {
                if let Some(old) = inner.map.remove(key) {
                    inner.bytes = inner.bytes.saturating_sub(old.size);
                }
                None
            }
            None => None,
        }
    }

    /// Stores `value` until `expires` with size 0 (see [`insert_sized`](Self::insert_sized)).
    pub fn insert(&self, key: K, value: V, expires: Instant, now: Instant) {
        self.insert_sized(key, value, 0, expires, now);
    }

    /// Stores `value`, `size` bytes, until `expires`, evicting expired entries, then the
    /// oldest, to make room. A value larger than `max_bytes` is not stored.
    pub fn insert_sized(&self, key: K, value: V, size: usize, expires: Instant, now: Instant) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        // the new value replaces the old one even when it is not kept itself: a newer answer
        // with TTL 0, or one over the budget, must not leave the older one to be served
        if let Some(old) = inner.map.remove(&key) {
            inner.bytes = inner.bytes.saturating_sub(old.size);
        }
        if self.capacity == 0 || expires <= now || size > self.max_bytes {
            return;
        }
        let full = |inner: &Inner<K, V>| {
            inner.map.len() >= self.capacity || inner.bytes.saturating_add(size) > self.max_bytes
        };
        if full(&inner) {
            let Inner { map, bytes, .. } = &mut *inner;
            map.retain(|_, slot| {
                let keep = slot.expires > now;
                if !keep {
                    *bytes = bytes.saturating_sub(slot.size);
                }
                keep
            });
            while full(&inner) {
                let Some((old, seq)) = inner.order.pop_front() else {
                    break;
                };
                if inner.map.get(&old).is_some_and(|s| s.seq == seq)
                    && let Some(slot) = inner.map.remove(&old)
                {
                    inner.bytes = inner.bytes.saturating_sub(slot.size);
                }
            }
        }
        let seq = inner.next_seq;
        inner.next_seq = seq.wrapping_add(1);
        inner.order.push_back((key.clone(), seq));
        inner.bytes = inner.bytes.saturating_add(size);
        inner.map.insert(
            key,
            Slot {
                value,
                expires,
                seq,
                size,
            },
        );
        // Drop stale order entries (each holds a copy of its key) once they outnumber the
        // live ones: amortized O(1), and at most one stale entry per live one (plus 16).
        if inner.order.len() > inner.map.len().saturating_mul(2).saturating_add(16) {
            let Inner { map, order, .. } = &mut *inner;
            order.retain(|(k, s)| map.get(k).is_some_and(|slot| slot.seq == *s));
        }
    }

    /// Number of entries held (expired ones included until they are touched or evicted).
    pub fn len(&self) -> usize {
        self.inner.lock().map(|i| i.map.len()).unwrap_or(0)
    }

    /// Sum of the sizes of the entries held.
    pub fn bytes(&self) -> usize {
        self.inner.lock().map(|i| i.bytes).unwrap_or(0)
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes everything.
    pub fn clear(&self) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.map.clear();
            inner.order.clear();
            inner.bytes = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn expires_and_bounds() {
        let now = Instant::now();
        let later = now + Duration::from_secs(10);
        let c = TtlCache::new(3);
        c.insert("a", 1, later, now);
        c.insert("b", 2, now + Duration::from_secs(1), now);
        c.insert("c", 3, later, now);
        assert_eq!(c.get(&"a", now), Some(1));
        assert_eq!(c.get(&"b", now + Duration::from_secs(2)), None, "expired");
        c.insert("d", 4, later, now);
        c.insert("e", 5, later, now);
        assert!(c.len() <= 3);
        assert_eq!(c.get(&"a", now), None, "oldest evicted first");
        assert_eq!(c.get(&"e", now), Some(5));
        for i in 0..1000 {
            c.insert("x", i, later, now);
        }
        assert_eq!(c.get(&"x", now), Some(999));
        assert!(c.len() <= 3);
        c.clear();
        assert!(c.is_empty());
    }

    #[test]
    fn zero_capacity_and_zero_ttl_store_nothing() {
        let now = Instant::now();
        let c = TtlCache::new(0);
        c.insert(1, 1, now + Duration::from_secs(5), now);
        assert!(c.is_empty());
        let c = TtlCache::new(5);
        c.insert(1, 1, now, now);
        assert!(c.is_empty());
    }

    /// A newer value that is not kept (TTL 0, or over the byte budget) still replaces the
    /// older one: the older answer is not served after it.
    #[test]
    fn an_unkept_value_still_replaces_the_old_one() {
        let now = Instant::now();
        let later = now + Duration::from_secs(10);
        let c = TtlCache::with_max_bytes(10, 1000);
        c.insert_sized("k", 1, 10, later, now);
        c.insert_sized("k", 2, 10, now, now);
        assert_eq!(c.get(&"k", now), None, "TTL 0 answer replaced it");
        c.insert_sized("k", 3, 10, later, now);
        c.insert_sized("k", 4, 5000, later, now);
        assert_eq!(c.get(&"k", now), None, "oversized answer replaced it");
        assert_eq!(c.bytes(), 0);
    }

    /// Entries that expire and are dropped on lookup leave their place in the order queue;
    /// those stale places (each holding a copy of its key) stay few next to the live entries,
    /// not up to twice the capacity.
    #[test]
    fn stale_order_entries_stay_few() {
        let now = Instant::now();
        let c = TtlCache::new(10_000);
        for i in 0..1000 {
            c.insert(i, i, now + Duration::from_secs(1), now);
        }
        let later = now + Duration::from_secs(2);
        for i in 0..1000 {
            assert_eq!(c.get(&i, later), None);
        }
        for i in 1000..1010 {
            c.insert(i, i, later + Duration::from_secs(1), later);
        }
        let inner = c.inner.lock().unwrap();
        assert_eq!(inner.map.len(), 10);
        assert!(
            inner.order.len() <= 2 * 10 + 16,
            "{} order entries",
            inner.order.len()
        );
    }

    /// Entries are bounded in bytes as well as in number: a few huge answers (TXT over TCP
    /// reaches 64 KiB) cannot make the cache hold `capacity` times that.
    #[test]
    fn bounded_in_bytes() {
        let now = Instant::now();
        let later = now + Duration::from_secs(10);
        let c = TtlCache::with_max_bytes(100, 1000);
        for i in 0..10 {
            c.insert_sized(i, i, 300, later, now);
            assert!(c.bytes() <= 1000, "{} bytes held", c.bytes());
        }
        assert_eq!(c.len(), 3);
        assert_eq!(c.get(&9, now), Some(9), "newest kept");
        assert_eq!(c.get(&0, now), None, "oldest evicted first");
        // an entry over the whole budget is not stored, and evicts nothing
        c.insert_sized(99, 99, 1001, later, now);
        assert_eq!(c.get(&99, now), None);
        assert_eq!(c.len(), 3);
        // replacing a key releases its old size
        c.insert_sized(9, 9, 100, later, now);
        assert_eq!(c.bytes(), 700);
        // expired entries release theirs when touched
        c.insert_sized(50, 50, 100, now + Duration::from_secs(1), now);
        assert_eq!(c.get(&50, now + Duration::from_secs(2)), None);
        assert_eq!(c.bytes(), 700);
        c.clear();
        assert_eq!(c.bytes(), 0);
    }
}
