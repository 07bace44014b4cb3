//! `[dns] attempts` is the number of times a question is sent before it is a temporary failure
//! (docs/configuration.md), not hickory's count of retries after the first: `attempts = 2`
//! sent a silent name's question three times and waited three timeouts (15 s at the default
//! 5 s, not 10 s) before the message's checks could go on.

use std::time::Duration;

use dns::hickory::{HickoryConfig, HickoryResolver};
use dns::{DnsError, Resolver};
use test_support::dns_server::{Answer, UdpNameserver, Zone};

#[tokio::test]
async fn a_silent_name_is_asked_attempts_times() {
    for attempts in [1, 2, 3] {
        let server = Zone::new()
            .fail("silent.example", Answer::Silent)
            .serve()
            .unwrap();
        let r = HickoryResolver::new(&HickoryConfig {
            nameservers: vec![server.addr()],
            timeout: Duration::from_millis(200),
            attempts,
            ..HickoryConfig::default()
        })
        .unwrap();
        assert_eq!(r.txt("silent.example").await, Err(DnsError::Timeout));
        let asked = server
            .questions()
            .iter()
            .filter(|(_, name)| name == "silent.example")
            .count();
        assert_eq!(asked, attempts, "attempts = {attempts}");
    }
}

/// Two nameservers on one address, different ports: the second answers when the first does
/// not (they were grouped as two transports of one server, and hickory only ever asked the
/// first, so a dead first server deferred every message).
#[tokio::test]
async fn a_second_port_of_one_address_is_a_second_server() {
    let dead = Zone::new()
        .fail("a.example", Answer::Silent)
        .serve()
        .unwrap();
    let alive = Zone::new().txt("a.example", "v=spf1 -all").serve().unwrap();
    assert_eq!(dead.addr().ip(), alive.addr().ip());
    let r = HickoryResolver::new(&HickoryConfig {
        nameservers: vec![dead.addr(), alive.addr()],
        timeout: Duration::from_millis(500),
        attempts: 2,
        ..HickoryConfig::default()
    })
    .unwrap();
    assert_eq!(r.txt("a.example").await, Ok(vec![b"v=spf1 -all".to_vec()]));
    assert!(alive.questions().iter().any(|(_, n)| n == "a.example"));
}

/// A server that answers SERVFAIL or REFUSED to everything does not end the question while
/// another configured server answers (hickory's pool handed back the first such answer:
/// about half the lookups failed with one broken server of two); glibc and unbound go on to
/// the next server too.
#[tokio::test]
async fn a_failing_server_is_not_the_last_word() {
    for broken in [Answer::ServFail, Answer::RecordsWithRcode(5, Vec::new())] {
        let bad = UdpNameserver::start(move |_, _| broken.clone()).unwrap();
        // and a dangling alias: NODATA (RFC 6604 §3), found by walking the chain, which
        // asks the servers in turn too
        let good = Zone::new().cname("alias.example", "gone.example");
        let good = (0..8)
            .fold(good, |z, i| z.txt(&format!("n{i}.example"), "v=spf1 -all"))
            .serve()
            .unwrap();
        for order in [[bad.addr(), good.addr()], [good.addr(), bad.addr()]] {
            let r = HickoryResolver::new(&HickoryConfig {
                nameservers: order.to_vec(),
                timeout: Duration::from_millis(500),
                attempts: 2,
                ..HickoryConfig::default()
            })
            .unwrap();
            for i in 0..8 {
                let name = format!("n{i}.example");
                assert_eq!(
                    r.txt(&name).await,
                    Ok(vec![b"v=spf1 -all".to_vec()]),
                    "{name}"
                );
            }
            assert_eq!(r.txt("nothing.example").await, Err(DnsError::NxDomain));
            assert_eq!(r.txt("alias.example").await, Err(DnsError::NoData));
        }
    }
}

/// The servers are asked in turn past a silent one and past slow failing ones, each once,
/// within the lookup's time (twice `timeout` × `attempts`): a silent server ended the turn
/// with its timeout, and each server asked `attempts` times could spend the time before the
/// good one was reached.
#[tokio::test]
async fn the_turn_goes_past_silent_and_slow_servers() {
    let silent = UdpNameserver::start(|_, _| Answer::Silent).unwrap();
    let slow = || {
        UdpNameserver::start(|_, _| {
            Answer::After(Duration::from_millis(150), Box::new(Answer::ServFail))
        })
        .unwrap()
    };
    let (slow1, slow2) = (slow(), slow());
    let good = Zone::new().txt("a.example", "v=spf1 -all").serve().unwrap();
    for order in [
        vec![silent.addr(), slow1.addr(), good.addr()],
        vec![slow1.addr(), slow2.addr(), good.addr()],
        vec![silent.addr(), slow1.addr(), slow2.addr(), good.addr()],
    ] {
        // the lookup may take 2 × timeout × attempts = 4 s; these turns need about 1.5 s
        {
            let r = HickoryResolver::new(&HickoryConfig {
                nameservers: order.clone(),
                timeout: Duration::from_secs(1),
                attempts: 2,
                ..HickoryConfig::default()
            })
            .unwrap();
            assert_eq!(
                r.txt("a.example").await,
                Ok(vec![b"v=spf1 -all".to_vec()]),
                "{order:?}"
            );
        }
    }
}
