//! RFC 7208 §4.6.4 processing limits, counted with `MemoryResolver`'s query log.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use dns::memory::{MemoryResolver, RecordType};
use dns::{LookupFuture, Mx, Resolver};
use spf::{Config, Evaluator, Limits, SpfError, SpfResult};
use test_support::block_on;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn check(dns: &MemoryResolver, limits: Limits, client: &str, sender: &str) -> spf::SpfOutput {
    let spf = Evaluator::new(Config::default().with_limits(limits));
    block_on(spf.check_mail_from(dns, ip(client), sender.as_bytes(), b"helo.example"))
}

/// A chain of `n` nested includes ending in `ip4:192.0.2.1`.
fn include_chain(n: usize) -> MemoryResolver {
    let dns = MemoryResolver::new();
    for i in 0..n {
        dns.add_txt(
            &format!("l{i}.example"),
            format!("v=spf1 include:l{}.example -all", i + 1),
        );
    }
    dns.add_txt(&format!("l{n}.example"), "v=spf1 ip4:192.0.2.1 -all");
    dns
}

#[test]
fn ten_dns_terms_pass_eleven_are_permerror() {
    let dns = include_chain(10);
    let out = check(&dns, Limits::default(), "192.0.2.1", "a@l0.example");
    assert_eq!(out.result, SpfResult::Pass);
    assert_eq!(out.dns_terms, 10);
    assert_eq!(dns.query_count(), 11, "one TXT per level");

    let dns = include_chain(11);
    let out = check(&dns, Limits::default(), "192.0.2.1", "a@l0.example");
    assert_eq!(out.result, SpfResult::PermError);
    assert_eq!(out.problem, Some(SpfError::TooManyLookups(10)));
    assert_eq!(
        dns.query_count(),
        11,
        "the 11th include is refused before its lookup"
    );
}

#[test]
fn dns_term_limit_is_configurable() {
    let dns = include_chain(3);
    let limits = Limits {
        dns_terms: 2,
        ..Limits::default()
    };
    let out = check(&dns, limits, "192.0.2.1", "a@l0.example");
    assert_eq!(out.result, SpfResult::PermError);
    let limits = Limits {
        dns_terms: 3,
        ..Limits::default()
    };
    assert_eq!(
        check(&dns, limits, "192.0.2.1", "a@l0.example").result,
        SpfResult::Pass
    );
}

#[test]
fn loops_stop_at_the_lookup_limit() {
    let dns = MemoryResolver::new();
    dns.add_txt("loop.example", "v=spf1 redirect=loop.example");
    dns.add_txt("a.example", "v=spf1 include:b.example -all");
    dns.add_txt("b.example", "v=spf1 include:a.example -all");
    for sender in ["x@loop.example", "x@a.example"] {
        dns.reset_queries();
        let out = check(&dns, Limits::default(), "192.0.2.1", sender);
        assert_eq!(out.result, SpfResult::PermError, "{sender}");
        assert!(
            dns.query_count() <= 11,
            "{sender}: {} queries",
            dns.query_count()
        );
    }
    // Even with an absurd configured limit, nesting stops at max_depth.
    let limits = Limits {
        dns_terms: 100_000,
        ..Limits::default()
    };
    let out = check(&dns, limits, "192.0.2.1", "x@loop.example");
    assert_eq!(out.problem, Some(SpfError::TooDeep(16)));
}

#[test]
fn two_void_lookups_allowed_third_is_permerror() {
    let dns = MemoryResolver::new();
    dns.add_txt("two.example", "v=spf1 a:n1.example mx:n2.example ?all");
    dns.add_txt(
        "three.example",
        "v=spf1 a:n1.example exists:n2.example ptr:n3.example ?all",
    );
    dns.add_txt(
        "nodata.example",
        "v=spf1 a:txt.example a:txt.example a:txt.example ?all",
    );
    dns.add_txt("txt.example", "only text");
    let out = check(&dns, Limits::default(), "192.0.2.1", "x@two.example");
    assert_eq!((out.result, out.void_lookups), (SpfResult::Neutral, 2));
    let out = check(&dns, Limits::default(), "192.0.2.1", "x@three.example");
    assert_eq!(out.result, SpfResult::PermError);
    assert_eq!(out.problem, Some(SpfError::TooManyVoidLookups(2)));
    // NODATA answers are void too.
    let out = check(&dns, Limits::default(), "192.0.2.1", "x@nodata.example");
    assert_eq!(out.problem, Some(SpfError::TooManyVoidLookups(2)));
    let limits = Limits {
        void_lookups: 3,
        ..Limits::default()
    };
    assert_eq!(
        check(&dns, limits, "192.0.2.1", "x@three.example").result,
        SpfResult::Neutral
    );
}

#[test]
fn more_than_ten_mx_names_is_permerror() {
    let dns = MemoryResolver::new();
    dns.add_txt("ten.example", "v=spf1 mx -all");
    dns.add_txt("eleven.example", "v=spf1 mx -all");
    for i in 0..11u16 {
        if i < 10 {
            dns.add_mx("ten.example", i, &format!("mx{i}.example"));
        }
        dns.add_mx("eleven.example", i, &format!("mx{i}.example"));
        dns.add_a(
            &format!("mx{i}.example"),
            format!("192.0.2.{}", 10 + i).parse().unwrap(),
        );
    }
    let out = check(&dns, Limits::default(), "192.0.2.19", "x@ten.example");
    assert_eq!(out.result, SpfResult::Pass);
    dns.reset_queries();
    let out = check(&dns, Limits::default(), "192.0.2.10", "x@eleven.example");
    assert_eq!(out.result, SpfResult::PermError);
    assert!(matches!(
        out.problem,
        Some(SpfError::TooManyMxNames {
            count: 11,
            limit: 10,
            ..
        })
    ));
    assert_eq!(dns.query_count(), 2, "TXT and MX only: no address lookups");
}

#[test]
fn only_the_first_ten_ptr_names_are_used() {
    let dns = MemoryResolver::new();
    dns.add_txt("p.example", "v=spf1 ptr -all");
    let client = ip("192.0.2.77");
    for i in 0..10 {
        dns.add_ptr(client, &format!("other{i}.test"));
    }
    dns.add_ptr(client, "host.p.example");
    dns.add_a("host.p.example", "192.0.2.77".parse().unwrap());
    let out = check(&dns, Limits::default(), "192.0.2.77", "x@p.example");
    assert_eq!(out.result, SpfResult::Fail, "the 11th PTR name is ignored");
    let limits = Limits {
        ptr_names: 11,
        ..Limits::default()
    };
    assert_eq!(
        check(&dns, limits, "192.0.2.77", "x@p.example").result,
        SpfResult::Pass
    );
    let ptr_queries = dns
        .queries()
        .iter()
        .filter(|(t, _)| *t == RecordType::Ptr)
        .count();
    assert_eq!(ptr_queries, 2);
}

#[test]
fn p_macro_counts_one_lookup_and_falls_back_to_unknown() {
    let dns = MemoryResolver::new();
    dns.add_txt(
        "pm.example",
        "v=spf1 exists:%{p}.ok.example exists:%{p}.ok2.example -all",
    );
    dns.add_a("unknown.ok2.example", "127.0.0.2".parse().unwrap());
    let out = check(&dns, Limits::default(), "192.0.2.1", "x@pm.example");
    assert_eq!(out.result, SpfResult::Pass);
    assert_eq!(out.dns_terms, 3, "two exists and one %{{p}} lookup");
}

#[test]
fn dns_failures_are_temperror_and_counted_once() {
    let dns = MemoryResolver::from_zone(
        r#"
        t.example TXT "v=spf1 a:slow.example -all"
        slow.example TIMEOUT
        s.example TXT "v=spf1 include:broken.example -all"
        broken.example SERVFAIL
        "#,
    )
    .unwrap();
    for sender in ["x@t.example", "x@s.example"] {
        let out = check(&dns, Limits::default(), "192.0.2.1", sender);
        assert_eq!(out.result, SpfResult::TempError, "{sender}");
        assert!(out.problem.unwrap().is_temporary());
    }
    // A PTR lookup failure is not temperror: the mechanism just does not match (§5.5).
    let dns = MemoryResolver::from_zone(
        r#"
        p.example TXT "v=spf1 ptr ?all"
        1.2.0.192.in-addr.arpa TIMEOUT
        "#,
    )
    .unwrap();
    assert_eq!(
        check(&dns, Limits::default(), "192.0.2.1", "x@p.example").result,
        SpfResult::Neutral
    );
}

/// A resolver whose PTR answers arrive only after `.1` (a blocking sleep), to spend the
/// evaluation's time budget in the middle of a `ptr` mechanism.
struct SlowPtr(MemoryResolver, Duration);

impl Resolver for SlowPtr {
    fn txt<'a>(&'a self, name: &'a str) -> LookupFuture<'a, Vec<Vec<u8>>> {
        self.0.txt(name)
    }
    fn a<'a>(&'a self, name: &'a str) -> LookupFuture<'a, Vec<Ipv4Addr>> {
        self.0.a(name)
    }
    fn aaaa<'a>(&'a self, name: &'a str) -> LookupFuture<'a, Vec<Ipv6Addr>> {
        self.0.aaaa(name)
    }
    fn mx<'a>(&'a self, name: &'a str) -> LookupFuture<'a, Vec<Mx>> {
        self.0.mx(name)
    }
    fn ptr<'a>(&'a self, ip: IpAddr) -> LookupFuture<'a, Vec<String>> {
        std::thread::sleep(self.1);
        self.0.ptr(ip)
    }
}

/// RFC 7208 §4.6.4: once the elapsed-time limit is exceeded the result SHOULD be temperror;
/// a `ptr` whose name validation was cut short by the budget must not fall through to `-all`.
#[test]
fn time_budget_spent_in_ptr_validation_is_temperror() {
    let dns = MemoryResolver::new();
    dns.add_txt("p.example", "v=spf1 ptr -all");
    dns.add_txt("q.example", "v=spf1 ptr:p.example ip4:198.51.100.1 -all");
    let client = ip("192.0.2.77");
    dns.add_ptr(client, "host.p.example");
    dns.add_a("host.p.example", "192.0.2.77".parse().unwrap());
    let slow = SlowPtr(dns, Duration::from_millis(60));
    let limits = Limits {
        max_elapsed: Some(Duration::from_millis(20)),
        ..Limits::default()
    };
    let spf = Evaluator::new(Config::default().with_limits(limits));
    for sender in [&b"x@p.example"[..], b"x@q.example"] {
        let out = block_on(spf.check_mail_from(&slow, client, sender, b"helo.example"));
        assert_eq!(
            out.result,
            SpfResult::TempError,
            "{}",
            String::from_utf8_lossy(sender)
        );
        let problem = out.problem.unwrap();
        assert!(problem.is_temporary());
        // it names the spent budget, not a DNS timeout of a name never asked
        assert_eq!(
            problem.to_string(),
            "SPF evaluation took longer than its limit of 20ms"
        );
    }
    // Without a budget the same slow answer validates and passes.
    let spf = Evaluator::new(Config::default().with_limits(Limits {
        max_elapsed: None,
        ..Limits::default()
    }));
    let out = block_on(spf.check_mail_from(&slow, client, b"x@p.example", b"helo.example"));
    assert_eq!(out.result, SpfResult::Pass);
}

/// The records one evaluation reads are bounded in all (a TXT RRset can carry 64 KiB, and a
/// hostile domain can chain ten of them): past 32 KiB the evaluation is a permerror, like
/// the other processing limits (RFC 7208 §4.6.4), and nothing more is looked up. Records of
/// real size, even long ones in many strings, are read as before.
#[test]
fn the_records_of_one_evaluation_are_bounded_in_size() {
    let padding = |n: usize| (0..n).map(|i| format!(" x{i}=y")).collect::<String>();
    let dns = MemoryResolver::new();
    for i in 0..6 {
        dns.add_txt(
            &format!("l{i}.example"),
            format!("v=spf1 include:l{}.example{} -all", i + 1, padding(1_000)),
        );
    }
    dns.add_txt("l6.example", "v=spf1 ip4:192.0.2.1 -all");
    let out = check(&dns, Limits::default(), "192.0.2.1", "a@l0.example");
    assert_eq!(out.result, SpfResult::PermError, "{:?}", out.problem);
    assert_eq!(out.problem, Some(SpfError::RecordsTooLarge(32 * 1024)));
    assert!(dns.query_count() < 7, "{}", dns.query_count());
    // the records read are kept (for a failure report's SPF-DNS fields, one for every record
    // used, RFC 6591 §3.2.6) only while their text stays within 4 KiB: a published 60 KB
    // record is not held for the connection
    let dns = MemoryResolver::new();
    dns.add_txt(
        "long.example",
        format!("v=spf1 ip4:192.0.2.1{} -all", padding(3_000)),
    );
    let out = check(&dns, Limits::default(), "192.0.2.1", "a@long.example");
    assert_eq!(out.result, SpfResult::Pass);
    assert_eq!(out.records, []);
    let dns = include_chain(2);
    let out = check(&dns, Limits::default(), "192.0.2.1", "a@l0.example");
    let kept = |out: &spf::SpfOutput| -> Vec<(String, String)> { out.records.clone() };
    let pair = |d: &str, r: &str| (d.to_string(), r.to_string());
    assert_eq!(
        kept(&out),
        [
            pair("l0.example", "v=spf1 include:l1.example -all"),
            pair("l1.example", "v=spf1 include:l2.example -all"),
            pair("l2.example", "v=spf1 ip4:192.0.2.1 -all"),
        ]
    );
    // past 4 KiB in all, the later records are left out
    let dns = MemoryResolver::new();
    let big = (400..)
        .map(|n| format!("v=spf1 include:next.example{} -all", padding(n)))
        .find(|r| r.len() > 4096 - 20)
        .unwrap();
    assert!(big.len() <= 4096, "{}", big.len());
    dns.add_txt("big.example", big);
    dns.add_txt("next.example", "v=spf1 ip4:192.0.2.1 -all");
    let out = check(&dns, Limits::default(), "192.0.2.1", "a@big.example");
    assert_eq!(out.result, SpfResult::Pass);
    assert_eq!(out.records.len(), 1, "{:?}", out.records);
    assert_eq!(out.records[0].0, "big.example");
}
