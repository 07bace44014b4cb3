//! CNAME chains served one question at a time by an authoritative server (RFC 1034 §3.6.2):
//! a loop, or a chain longer than hickory follows (8 questions), is no "no data" answer (which
//! SPF turns into a permanent error and DKIM into "no key"): it is a temporary failure, as a
//! recursive resolver reports it (SERVFAIL); a chain that ends somewhere gives that answer.

use std::time::Duration;

use dns::hickory::{HickoryConfig, HickoryResolver};
use dns::{DnsError, Resolver};
use test_support::dns_server::{Answer, Zone, qtype};

fn resolver(addr: std::net::SocketAddr) -> HickoryResolver {
    HickoryResolver::new(&HickoryConfig {
        nameservers: vec![addr],
        timeout: Duration::from_secs(2),
        attempts: 1,
        ..HickoryConfig::default()
    })
    .unwrap()
}

#[tokio::test]
async fn a_cname_loop_is_a_temporary_failure() {
    let server = Zone::new()
        .cname("a.loop.example", "b.loop.example")
        .cname("b.loop.example", "a.loop.example")
        .cname("self.loop.example", "self.loop.example")
        .cname("_dmarc.loop.example", "x.loop.example")
        .cname("x.loop.example", "y.loop.example")
        .cname("y.loop.example", "x.loop.example")
        .serve()
        .unwrap();
    let r = resolver(server.addr());
    for name in ["a.loop.example", "self.loop.example", "_dmarc.loop.example"] {
        let got = r.txt(name).await;
        assert!(
            got.as_ref().is_err_and(DnsError::is_temporary),
            "{name}: {got:?}"
        );
    }
    assert!(r.a("b.loop.example").await.unwrap_err().is_temporary());
    // bounded: the loop costs a few questions, not an unbounded walk
    assert!(
        server.questions().len() < 100,
        "{}",
        server.questions().len()
    );
}

#[tokio::test]
async fn a_long_chain_gives_the_answer_at_its_end() {
    let mut zone = Zone::new().txt("end.chain.example", "v=spf1 -all");
    for i in 0..12 {
        let next = if i == 11 {
            "end.chain.example".to_string()
        } else {
            format!("c{}.chain.example", i + 1)
        };
        zone = zone.cname(&format!("c{i}.chain.example"), &next);
    }
    let server = zone.serve().unwrap();
    let r = resolver(server.addr());
    assert_eq!(
        r.txt("c0.chain.example").await.unwrap(),
        [b"v=spf1 -all".to_vec()]
    );
    assert_eq!(
        r.mx("c0.chain.example").await,
        Err(DnsError::NoData),
        "the end has no MX"
    );
}

#[tokio::test]
async fn aliases_and_no_data_answers_are_unchanged() {
    let server = Zone::new()
        .txt("target.example", "v=DKIM1; p=")
        .cname("alias.example", "target.example")
        .cname("gone.example", "missing.example")
        .fail("bare.example", Answer::NoDataWithoutSoa)
        .cname("to-bare.example", "bare.example")
        .serve()
        .unwrap();
    let r = resolver(server.addr());
    assert_eq!(
        r.txt("alias.example").await.unwrap(),
        [b"v=DKIM1; p=".to_vec()]
    );
    assert_eq!(r.a("alias.example").await, Err(DnsError::NoData));
    // NXDOMAIN for the chain's end: the alias itself exists (RFC 6604 §3), with no TXT
    assert_eq!(r.txt("gone.example").await, Err(DnsError::NoData));
    assert_eq!(r.a("gone.example").await, Err(DnsError::NoData));
    assert_eq!(r.txt("missing.example").await, Err(DnsError::NxDomain));
    assert_eq!(r.txt("bare.example").await, Err(DnsError::NoData));
    assert_eq!(r.txt("to-bare.example").await, Err(DnsError::NoData));
    // NODATA without an SOA is not cached (RFC 2308 §5): asked again
    let before = server.questions().len();
    assert_eq!(r.txt("bare.example").await, Err(DnsError::NoData));
    assert!(server.questions().len() > before);
    assert!(
        server
            .questions()
            .iter()
            .all(|(t, _)| *t == qtype::TXT || *t == qtype::A || *t == qtype::CNAME)
    );
}

/// A chain longer than 16 aliases is a temporary failure also when the server sends it whole
/// in one answer (hickory follows those without counting).
#[tokio::test]
async fn a_long_chain_sent_whole_is_a_temporary_failure() {
    let server = whole_chain_server(|name| match name {
        "long.example" => Some(20),
        "short.example" => Some(5),
        _ => None,
    });
    let r = resolver(server.addr());
    assert_eq!(
        r.txt("short.example").await.unwrap(),
        [b"v=spf1 +all".to_vec()]
    );
    let got = r.txt("long.example").await;
    assert!(got.as_ref().is_err_and(DnsError::is_temporary), "{got:?}");
}

/// A zone that answers each alias of a long chain just before the timeout cannot hold one
/// lookup for many timeouts: past twice one question's time it is a temporary failure.
#[tokio::test]
async fn a_slow_chain_is_cut_at_the_lookup_budget() {
    let server = test_support::dns_server::UdpNameserver::start(|_, name| {
        let Some(n) = name
            .strip_suffix(".slow.example")
            .and_then(|l| l.strip_prefix('a'))
            .and_then(|n| n.parse::<u32>().ok())
        else {
            return Answer::NxDomain;
        };
        std::thread::sleep(Duration::from_millis(300));
        if n < 6 {
            Answer::Cname(format!("a{}.slow.example", n + 1))
        } else {
            Answer::Records(vec![test_support::dns_server::txt_rdata(b"v=spf1 +all")])
        }
    })
    .unwrap();
    let r = HickoryResolver::new(&HickoryConfig {
        nameservers: vec![server.addr()],
        timeout: Duration::from_millis(500),
        attempts: 1,
        ..HickoryConfig::default()
    })
    .unwrap();
    // six aliases answered 300 ms apart: each question in time, the lookup 1.8 s in all
    let got = r.txt("a0.slow.example").await;
    assert!(got.as_ref().is_err_and(DnsError::is_temporary), "{got:?}");
}

/// 16 aliases are followed and 17 are a temporary failure, whether the server answers alias
/// by alias or sends the chain whole (`[dns]` in docs/configuration.md): one bound, not two.
#[tokio::test]
async fn sixteen_aliases_are_followed_however_the_chain_is_sent() {
    let chain = |aliases: usize| {
        let mut zone = Zone::new().txt("end.chain.example", "v=spf1 -all");
        for i in 0..aliases {
            let next = if i + 1 == aliases {
                "end.chain.example".to_string()
            } else {
                format!("c{}.chain.example", i + 1)
            };
            zone = zone.cname(&format!("c{i}.chain.example"), &next);
        }
        zone.serve().unwrap()
    };
    for (aliases, follows) in [(16, true), (17, false)] {
        let server = chain(aliases);
        let got = resolver(server.addr()).txt("c0.chain.example").await;
        assert_eq!(got.is_ok(), follows, "{aliases} alias by alias: {got:?}");
    }
    let whole = whole_chain_server(|name| {
        name.strip_suffix(".whole.example")
            .and_then(|n| n.parse::<usize>().ok())
    });
    let r = resolver(whole.addr());
    for (aliases, follows) in [(16, true), (17, false)] {
        let got = r.txt(&format!("{aliases}.whole.example")).await;
        assert_eq!(got.is_ok(), follows, "{aliases} sent whole: {got:?}");
    }
}

/// A server that answers a TXT question with the whole chain of CNAMEs `aliases_of` gives
/// for the name, ending in a TXT record, in one answer (NXDOMAIN for other names).
fn whole_chain_server(
    aliases_of: impl Fn(&str) -> Option<usize> + Send + Sync + 'static,
) -> test_support::dns_server::UdpNameserver {
    use test_support::dns_server::{UdpNameserver, name_rdata, txt_rdata};
    UdpNameserver::start(move |t, name| {
        let Some(hops) = aliases_of(name) else {
            return Answer::NxDomain;
        };
        if t != qtype::TXT {
            return Answer::NxDomain;
        }
        let mut records = Vec::new();
        let mut owner = name.to_string();
        for i in 0..hops {
            let target = format!("a{i}.{name}");
            records.push((owner.clone(), qtype::CNAME, name_rdata(&target).unwrap()));
            owner = target;
        }
        records.push((owner, qtype::TXT, txt_rdata(b"v=spf1 +all")));
        Answer::Raw(records)
    })
    .unwrap()
}
