//! `InFlight` with a counting lookup (a test double): identical lookups in flight are merged,
//! their answer (or failure) is shared, an asker going away neither fails nor strands the
//! others, and the bounds hold. Futures are polled by hand, so nothing depends on timing.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};

use dns::DnsError;
use dns::inflight::{Abandoned, InFlight};
use tokio::sync::Semaphore;

type Out = Result<u32, DnsError>;
type Boxed<'a> = Pin<Box<dyn Future<Output = Result<Out, Abandoned>> + Send + 'a>>;

/// A lookup that counts how often it is started and answers `out` once the gate opens.
#[derive(Clone)]
struct Upstream {
    started: Arc<AtomicUsize>,
    gate: Arc<Semaphore>,
    dropped: Arc<AtomicBool>,
}

struct DropFlag(Arc<AtomicBool>);
impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

impl Upstream {
    fn new() -> Self {
        Upstream {
            started: Arc::default(),
            gate: Arc::new(Semaphore::new(0)),
            dropped: Arc::default(),
        }
    }

    fn lookup(
        &self,
        out: Out,
    ) -> impl FnOnce() -> Pin<Box<dyn Future<Output = Out> + Send>> + use<> {
        let this = self.clone();
        move || {
            this.started.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                let _flag = DropFlag(this.dropped);
                let _permit = this.gate.acquire().await;
                out
            })
        }
    }

    fn open(&self) {
        self.gate.add_permits(Semaphore::MAX_PERMITS / 2);
    }

    fn started(&self) -> usize {
        self.started.load(Ordering::SeqCst)
    }
}

fn poll_once(f: &mut Boxed<'_>) -> Poll<Result<Out, Abandoned>> {
    f.as_mut().poll(&mut Context::from_waker(Waker::noop()))
}

fn ask<'a>(
    flights: &'a InFlight<&'static str, Out>,
    key: &'static str,
    up: &Upstream,
    out: Out,
) -> Boxed<'a> {
    Box::pin(flights.run(key, up.lookup(out)))
}

#[tokio::test]
async fn a_burst_of_identical_lookups_asks_once() {
    let flights = InFlight::new(16, 1000);
    let up = Upstream::new();
    let mut askers: Vec<Boxed<'_>> = (0..500)
        .map(|_| ask(&flights, "example.com", &up, Ok(7)))
        .collect();
    for a in &mut askers {
        assert!(poll_once(a).is_pending());
    }
    assert_eq!(up.started(), 1, "one lookup for 500 askers");
    assert_eq!(flights.len(), 1);
    up.open();
    for a in dns::join_all(askers).await {
        assert_eq!(a, Ok(Ok(7)));
    }
    assert!(flights.is_empty(), "a finished lookup leaves the table");
    // the next asker starts a fresh lookup (the answer's caching is the cache's business)
    assert_eq!(
        flights.run("example.com", up.lookup(Ok(8))).await,
        Ok(Ok(8))
    );
    assert_eq!(up.started(), 2);
}

#[tokio::test]
async fn distinct_keys_are_not_merged() {
    let flights = InFlight::new(16, 1000);
    let up = Upstream::new();
    let mut askers = vec![
        ask(&flights, "a.example", &up, Ok(1)),
        ask(&flights, "b.example", &up, Ok(2)),
        ask(&flights, "a.example", &up, Ok(3)),
    ];
    for a in &mut askers {
        assert!(poll_once(a).is_pending());
    }
    assert_eq!(up.started(), 2);
    up.open();
    let got = dns::join_all(askers).await;
    assert_eq!(
        got,
        [Ok(Ok(1)), Ok(Ok(2)), Ok(Ok(1))],
        "the third shares the first"
    );
}

/// A timeout is the answer of that one question, for each of its askers; it is not kept.
#[tokio::test]
async fn a_failure_is_shared_by_the_waiters_and_not_kept() {
    let flights = InFlight::new(16, 1000);
    let up = Upstream::new();
    let mut askers: Vec<Boxed<'_>> = (0..10)
        .map(|_| ask(&flights, "slow.example", &up, Err(DnsError::Timeout)))
        .collect();
    for a in &mut askers {
        assert!(poll_once(a).is_pending());
    }
    up.open();
    for a in dns::join_all(askers).await {
        assert_eq!(a, Ok(Err(DnsError::Timeout)));
    }
    assert_eq!(
        flights.run("slow.example", up.lookup(Ok(1))).await,
        Ok(Ok(1))
    );
    assert_eq!(up.started(), 2);
}

/// The first asker's connection drops mid-lookup: the others still get the answer of the same
/// question; when every asker has gone, the lookup goes too.
#[tokio::test]
async fn cancelling_the_first_asker_neither_fails_nor_strands_the_others() {
    let flights = InFlight::new(16, 1000);
    let up = Upstream::new();
    let mut first = ask(&flights, "example.com", &up, Ok(1));
    let mut second = ask(&flights, "example.com", &up, Ok(2));
    let mut third = ask(&flights, "example.com", &up, Ok(3));
    assert!(poll_once(&mut first).is_pending());
    assert!(poll_once(&mut second).is_pending());
    assert!(poll_once(&mut third).is_pending());
    drop(first);
    assert!(!up.dropped.load(Ordering::SeqCst), "still wanted");
    up.open();
    assert_eq!(second.await, Ok(Ok(1)));
    assert_eq!(third.await, Ok(Ok(1)));
    assert_eq!(up.started(), 1);

    // every asker gone before the answer: the lookup is dropped and forgotten
    let up = Upstream::new();
    let mut a = ask(&flights, "gone.example", &up, Ok(1));
    let mut b = ask(&flights, "gone.example", &up, Ok(1));
    assert!(poll_once(&mut a).is_pending());
    assert!(poll_once(&mut b).is_pending());
    drop(a);
    drop(b);
    assert!(up.dropped.load(Ordering::SeqCst), "nobody waits for it");
    assert!(flights.is_empty());
    up.open();
    assert_eq!(
        flights.run("gone.example", up.lookup(Ok(9))).await,
        Ok(Ok(9))
    );
    assert_eq!(up.started(), 2);
}

/// Bounded: past `max_waiters` askers on a key, or `max_keys` keys, an asker asks alone.
#[tokio::test]
async fn the_bounds_hold() {
    let flights = InFlight::new(2, 3);
    let up = Upstream::new();
    let mut askers: Vec<Boxed<'_>> = (0..5)
        .map(|i| ask(&flights, "example.com", &up, Ok(i)))
        .collect();
    askers.push(ask(&flights, "b.example", &up, Ok(10)));
    askers.push(ask(&flights, "c.example", &up, Ok(20)));
    for a in &mut askers {
        assert!(poll_once(a).is_pending());
    }
    // example.com: one shared by 3 askers, 2 alone; b.example merged; c.example over max_keys
    assert_eq!(up.started(), 5);
    assert_eq!(flights.len(), 2);
    up.open();
    let got = dns::join_all(askers).await;
    assert_eq!(
        got,
        [
            Ok(Ok(0)),
            Ok(Ok(0)),
            Ok(Ok(0)),
            Ok(Ok(3)),
            Ok(Ok(4)),
            Ok(Ok(10)),
            Ok(Ok(20))
        ]
    );
    assert!(flights.is_empty());
}

/// A lookup that panics in the asker driving it leaves the others with a clear answer
/// (`Abandoned`, which the resolver reports as a temporary failure), not a hang.
#[tokio::test]
async fn a_panicking_lookup_abandons_the_others() {
    let flights: InFlight<&'static str, Out> = InFlight::new(16, 1000);
    let gate = Arc::new(Semaphore::new(0));
    let g = Arc::clone(&gate);
    let mut first: Boxed<'_> = Box::pin(flights.run("example.com", move || async move {
        let _permit = g.acquire().await;
        panic!("lookup panicked");
    }));
    let mut second: Boxed<'_> =
        Box::pin(flights.run("example.com", || async { Ok::<u32, DnsError>(1) }));
    assert!(poll_once(&mut first).is_pending());
    assert!(poll_once(&mut second).is_pending());
    gate.add_permits(1);
    let panicked = std::panic::catch_unwind(AssertUnwindSafe(|| poll_once(&mut first)));
    assert!(panicked.is_err());
    drop(first);
    assert_eq!(second.await, Err(Abandoned));
    assert!(flights.is_empty());
}
