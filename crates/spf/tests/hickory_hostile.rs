//! SPF over `HickoryResolver` against a loopback nameserver with broken or hostile answers:
//! what the DNS layer makes of them reaches check_host() as the RFC wants it.

use std::time::Duration;

use dns::hickory::{HickoryConfig, HickoryResolver};
use spf::{Config, Evaluator, SpfResult};
use test_support::dns_server::{Answer, UdpNameserver, Zone, qtype, txt_rdata};

fn resolver(addr: std::net::SocketAddr) -> HickoryResolver {
    HickoryResolver::new(&HickoryConfig {
        nameservers: vec![addr],
        timeout: Duration::from_secs(2),
        attempts: 1,
        ..HickoryConfig::default()
    })
    .unwrap()
}

async fn check(r: &HickoryResolver, ip: &str, from: &[u8]) -> SpfResult {
    Evaluator::new(Config::default())
        .check_mail_from(r, ip.parse().unwrap(), from, b"helo.example")
        .await
        .result
}

/// An include whose target is a CNAME loop: a temporary failure (RFC 7208 §4.4, §5.2), not
/// the permerror of an include without a record.
#[tokio::test]
async fn an_include_into_a_cname_loop_is_temperror() {
    let server = Zone::new()
        .txt("loop.example", "v=spf1 include:a.loop.example -all")
        .cname("a.loop.example", "b.loop.example")
        .cname("b.loop.example", "a.loop.example")
        .serve()
        .unwrap();
    let r = resolver(server.addr());
    assert_eq!(
        check(&r, "192.0.2.7", b"alice@loop.example").await,
        SpfResult::TempError
    );
}

/// `a:mail.victim.example` with an answer that also carries an A record for another name
/// holding the sender's address: no pass (RFC 1034 §4.3.2: that record answers nothing).
#[tokio::test]
async fn an_address_for_another_name_does_not_pass() {
    let server = UdpNameserver::start(|t, name| match (t, name) {
        (qtype::TXT, "victim.example") => {
            Answer::Records(vec![txt_rdata(b"v=spf1 a:mail.victim.example -all")])
        }
        (qtype::A, "mail.victim.example") => Answer::Raw(vec![
            ("mail.victim.example".into(), qtype::A, vec![192, 0, 2, 25]),
            ("evil.example".into(), qtype::A, vec![203, 0, 113, 66]),
        ]),
        _ => Answer::NxDomain,
    })
    .unwrap();
    let r = resolver(server.addr());
    assert_eq!(
        check(&r, "203.0.113.66", b"alice@victim.example").await,
        SpfResult::Fail
    );
    assert_eq!(
        check(&r, "192.0.2.25", b"alice@victim.example").await,
        SpfResult::Pass
    );
}
