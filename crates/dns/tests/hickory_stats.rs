//! The caching resolver counts its work exactly: questions sent, cache hits (positive and
//! negative answers), timeouts and SERVFAILs, against a loopback nameserver with known answers.

use std::sync::Arc;
use std::time::Duration;

use dns::hickory::{HickoryConfig, HickoryResolver};
use dns::stats::{QueryCounts, QueryStats};
use dns::{DnsError, Resolver};
use test_support::dns_server::{Answer, Zone, qtype};

#[tokio::test]
async fn counts_queries_hits_timeouts_and_servfails() {
    let server = Zone::new()
        .txt("ok.example", "v=spf1 -all")
        .a("ok.example", "192.0.2.1".parse().unwrap())
        .fail("slow.example", Answer::Silent)
        .fail("broken.example", Answer::ServFail)
        .serve()
        .unwrap();
    let stats = Arc::new(QueryStats::default());
    let r = HickoryResolver::new(&HickoryConfig {
        nameservers: vec![server.addr()],
        timeout: Duration::from_secs(1),
        attempts: 1,
        ..HickoryConfig::default()
    })
    .unwrap()
    .with_stats(Arc::clone(&stats));

    assert_eq!(
        r.txt("ok.example").await.unwrap(),
        [b"v=spf1 -all".to_vec()]
    );
    assert_eq!(
        r.txt("ok.example").await.unwrap().len(),
        1,
        "from the cache"
    );
    assert_eq!(r.a("OK.example.").await.unwrap().len(), 1);
    assert_eq!(r.txt("missing.example").await, Err(DnsError::NxDomain));
    assert_eq!(
        r.txt("missing.example").await,
        Err(DnsError::NxDomain),
        "negative answers are cached (SOA minimum)"
    );
    assert_eq!(r.mx("ok.example").await, Err(DnsError::NoData));
    assert_eq!(r.mx("ok.example").await, Err(DnsError::NoData));
    assert_eq!(r.txt("slow.example").await, Err(DnsError::Timeout));
    assert_eq!(r.txt("broken.example").await, Err(DnsError::ServFail));
    assert_eq!(
        r.txt("broken.example").await,
        Err(DnsError::ServFail),
        "failures are not cached"
    );
    assert_eq!(
        stats.snapshot(),
        QueryCounts {
            queries: 7,
            cache_hits: 3,
            timeouts: 1,
            servfails: 2,
        }
    );
    assert_eq!(Arc::as_ptr(r.stats()), Arc::as_ptr(&stats));
    // the nameserver saw each answered question once (the rest came from the cache); hickory
    // itself retries a failed one, which the counters do not see (they count our lookups)
    let asked = server.questions();
    let answered: Vec<&(u16, String)> = asked
        .iter()
        .filter(|(_, n)| n == "ok.example" || n == "missing.example")
        .collect();
    assert_eq!(
        answered,
        [
            &(qtype::TXT, "ok.example".to_string()),
            &(qtype::A, "ok.example".to_string()),
            &(qtype::TXT, "missing.example".to_string()),
            &(qtype::MX, "ok.example".to_string()),
        ]
    );
}
