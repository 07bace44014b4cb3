//! Unit tests with the in-memory resolver (RFC 8601 §3, §2.7.3).

use std::net::IpAddr;

use dns::DnsError;
use dns::memory::{MemoryResolver, RecordType};

use test_support::block_on;

use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn run(r: &MemoryResolver, addr: &str) -> IprevOutcome {
    block_on(check(r, ip(addr), &Config::default()))
}

#[test]
fn pass_ipv4() {
    let r = MemoryResolver::from_zone(
        "1.2.0.192.in-addr.arpa PTR Mail.Example.com.\nmail.example.com A 192.0.2.1\n",
    )
    .unwrap();
    let o = run(&r, "192.0.2.1");
    assert_eq!(o.result, IprevResult::Pass);
    assert_eq!(o.name.as_deref(), Some("mail.example.com"));
    assert_eq!(o.result.to_string(), "pass");
}

#[test]
fn pass_ipv6_and_mapped_ipv4() {
    let r = MemoryResolver::new();
    r.add_ptr(ip("2001:db8::1"), "v6.example.com");
    r.add_aaaa("v6.example.com", "2001:db8::1".parse().unwrap());
    assert_eq!(run(&r, "2001:db8::1").result, IprevResult::Pass);
    r.add_ptr(ip("192.0.2.7"), "v4.example.com");
    r.add_a("v4.example.com", "192.0.2.7".parse().unwrap());
    let o = run(&r, "::ffff:192.0.2.7");
    assert_eq!(o.result, IprevResult::Pass);
    assert_eq!(o.ip, ip("192.0.2.7"));
}

#[test]
fn forged_ptr_fails() {
    let r = MemoryResolver::new();
    r.add_ptr(ip("192.0.2.1"), "mail.bank.example");
    r.add_a("mail.bank.example", "198.51.100.9".parse().unwrap());
    let o = run(&r, "192.0.2.1");
    assert_eq!(o.result, IprevResult::Fail);
    assert_eq!(o.name, None);
    assert_eq!(o.reason, Reason::NotConfirmed);
}

#[test]
fn forward_nxdomain_fails() {
    let r = MemoryResolver::new();
    r.add_ptr(ip("192.0.2.1"), "ghost.example");
    assert_eq!(run(&r, "192.0.2.1").result, IprevResult::Fail);
}

#[test]
fn no_ptr_is_permerror() {
    let r = MemoryResolver::new();
    let o = run(&r, "192.0.2.1");
    assert_eq!(o.result, IprevResult::PermError);
    assert_eq!(o.reason, Reason::NoPtr);
}

/// PTR records that name no host (the root; names the resolver leaves out, such as a label
/// holding a dot) are published PTR data: fail, not permerror's "no PTR data" (RFC 8601
/// §2.7.3).
#[test]
fn ptr_records_naming_no_host_fail() {
    let r = MemoryResolver::new();
    r.add_ptr(ip("192.0.2.1"), ".");
    let o = run(&r, "192.0.2.1");
    assert_eq!(o.result, IprevResult::Fail, "{o:?}");
    assert_eq!(o.reason, Reason::NoHostName);
    assert!(o.ptr_names.is_empty());
}

#[test]
fn ptr_timeout_is_temperror() {
    let r = MemoryResolver::new();
    r.fail("1.2.0.192.in-addr.arpa", DnsError::Timeout);
    let o = run(&r, "192.0.2.1");
    assert_eq!(o.result, IprevResult::TempError);
    assert_eq!(o.reason, Reason::PtrTempError);
}

#[test]
fn forward_timeout_of_one_name_is_temperror_unless_another_confirms() {
    let r = MemoryResolver::new();
    r.add_ptr(ip("192.0.2.1"), "a.example");
    r.add_ptr(ip("192.0.2.1"), "b.example");
    r.fail_type("a.example", RecordType::A, DnsError::Timeout);
    r.add_a("b.example", "198.51.100.1".parse().unwrap());
    let o = run(&r, "192.0.2.1");
    assert_eq!(o.result, IprevResult::TempError);
    assert_eq!(o.reason, Reason::ForwardTempError("a.example".into()));
    r.add_a("b.example", "192.0.2.1".parse().unwrap());
    let o = run(&r, "192.0.2.1");
    assert_eq!(o.result, IprevResult::Pass);
    assert_eq!(o.name.as_deref(), Some("b.example"));
}

#[test]
fn at_most_ten_names_are_checked() {
    let r = MemoryResolver::new();
    for i in 0..12 {
        r.add_ptr(ip("192.0.2.1"), &format!("n{i}.example"));
        let target = if i == 11 { "192.0.2.1" } else { "198.51.100.1" };
        r.add_a(&format!("n{i}.example"), target.parse().unwrap());
    }
    r.reset_queries();
    let o = run(&r, "192.0.2.1");
    assert_eq!(o.result, IprevResult::Fail);
    // only the names checked are kept: a PTR RRset of thousands of names is not held for
    // the connection's life
    assert_eq!(o.ptr_names.len(), 10);
    assert_eq!(o.more_ptr_names, 2);
    assert_eq!(o.names_checked, 10);
    assert_eq!(r.query_count(), 11, "1 PTR + 10 A");
    let o = block_on(check(&r, ip("192.0.2.1"), &Config { max_names: 12 }));
    assert_eq!(o.result, IprevResult::Pass);
}

#[test]
fn works_through_dyn_resolver() {
    let r: std::sync::Arc<dyn dns::Resolver> = std::sync::Arc::new(MemoryResolver::new());
    assert_eq!(
        block_on(check(r.as_ref(), ip("192.0.2.1"), &Config::default())).result,
        IprevResult::PermError
    );
}

#[test]
fn check_future_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    let r: std::sync::Arc<dyn dns::Resolver> = std::sync::Arc::new(MemoryResolver::new());
    let config = Config::default();
    let fut = check(r.as_ref(), ip("192.0.2.1"), &config);
    assert_send(&fut);
    drop(fut);
}
