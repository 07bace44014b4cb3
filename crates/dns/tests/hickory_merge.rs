//! The caching resolver merges identical questions in flight: a burst of messages from one
//! sender that arrives before the first answer is cached sends each question once, against a
//! loopback nameserver that records what it is asked. The lookups are polled once each by hand
//! before the runtime can deliver any answer, so all of them are in flight together.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Waker};
use std::time::Duration;

use dns::hickory::{HickoryConfig, HickoryResolver};
use dns::stats::QueryStats;
use dns::{DnsError, Resolver};
use test_support::BlackHole;
use test_support::dns_server::{Zone, qtype};

type Lookup<'a, T> = Pin<Box<dyn Future<Output = Result<T, DnsError>> + Send + 'a>>;

fn resolver(addr: std::net::SocketAddr, timeout: Duration) -> HickoryResolver {
    HickoryResolver::new(&HickoryConfig {
        nameservers: vec![addr],
        timeout,
        attempts: 1,
        ..HickoryConfig::default()
    })
    .unwrap()
}

/// Polls each lookup once (they all start before any answer can arrive).
fn start_all<T>(lookups: &mut [Lookup<'_, T>]) {
    let mut cx = Context::from_waker(Waker::noop());
    for l in lookups.iter_mut() {
        assert!(l.as_mut().poll(&mut cx).is_pending());
    }
}

#[tokio::test]
async fn a_burst_for_one_domain_asks_each_question_once() {
    let server = Zone::new()
        .txt("burst.example", "v=spf1 -all")
        .txt("_dmarc.burst.example", "v=DMARC1; p=reject")
        .serve()
        .unwrap();
    let r = resolver(server.addr(), Duration::from_secs(5));
    let mut spf: Vec<Lookup<'_, Vec<Vec<u8>>>> = (0..200).map(|_| r.txt("burst.example")).collect();
    let mut dmarc: Vec<Lookup<'_, Vec<Vec<u8>>>> =
        (0..200).map(|_| r.txt("_DMARC.Burst.Example.")).collect();
    start_all(&mut spf);
    start_all(&mut dmarc);
    for answer in dns::join_all(spf).await {
        assert_eq!(answer.unwrap(), [b"v=spf1 -all".to_vec()]);
    }
    for answer in dns::join_all(dmarc).await {
        assert_eq!(answer.unwrap(), [b"v=DMARC1; p=reject".to_vec()]);
    }
    let asked = server.questions();
    let count = |name: &str| {
        asked
            .iter()
            .filter(|q| **q == (qtype::TXT, name.into()))
            .count()
    };
    assert_eq!(count("burst.example"), 1, "questions sent: {asked:?}");
    assert_eq!(count("_dmarc.burst.example"), 1);
    assert_eq!(r.stats().snapshot().queries, 2);
}

/// A timeout is shared by the askers of that one question and not cached: the next lookup
/// asks again.
#[tokio::test]
async fn a_timeout_is_shared_once_and_not_cached() {
    let hole = BlackHole::bind().unwrap();
    let stats = Arc::new(QueryStats::default());
    let r = resolver(hole.addr(), Duration::from_millis(200)).with_stats(Arc::clone(&stats));
    let mut lookups: Vec<Lookup<'_, Vec<Vec<u8>>>> =
        (0..50).map(|_| r.txt("slow.example")).collect();
    start_all(&mut lookups);
    for answer in dns::join_all(lookups).await {
        assert_eq!(answer, Err(DnsError::Timeout));
    }
    let counts = stats.snapshot();
    assert_eq!((counts.queries, counts.timeouts), (1, 1));
    assert_eq!(r.txt("slow.example").await, Err(DnsError::Timeout));
    assert_eq!(stats.snapshot().queries, 2, "the failure was not kept");
}

/// The first asker's connection drops while its question is out: the others get the answer
/// of that same question.
#[tokio::test]
async fn the_first_asker_going_away_leaves_the_others_their_answer() {
    let server = Zone::new()
        .a("host.example", "192.0.2.1".parse().unwrap())
        .serve()
        .unwrap();
    let r = resolver(server.addr(), Duration::from_secs(5));
    let mut lookups: Vec<Lookup<'_, Vec<std::net::Ipv4Addr>>> =
        (0..3).map(|_| r.a("host.example")).collect();
    start_all(&mut lookups);
    drop(lookups.remove(0));
    for answer in dns::join_all(lookups).await {
        assert_eq!(
            answer.unwrap(),
            ["192.0.2.1".parse::<std::net::Ipv4Addr>().unwrap()]
        );
    }
    assert_eq!(server.questions(), [(qtype::A, "host.example".to_string())]);
}
