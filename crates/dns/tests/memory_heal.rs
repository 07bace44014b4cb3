//! The in-memory resolver's injected failures end with `heal`: a DNS outage that is over.

use dns::memory::MemoryResolver;
use dns::{DnsError, Resolver};
use test_support::block_on;

#[test]
fn heal_ends_injected_failures() {
    let r = MemoryResolver::from_zone(
        "down.example SERVFAIL\nhalf.example TXT TIMEOUT\nhalf.example A 192.0.2.2\n",
    )
    .unwrap();
    assert_eq!(block_on(r.txt("down.example")), Err(DnsError::ServFail));
    assert_eq!(block_on(r.txt("half.example")), Err(DnsError::Timeout));
    r.heal("Down.Example.");
    r.heal("half.example");
    // no records: the name does not exist; with records: they answer again
    assert_eq!(block_on(r.txt("down.example")), Err(DnsError::NxDomain));
    assert_eq!(block_on(r.txt("half.example")), Err(DnsError::NoData));
    assert!(block_on(r.a("half.example")).is_ok());
    r.fail("down.example", DnsError::ServFail);
    r.add_txt("down.example", "v=DMARC1");
    r.heal("down.example");
    assert_eq!(
        block_on(r.txt("down.example")).unwrap(),
        vec![b"v=DMARC1".to_vec()]
    );
}
