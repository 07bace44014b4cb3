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

// The tests below pin answers where pyspf 2.0.14 disagrees and RFC 7208 sides with us.

/// RFC 7208 §7.3: an expansion over 253 octets loses "successive domain labels" from the left
/// until it fits; pyspf removes one label only and then finds nothing.
#[test]
fn overlong_expansion_loses_as_many_labels_as_needed() {
    let lp = "a".repeat(63);
    let dns = MemoryResolver::new();
    dns.add_txt(
        "example.com",
        "v=spf1 exists:%{l}.%{l}.%{l}.%{l}.%{l}.x.example -all",
    );
    dns.add_a(
        &format!("{lp}.{lp}.{lp}.x.example"),
        "127.0.0.2".parse().unwrap(),
    );
    let out = check(&dns, "192.0.2.1", &format!("{lp}@example.com"));
    assert_eq!(out.result, SpfResult::Pass, "{out:?}");
}

/// RFC 7208 §4.3: a sender without a local-part is `postmaster@domain`, and `%{s}` is that
/// sender; pyspf expands `%{s}` to `@domain`.
#[test]
fn empty_local_part_is_postmaster_in_the_s_macro() {
    let dns = MemoryResolver::new();
    dns.add_txt("example.com", "v=spf1 -all exp=why.example.com");
    dns.add_txt("why.example.com", "%{s} %{l}");
    let out = check(&dns, "192.0.2.1", "@example.com");
    assert_eq!(
        out.explanation.as_deref(),
        Some("postmaster@example.com postmaster")
    );
}

/// RFC 7208 §7.3: `%{p}` prefers the validated name equal to `<domain>`; DNS names compare
/// case-insensitively (pyspf compares case-sensitively and picks another name).
#[test]
fn p_macro_prefers_the_domain_whatever_its_case() {
    let dns = MemoryResolver::new();
    dns.add_txt("example.com", "v=spf1 -all exp=why.example.com");
    dns.add_txt("why.example.com", "p=%{p}");
    let client = ip("192.0.2.1");
    dns.add_ptr(client, "mx.other.example");
    dns.add_ptr(client, "EXAMPLE.COM");
    dns.add_a("mx.other.example", "192.0.2.1".parse().unwrap());
    dns.add_a("example.com", "192.0.2.1".parse().unwrap());
    let out = check(&dns, "192.0.2.1", "a@example.com");
    assert_eq!(
        out.explanation.as_deref().map(str::to_ascii_lowercase),
        Some("p=example.com".to_string())
    );
}

/// RFC 7208 §5.5: an address lookup error while validating a PTR name skips that name (pyspf:
/// temperror).
#[test]
fn ptr_name_whose_address_lookup_fails_is_skipped() {
    let dns = MemoryResolver::new();
    dns.add_txt("example.com", "v=spf1 ptr -all");
    let client = ip("192.0.2.1");
    dns.add_ptr(client, "broken.example.com");
    dns.add_ptr(client, "mail.example.com");
    dns.fail("broken.example.com", dns::DnsError::ServFail);
    dns.add_a("mail.example.com", "192.0.2.1".parse().unwrap());
    assert_eq!(
        check(&dns, "192.0.2.1", "a@example.com").result,
        SpfResult::Pass
    );
}

/// RFC 7208 §4.6.4 counts void lookups per term: exchanges of an `mx` without addresses are not
/// void lookups of their own (pyspf counts one per exchange).
#[test]
fn exchanges_without_addresses_are_not_void_lookups() {
    let dns = MemoryResolver::new();
    dns.add_txt("example.com", "v=spf1 mx ip4:192.0.2.1 -all");
    for i in 0..5 {
        dns.add_mx("example.com", 10, &format!("mx{i}.example.com"));
    }
    let out = check(&dns, "192.0.2.1", "a@example.com");
    assert_eq!((out.result, out.void_lookups), (SpfResult::Pass, 0));
}

/// RFC 7208 §4.6.4 counts `redirect` when it is evaluated; a record whose mechanisms decide
/// never uses it (pyspf counts it when parsing and gives permerror here).
#[test]
fn unused_redirect_is_not_counted() {
    let dns = MemoryResolver::new();
    let terms: Vec<String> = (0..10).map(|i| format!("a:h{i}.example.com")).collect();
    dns.add_txt(
        "example.com",
        format!(
            "v=spf1 {} ip4:192.0.2.1 redirect=r.example.com",
            terms.join(" ")
        ),
    );
    for i in 0..10 {
        dns.add_a(
            &format!("h{i}.example.com"),
            "198.51.100.1".parse().unwrap(),
        );
    }
    let out = check(&dns, "192.0.2.1", "a@example.com");
    assert_eq!((out.result, out.dns_terms), (SpfResult::Pass, 10));
}

/// RFC 7208 §6.2: an explanation is an `explain-string` (printable US-ASCII and spaces); one
/// with a TAB is a syntax error and the default is used (pyspf shows it). One longer than 253
/// characters is no domain name and is not cut at a dot (pyspf cuts it).
#[test]
fn explanations_are_judged_as_explain_strings() {
    let dns = MemoryResolver::new();
    dns.add_txt("tab.example", "v=spf1 -all exp=why.tab.example");
    dns.add_txt("why.tab.example", "no\tway");
    let out = check(&dns, "192.0.2.1", "a@tab.example");
    assert_eq!(
        out.explanation.as_deref(),
        Some("tab.example does not designate 192.0.2.1 as a permitted sender")
    );
    let long = format!("first. {}", "x".repeat(260));
    dns.add_txt("long.example", "v=spf1 -all exp=why.long.example");
    dns.add_txt("why.long.example", &long);
    let out = check(&dns, "192.0.2.1", "a@long.example");
    assert_eq!(out.explanation.as_deref(), Some(long.as_str()));
}

/// RFC 7208 §7.1: `%%` is a `macro-expand` and may end a domain-spec (pyspf's syntax check
/// calls it an invalid macro and gives permerror); it expands to a name DNS cannot carry, so
/// the term matches nothing.
#[test]
fn percent_escape_may_end_a_domain_spec() {
    let dns = MemoryResolver::new();
    dns.add_txt("example.com", "v=spf1 exists:%% ip4:192.0.2.1 -all");
    assert_eq!(
        check(&dns, "192.0.2.1", "a@example.com").result,
        SpfResult::Pass
    );
}

/// RFC 7208 §7.1: ABNF strings are case-insensitive, so `R` is the reverse transformer too
/// (pyspf reverses only for a lower-case `r`).
#[test]
fn upper_case_r_transformer_reverses() {
    let dns = MemoryResolver::new();
    dns.add_txt("mail.example.com", "v=spf1 exists:%{dR}.list.example -all");
    dns.add_a(
        "com.example.mail.list.example",
        "127.0.0.2".parse().unwrap(),
    );
    assert_eq!(
        check(&dns, "192.0.2.1", "a@mail.example.com").result,
        SpfResult::Pass
    );
}
