//! SPF over `HickoryResolver` against a real authoritative nameserver (NSD on loopback):
//! pass, fail with an `exp=` explanation, a 3-level include chain, and a timeout.
//!
//! The NSD test is `#[ignore = "needs AUTHMILTER_E2E=1"]` and runs with `AUTHMILTER_E2E=1`
//! (needs the Debian package `nsd`); the timeout test against a silent loopback port always runs.

use std::time::Duration;

use dns::hickory::{HickoryConfig, HickoryResolver};
use spf::{Config, Evaluator, SpfResult};
use test_support::nsd::{Nsd, zone};
use test_support::{BlackHole, e2e_enabled};

const RECORDS: &str = r#"
@            TXT "v=spf1 ip4:192.0.2.0/24 a:mail.spf.example include:l1.spf.example -all exp=why.spf.example"
why          TXT "%{i} is not allowed to send for %{d}"
mail         A   198.51.100.25
l1           TXT "v=spf1 include:l2.spf.example ?all"
l2           TXT "v=spf1 include:l3.spf.example ~all"
l3           TXT "v=spf1 ip6:2001:db8:3::/48 " "ip4:203.0.113.0/24 -all"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs AUTHMILTER_E2E=1"]
async fn spf_over_hickory_and_nsd() {
    if !e2e_enabled() {
        return;
    }
    let nsd = Nsd::start(&[("spf.example", &zone("spf.example", RECORDS))]).expect("start nsd");
    let resolver = HickoryResolver::new(&HickoryConfig {
        nameservers: vec![nsd.addr()],
        timeout: Duration::from_secs(1),
        attempts: 2,
        ..HickoryConfig::default()
    })
    .unwrap();
    let spf = Evaluator::new(Config::default());
    let check = |ip: &str| {
        let ip = ip.parse().unwrap();
        let spf = &spf;
        let resolver = &resolver;
        async move {
            spf.check_mail_from(resolver, ip, b"alice@spf.example", b"mx.client.example")
                .await
        }
    };

    let out = check("192.0.2.7").await;
    assert_eq!(out.result, SpfResult::Pass);
    assert_eq!(out.mechanism.as_deref(), Some("ip4:192.0.2.0/24"));

    let out = check("198.51.100.25").await;
    assert_eq!(out.result, SpfResult::Pass);
    assert_eq!(out.mechanism.as_deref(), Some("a:mail.spf.example"));

    // Three levels of include: l3 passes the client, so l2, l1 and the top-level include match.
    let out = check("203.0.113.9").await;
    assert_eq!(out.result, SpfResult::Pass, "{out:?}");
    assert_eq!(out.mechanism.as_deref(), Some("include:l1.spf.example"));
    assert_eq!(out.dns_terms, 4, "a, include l1, include l2, include l3");
    let out = check("2001:db8:3::1").await;
    assert_eq!(out.result, SpfResult::Pass, "{out:?}");

    let out = check("198.51.100.26").await;
    assert_eq!(out.result, SpfResult::Fail);
    assert_eq!(out.mechanism.as_deref(), Some("-all"));
    assert_eq!(
        out.explanation.as_deref(),
        Some("198.51.100.26 is not allowed to send for spf.example")
    );

    // No record at all, and NXDOMAIN: none.
    let out = spf
        .check_mail_from(
            &resolver,
            "192.0.2.7".parse().unwrap(),
            b"bob@nothing.spf.example",
            b"x.example",
        )
        .await;
    assert_eq!(out.result, SpfResult::None);
}

#[tokio::test]
async fn unanswered_queries_are_temperror() {
    let hole = BlackHole::bind().unwrap();
    let resolver = HickoryResolver::new(&HickoryConfig {
        nameservers: vec![hole.addr()],
        timeout: Duration::from_millis(200),
        attempts: 1,
        ..HickoryConfig::default()
    })
    .unwrap();
    let out = Evaluator::new(Config::default())
        .check_mail_from(
            &resolver,
            "192.0.2.7".parse().unwrap(),
            b"alice@spf.example",
            b"x.example",
        )
        .await;
    assert_eq!(out.result, SpfResult::TempError);
    assert!(out.problem.unwrap().is_temporary());
}
