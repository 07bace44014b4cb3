//! `HickoryResolver` against a real authoritative nameserver (NSD on loopback).
//!
//! The tests that start NSD are `#[ignore = "needs AUTHMILTER_E2E=1"]` and run with
//! `AUTHMILTER_E2E=1` (then the Debian package `nsd` must be installed); the ones against a
//! silent loopback port need nothing and always run.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use dns::hickory::{HickoryConfig, HickoryResolver};
use dns::{DnsError, Mx, Resolver};
use test_support::nsd::{Nsd, zone};
use test_support::{BlackHole, e2e_enabled};

fn records() -> String {
    // 12 strings of 200 octets: over 2 KB, so the UDP answer is truncated and TCP takes over.
    let long: Vec<String> = (0..12)
        .map(|i| format!("\"{}\"", char::from(b'a' + i).to_string().repeat(200)))
        .collect();
    format!(
        r#"
@        TXT  "v=spf1 ip4:192.0.2.0/24 -all"
split    TXT  "v=DKIM1; k=rsa; " "p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC" "AQAB"
multi    TXT  "first"
multi    TXT  "second"
big      TXT  {long}
host     A    192.0.2.10
host     A    192.0.2.11
host     AAAA 2001:db8::10
@        MX   10 mail
@        MX   20 Backup.Test.Example.
mail     A    192.0.2.25
alias    CNAME host
dangling CNAME gone
loop1    CNAME loop2
loop2    CNAME loop1
empty.sub TXT "only here"
short 1  A    192.0.2.50
"#,
        long = long.join(" ")
    )
}

fn reverse_zone() -> String {
    zone(
        "2.0.192.in-addr.arpa",
        "10 PTR host.test.example.\n25 PTR Mail.Test.Example.\n",
    )
}

fn resolver(addr: std::net::SocketAddr) -> HickoryResolver {
    HickoryResolver::new(&HickoryConfig {
        nameservers: vec![addr],
        timeout: Duration::from_secs(1),
        attempts: 1,
        ..HickoryConfig::default()
    })
    .expect("resolver")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs AUTHMILTER_E2E=1"]
async fn hickory_against_nsd() {
    if !e2e_enabled() {
        return;
    }
    let mut nsd = Nsd::start(&[
        ("test.example", &zone("test.example", &records())),
        ("2.0.192.in-addr.arpa", &reverse_zone()),
    ])
    .expect("start nsd");
    let r = resolver(nsd.addr());

    // TXT: one record, several strings joined, several records, a record over 512/1232 octets.
    assert_eq!(
        r.txt("test.example").await.unwrap(),
        vec![b"v=spf1 ip4:192.0.2.0/24 -all".to_vec()]
    );
    assert_eq!(
        r.txt("Split.Test.Example.").await.unwrap(),
        vec![b"v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQCAQAB".to_vec()]
    );
    let mut multi = r.txt("multi.test.example").await.unwrap();
    multi.sort();
    assert_eq!(multi, vec![b"first".to_vec(), b"second".to_vec()]);
    let big = r
        .txt("big.test.example")
        .await
        .expect("TCP fallback for a truncated answer");
    assert_eq!(big.len(), 1);
    assert_eq!(big[0].len(), 12 * 200);

    // A / AAAA / MX / PTR, CNAME followed.
    let mut a = r.a("host.test.example").await.unwrap();
    a.sort();
    assert_eq!(
        a,
        vec![Ipv4Addr::new(192, 0, 2, 10), Ipv4Addr::new(192, 0, 2, 11)]
    );
    assert_eq!(
        r.aaaa("host.test.example").await.unwrap(),
        vec!["2001:db8::10".parse::<Ipv6Addr>().unwrap()]
    );
    assert_eq!(r.a("alias.test.example").await.unwrap().len(), 2);
    let mut mx = r.mx("test.example").await.unwrap();
    mx.sort_by_key(|m| m.preference);
    assert_eq!(
        mx,
        vec![
            Mx {
                preference: 10,
                exchange: "mail.test.example".into()
            },
            Mx {
                preference: 20,
                exchange: "backup.test.example".into()
            },
        ]
    );
    let ip: IpAddr = "192.0.2.25".parse().unwrap();
    assert_eq!(
        r.ptr(ip).await.unwrap(),
        vec!["mail.test.example".to_string()]
    );

    // NXDOMAIN vs NODATA (an empty non-terminal is NODATA too, RFC 8020).
    assert_eq!(r.txt("nope.test.example").await, Err(DnsError::NxDomain));
    assert_eq!(r.aaaa("mail.test.example").await, Err(DnsError::NoData));
    assert_eq!(r.txt("sub.test.example").await, Err(DnsError::NoData));
    assert_eq!(
        r.ptr("192.0.2.99".parse().unwrap()).await,
        Err(DnsError::NxDomain)
    );
    // NSD answers a dangling alias with the CNAME and NXDOMAIN, which is about the chain's
    // end (RFC 6604 §3): the alias itself exists (RFC 9989 §3.2.13, the "np" test)
    assert_eq!(r.a("dangling.test.example").await, Err(DnsError::NoData));
    assert_eq!(r.txt("dangling.test.example").await, Err(DnsError::NoData));
    assert!(r.a("short.test.example").await.is_ok());
    // A CNAME loop (NSD answers with the chain it followed, RFC 1034 §3.6.2) is no "no data"
    // answer but a temporary failure, as a recursive resolver's SERVFAIL.
    let looped = r.txt("loop1.test.example").await;
    assert!(
        looped.as_ref().is_err_and(DnsError::is_temporary),
        "{looped:?}"
    );

    // The cache: once NSD is gone, answers seen before (positive and negative) still come back,
    // from memory, while a new question fails.
    nsd.stop();
    let before = r.stats().snapshot();
    assert_eq!(r.a("host.test.example").await.unwrap().len(), 2);
    assert_eq!(r.txt("nope.test.example").await, Err(DnsError::NxDomain));
    assert_eq!(r.aaaa("mail.test.example").await, Err(DnsError::NoData));
    let after = r.stats().snapshot();
    assert_eq!(
        (
            after.cache_hits - before.cache_hits,
            after.queries - before.queries
        ),
        (3, 0),
        "answered from the cache, no question sent"
    );
    assert!(r.a("other.test.example").await.unwrap_err().is_temporary());
    // TTLs are respected: the 1-second record is gone once its TTL has passed.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(
        r.a("short.test.example").await.unwrap_err().is_temporary(),
        "expired after its TTL"
    );
    assert_eq!(
        r.a("host.test.example").await.unwrap().len(),
        2,
        "300 s TTL still cached"
    );
    // A clone shares the cache.
    let clone = r.clone();
    assert_eq!(clone.mx("test.example").await.unwrap().len(), 2);
    r.clear_cache();
    assert!(clone.mx("test.example").await.unwrap_err().is_temporary());
}

#[tokio::test]
async fn silent_server_times_out() {
    let hole = BlackHole::bind().unwrap();
    let r = HickoryResolver::new(&HickoryConfig {
        nameservers: vec![hole.addr()],
        timeout: Duration::from_millis(200),
        attempts: 1,
        ..HickoryConfig::default()
    })
    .unwrap();
    let started = Instant::now();
    assert_eq!(r.txt("test.example").await, Err(DnsError::Timeout));
    assert!(started.elapsed() < Duration::from_secs(5));
    // Timeouts are not cached: the next query waits again and times out again.
    assert_eq!(r.a("test.example").await, Err(DnsError::Timeout));
}

#[tokio::test]
#[ignore = "needs AUTHMILTER_E2E=1"]
async fn cache_size_bound_is_honoured() {
    if !e2e_enabled() {
        return;
    }
    let names: String = (0..20).map(|i| format!("n{i} A 192.0.2.{i}\n")).collect();
    let mut nsd = Nsd::start(&[("bound.example", &zone("bound.example", &names))]).unwrap();
    let r = HickoryResolver::new(&HickoryConfig {
        nameservers: vec![nsd.addr()],
        timeout: Duration::from_millis(200),
        attempts: 1,
        cache_size: 4,
        ..HickoryConfig::default()
    })
    .unwrap();
    for i in 0..20 {
        assert!(r.a(&format!("n{i}.bound.example")).await.is_ok());
    }
    assert!(r.cache_len() <= 4, "cache holds {}", r.cache_len());
    nsd.stop();
    // With room for 4 answers the last 4 are served from memory, the first is gone.
    for i in 16..20 {
        assert!(
            r.a(&format!("n{i}.bound.example")).await.is_ok(),
            "n{i} cached"
        );
    }
    assert!(
        r.a("n0.bound.example").await.unwrap_err().is_temporary(),
        "n0 evicted"
    );
}
