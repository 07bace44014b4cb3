//! Disagreements found by running random SPF worlds through this crate and through pyspf (the
//! reference implementation the openspf suite came from), each decided by RFC 7208 and kept
//! here with its inputs written out.

use std::net::IpAddr;

use dns::memory::MemoryResolver;
use spf::{Config, Evaluator, SpfResult};
use test_support::block_on;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn check(dns: &MemoryResolver, client: &str, sender: &str) -> spf::SpfOutput {
    let spf = Evaluator::new(Config::default());
    block_on(spf.check_mail_from(dns, ip(client), sender.as_bytes(), b"helo.example"))
}

/// RFC 7208 §5.4: an address lookup is made for each MX name, and a DNS error stops the
/// mechanism with temperror (§5). The result must not depend on the order the server lists the
/// exchanges in: a matching exchange listed before a timing-out one gave `fail` here, the same
/// records listed the other way round gave `temperror` (pyspf: temperror either way).
#[test]
fn mx_address_error_is_temperror_whatever_the_answer_order() {
    for order in [["good", "slow"], ["slow", "good"]] {
        let dns = MemoryResolver::new();
        dns.add_txt("example.com", "v=spf1 -mx/0 +all");
        for (pref, host) in [(20, order[0]), (10, order[1])] {
            dns.add_mx("example.com", pref, &format!("{host}.example.com"));
        }
        dns.add_a("good.example.com", "192.0.2.1".parse().unwrap());
        dns.fail("slow.example.com", dns::DnsError::Timeout);
        let out = check(&dns, "192.0.2.1", "alice@example.com");
        assert_eq!(out.result, SpfResult::TempError, "MX order {order:?}");
    }
}
