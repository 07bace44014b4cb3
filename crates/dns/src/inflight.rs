//! Merging of identical lookups in flight: one question per key on the wire, however many
//! askers want its answer at once (what unbound and rspamd do; RFC 5452 §5 warns against
//! sending the same question many times).
//!
//! A burst of messages from one sender asks for the same SPF, DKIM key, DMARC and PTR names
//! before the first answer is cached. [`InFlight::run`] lets the first asker start the lookup
//! and every later asker for the same key wait for that lookup's answer, which all of them get
//! (success, NXDOMAIN or a timeout alike: what the question got, not a cached failure).
//!
//! The lookup is a shared future that whichever asker is polled drives; its wake-ups reach
//! every asker. So when an asker goes away mid-lookup (its connection dropped) the others carry
//! on with the same question; when the last one goes, the lookup is dropped with it. No runtime
//! is needed (std wakers only). Bounded: at most `max_keys` lookups merged at once and
//! `max_waiters` askers per lookup; beyond either bound an asker runs its own lookup, unmerged.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError};
use std::task::{Context, Poll, Wake, Waker};

/// The shared lookup could not finish (the asker driving it panicked): a temporary failure
/// (RFC 7208 §2.6.6 temperror).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Abandoned;

type SharedFuture<V> = Pin<Box<dyn Future<Output = V> + Send>>;

/// Identical lookups in flight, by key: one question each (RFC 5452 §5; see the module docs).
pub struct InFlight<K, V> {
    max_keys: usize,
    max_waiters: usize,
    /// Keyed per process at random (foldhash): names come from mail, so from anyone.
    flights: Mutex<HashMap<K, Arc<Flight<V>>, foldhash::fast::RandomState>>,
    next_id: AtomicU64,
}

impl<K, V> std::fmt::Debug for InFlight<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InFlight")
            .field("max_keys", &self.max_keys)
            .field("max_waiters", &self.max_waiters)
            .finish_non_exhaustive()
    }
}

/// One lookup and its askers.
struct Flight<V> {
    /// The lookup, until it finishes; locked by the asker polling it.
    future: Mutex<Option<SharedFuture<V>>>,
    /// Its answer, once there (set before `future` is cleared).
    result: Mutex<Option<V>>,
    /// The askers' wakers; the lookup is polled with a waker that wakes them all.
    wakers: Arc<Wakers>,
    /// Askers waiting (changed under the `flights` lock).
    askers: AtomicUsize,
}

/// Wakers by asker id; waking this wakes every asker registered.
#[derive(Default)]
struct Wakers(Mutex<HashMap<u64, Waker>>);

impl Wakers {
    fn register(&self, id: u64, waker: &Waker) {
        let mut map = lock(&self.0);
        match map.get_mut(&id) {
            Some(w) if w.will_wake(waker) => {}
            Some(w) => w.clone_from(waker),
            None => {
                map.insert(id, waker.clone());
            }
        }
    }

    fn remove(&self, id: u64) {
        lock(&self.0).remove(&id);
    }

    fn wake_all(&self) {
        let wakers: Vec<Waker> = lock(&self.0).drain().map(|(_, w)| w).collect();
        for w in wakers {
            w.wake();
        }
    }
}

impl Wake for Wakers {
    fn wake(self: Arc<Self>) {
        self.wake_all();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.wake_all();
    }
}

/// Locks a mutex whose data a panic cannot leave half-changed (maps and options set in one
/// step), so a poisoned lock is used as it is.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<K, V> InFlight<K, V>
where
    K: Hash + Eq + Clone + Unpin,
    V: Clone,
{
    /// At most `max_keys` lookups merged at once, each with at most `max_waiters` askers.
    pub fn new(max_keys: usize, max_waiters: usize) -> Self {
        Self {
            max_keys,
            max_waiters,
            flights: Mutex::new(HashMap::default()),
            next_id: AtomicU64::new(0),
        }
    }

    /// Lookups in flight now (for tests and metrics).
    pub fn len(&self) -> usize {
        lock(&self.flights).len()
    }

    /// True when no lookup is in flight.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The answer of the lookup for `key`: the one in flight if there is one, else the future
    /// `start` makes, which later askers for `key` then share until it finishes.
    pub async fn run<F>(&self, key: K, start: impl FnOnce() -> F) -> Result<V, Abandoned>
    where
        F: Future<Output = V> + Send + 'static,
    {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut start = Some(start);
        let flight = {
            let mut flights = lock(&self.flights);
            match flights.get(&key) {
                Some(f) if f.askers.load(Ordering::Relaxed) < self.max_waiters => {
                    f.askers.fetch_add(1, Ordering::Relaxed);
                    Some(Arc::clone(f))
                }
                // over the bound of askers for this key: a lookup of its own
                Some(_) => None,
                None if flights.len() < self.max_keys && self.max_waiters > 0 => {
                    start.take().map(|start| {
                        let flight = Arc::new(Flight {
                            future: Mutex::new(Some(Box::pin(start()) as SharedFuture<V>)),
                            result: Mutex::new(None),
                            wakers: Arc::default(),
                            askers: AtomicUsize::new(1),
                        });
                        flights.insert(key.clone(), Arc::clone(&flight));
                        flight
                    })
                }
                // over the bound of keys in flight
                None => None,
            }
        };
        match (flight, start) {
            (Some(flight), _) => {
                Join {
                    owner: self,
                    key,
                    flight,
                    id,
                    finished: false,
                }
                .await
            }
            (None, Some(start)) => Ok(start().await),
            (None, None) => Err(Abandoned),
        }
    }

    /// Removes `flight` from the map if it is still the one there for `key`.
    fn forget(&self, key: &K, flight: &Arc<Flight<V>>) {
        let mut flights = lock(&self.flights);
        if flights.get(key).is_some_and(|f| Arc::ptr_eq(f, flight)) {
            flights.remove(key);
        }
    }
}

/// One asker waiting for a flight.
struct Join<'a, K, V>
where
    K: Hash + Eq + Clone + Unpin,
    V: Clone,
{
    owner: &'a InFlight<K, V>,
    key: K,
    flight: Arc<Flight<V>>,
    id: u64,
    finished: bool,
}

impl<K, V> Future for Join<'_, K, V>
where
    K: Hash + Eq + Clone + Unpin,
    V: Clone,
{
    type Output = Result<V, Abandoned>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let flight = Arc::clone(&this.flight);
        if let Some(v) = lock(&flight.result).clone() {
            return this.finish(Ok(v));
        }
        // registered before trying the lock: whoever holds it wakes us when it finishes
        flight.wakers.register(this.id, cx.waker());
        let mut slot = match flight.future.try_lock() {
            Ok(slot) => slot,
            Err(TryLockError::WouldBlock) => return Poll::Pending,
            Err(TryLockError::Poisoned(_)) => {
                // the asker that was polling the lookup panicked inside it
                this.owner.forget(&this.key, &flight);
                flight.wakers.wake_all();
                return this.finish(Err(Abandoned));
            }
        };
        if let Some(v) = lock(&flight.result).clone() {
            drop(slot);
            return this.finish(Ok(v));
        }
        let Some(future) = slot.as_mut() else {
            return this.finish(Err(Abandoned));
        };
        let waker = Waker::from(Arc::clone(&flight.wakers));
        match future.as_mut().poll(&mut Context::from_waker(&waker)) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(v) => {
                *lock(&flight.result) = Some(v.clone());
                *slot = None;
                drop(slot);
                this.owner.forget(&this.key, &flight);
                flight.wakers.wake_all();
                this.finish(Ok(v))
            }
        }
    }
}

impl<K, V> Join<'_, K, V>
where
    K: Hash + Eq + Clone + Unpin,
    V: Clone,
{
    fn finish(&mut self, out: Result<V, Abandoned>) -> Poll<Result<V, Abandoned>> {
        self.finished = true;
        self.flight.wakers.remove(self.id);
        Poll::Ready(out)
    }
}

impl<K, V> Drop for Join<'_, K, V>
where
    K: Hash + Eq + Clone + Unpin,
    V: Clone,
{
    /// An asker gone before the answer: the last one takes the lookup with it; otherwise the
    /// others are woken, so that one of them drives the lookup on.
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        self.flight.wakers.remove(self.id);
        let last = {
            let mut flights = lock(&self.owner.flights);
            let last = self.flight.askers.fetch_sub(1, Ordering::Relaxed) <= 1;
            if last
                && flights
                    .get(&self.key)
                    .is_some_and(|f| Arc::ptr_eq(f, &self.flight))
            {
                flights.remove(&self.key);
            }
            last
        };
        if !last {
            self.flight.wakers.wake_all();
        }
    }
}
