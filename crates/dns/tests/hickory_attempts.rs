//! `[dns] attempts` is the number of times a question is sent before it is a temporary failure
//! (docs/configuration.md), not hickory's count of retries after the first: `attempts = 2`
//! sent a silent name's question three times and waited three timeouts (15 s at the default
//! 5 s, not 10 s) before the message's checks could go on.

use std::time::Duration;

use dns::hickory::{HickoryConfig, HickoryResolver};
use dns::{DnsError, Resolver};
use test_support::dns_server::{Answer, Zone};

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
