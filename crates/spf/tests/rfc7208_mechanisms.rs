//! RFC 7208 §2.3/§2.4 identities, §4.3 domain checks, §5 mechanisms (CIDR edges, IPv4-mapped
//! clients), §6.2 explanations and §9.1 Received-SPF, end to end with `MemoryResolver`.

use std::net::IpAddr;
use std::sync::Arc;

use dns::memory::MemoryResolver;
use spf::{Config, Evaluator, FixedClock, Identity, ReceivedSpf, SpfResult, authres_property};
use test_support::block_on;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn evaluator() -> Evaluator {
    Evaluator::new(
        Config::default()
            .with_receiver("mx.receiver.example")
            .with_clock(Arc::new(FixedClock(1_700_000_000))),
    )
}

fn result(dns: &MemoryResolver, client: &str, sender: &str) -> SpfResult {
    block_on(evaluator().check_mail_from(dns, ip(client), sender.as_bytes(), b"helo.example"))
        .result
}

#[test]
fn cidr_edges() {
    let dns = MemoryResolver::new();
    dns.add_txt("any4.example", "v=spf1 ip4:203.0.113.9/0 -all");
    dns.add_txt("any6.example", "v=spf1 ip6:2001:db8::/0 -all");
    dns.add_txt("one6.example", "v=spf1 ip6:2001:db8::1/128 -all");
    dns.add_txt("one4.example", "v=spf1 ip4:192.0.2.1 -all");
    dns.add_txt("bad4.example", "v=spf1 ip4:192.0.2.1/33 -all");
    dns.add_txt("bad6.example", "v=spf1 ip6:2001:db8::/129 -all");
    assert_eq!(
        result(&dns, "198.51.100.1", "x@any4.example"),
        SpfResult::Pass
    );
    assert_eq!(
        result(&dns, "2001:db8::5", "x@any4.example"),
        SpfResult::Fail,
        "ip4 never matches IPv6"
    );
    assert_eq!(
        result(&dns, "2001:db8::5", "x@any6.example"),
        SpfResult::Pass
    );
    assert_eq!(
        result(&dns, "192.0.2.1", "x@any6.example"),
        SpfResult::Fail,
        "ip6 never matches IPv4"
    );
    assert_eq!(
        result(&dns, "2001:db8::1", "x@one6.example"),
        SpfResult::Pass
    );
    assert_eq!(
        result(&dns, "2001:db8::2", "x@one6.example"),
        SpfResult::Fail
    );
    assert_eq!(
        result(&dns, "192.0.2.1", "x@bad4.example"),
        SpfResult::PermError
    );
    assert_eq!(
        result(&dns, "2001:db8::1", "x@bad6.example"),
        SpfResult::PermError
    );
    // IPv4-mapped IPv6 clients are evaluated as IPv4.
    assert_eq!(
        result(&dns, "::ffff:192.0.2.1", "x@one4.example"),
        SpfResult::Pass
    );
    assert_eq!(
        result(&dns, "::ffff:192.0.2.2", "x@one4.example"),
        SpfResult::Fail
    );
    assert_eq!(
        result(&dns, "::ffff:192.0.2.1", "x@any6.example"),
        SpfResult::Fail
    );
}

#[test]
fn a_and_mx_dual_cidr() {
    let dns = MemoryResolver::from_zone(
        r#"
        d.example TXT "v=spf1 a/24//64 mx:m.example/30 -all"
        d.example A 192.0.2.10
        d.example AAAA 2001:db8:1:2::1
        m.example MX 10 mx1.m.example
        m.example MX 0 .
        mx1.m.example A 198.51.100.8
        "#,
    )
    .unwrap();
    assert_eq!(result(&dns, "192.0.2.200", "x@d.example"), SpfResult::Pass);
    assert_eq!(
        result(&dns, "2001:db8:1:2:ffff::1", "x@d.example"),
        SpfResult::Pass
    );
    assert_eq!(
        result(&dns, "2001:db8:1:3::1", "x@d.example"),
        SpfResult::Fail
    );
    assert_eq!(
        result(&dns, "198.51.100.11", "x@d.example"),
        SpfResult::Pass
    );
    assert_eq!(
        result(&dns, "198.51.100.12", "x@d.example"),
        SpfResult::Fail
    );
}

#[test]
fn identities_and_domain_validity() {
    let dns = MemoryResolver::new();
    dns.add_txt("helo.example", "v=spf1 ip4:192.0.2.1 -all");
    dns.add_txt("exp.example", "v=spf1 -all exp=e.exp.example");
    dns.add_txt(
        "e.exp.example",
        "sender %{s} local %{l} domain %{o} helo %{h}",
    );
    let spf = evaluator();
    // HELO identity: postmaster@<helo>.
    let out = block_on(spf.check_helo(&dns, ip("192.0.2.1"), b"helo.example"));
    assert_eq!(
        (out.result, out.sender.as_str()),
        (SpfResult::Pass, "postmaster@helo.example")
    );
    // Null reverse-path: the HELO identity as MAIL FROM (§2.4).
    let out = block_on(spf.check_mail_from(&dns, ip("192.0.2.1"), b"<>", b"helo.example"));
    assert_eq!(out.result, SpfResult::Pass);
    // No local part: postmaster (§4.3).
    let out = block_on(spf.check_mail_from(&dns, ip("192.0.2.1"), b"@exp.example", b"h.example"));
    assert_eq!(
        out.explanation.as_deref(),
        Some("sender postmaster@exp.example local postmaster domain exp.example helo h.example")
    );
    // Malformed or single-label domains and address literals: none, without any DNS query.
    dns.reset_queries();
    for helo in [
        &b"[192.0.2.1]"[..],
        b"localhost",
        b"a..example",
        b"192.0.2.1",
        b"",
    ] {
        let out = block_on(spf.check_helo(&dns, ip("192.0.2.1"), helo));
        assert_eq!(
            out.result,
            SpfResult::None,
            "{}",
            String::from_utf8_lossy(helo)
        );
    }
    let long = format!("x@{}.example", "a".repeat(64));
    assert_eq!(result(&dns, "192.0.2.1", &long), SpfResult::None);
    assert_eq!(dns.query_count(), 0);
    // NXDOMAIN and no record: none.
    assert_eq!(
        result(&dns, "192.0.2.1", "x@missing.example"),
        SpfResult::None
    );
}

/// RFC 7208 §4.3: a `<domain>` with a zero-length label not at the end ("example.com..") is
/// malformed and gives `none` without any lookup; one trailing dot is the root and is fine.
#[test]
fn doubled_trailing_dot_is_malformed() {
    let dns = MemoryResolver::new();
    dns.add_txt("dot.example", "v=spf1 ip4:192.0.2.1 -all");
    let spf = evaluator();
    let out = block_on(spf.check_mail_from(&dns, ip("192.0.2.1"), b"a@dot.example.", b"h.example"));
    assert_eq!(out.result, SpfResult::Pass);
    dns.reset_queries();
    for sender in [&b"a@dot.example.."[..], b"a@dot.example..."] {
        let out = block_on(spf.check_mail_from(&dns, ip("192.0.2.1"), sender, b"h.example"));
        assert_eq!(
            out.result,
            SpfResult::None,
            "{}",
            String::from_utf8_lossy(sender)
        );
    }
    let out = block_on(spf.check_helo(&dns, ip("192.0.2.1"), b"dot.example.."));
    assert_eq!(out.result, SpfResult::None);
    assert_eq!(dns.query_count(), 0);
}

#[test]
fn explanations() {
    let dns = MemoryResolver::new();
    dns.add_txt("e.example", "v=spf1 -all exp=%{d}.why.example");
    dns.add_txt("e.example.why.example", "%{c} via %{r} at %{t} for %{L}");
    dns.add_txt("noexp.example", "v=spf1 -all");
    dns.add_txt("soft.example", "v=spf1 ~all exp=e.example.why.example");
    let spf = evaluator();
    let out =
        block_on(spf.check_mail_from(&dns, ip("2001:db8::7"), b"a b@e.example", b"h.example"));
    assert_eq!(
        out.explanation.as_deref(),
        Some("2001:db8::7 via mx.receiver.example at 1700000000 for a%20b")
    );
    let out =
        block_on(spf.check_mail_from(&dns, ip("192.0.2.1"), b"a@noexp.example", b"h.example"));
    assert_eq!(
        out.explanation.as_deref(),
        Some("noexp.example does not designate 192.0.2.1 as a permitted sender")
    );
    let out = block_on(spf.check_mail_from(&dns, ip("192.0.2.1"), b"a@soft.example", b"h.example"));
    assert_eq!(
        (out.result, out.explanation),
        (SpfResult::SoftFail, None),
        "only fail explains"
    );
    let quiet = Evaluator::new(Config::default().with_default_explanation(None));
    let out =
        block_on(quiet.check_mail_from(&dns, ip("192.0.2.1"), b"a@noexp.example", b"h.example"));
    assert_eq!(out.explanation, None);
}

#[test]
fn received_spf_and_authres_from_an_evaluation() {
    let dns = MemoryResolver::new();
    dns.add_txt("example.com", "v=spf1 ip4:192.0.2.0/24 -all");
    dns.add_txt(
        "local.example",
        "v=spf1 exists:%{l}.users.local.example -all",
    );
    dns.add_a("alice.users.local.example", "127.0.0.2".parse().unwrap());
    let spf = evaluator();
    let client = ip("192.0.2.1");
    let out =
        block_on(spf.check_mail_from(&dns, client, b"myname@example.com", b"foo.example.com"));
    let header = ReceivedSpf::new(&out, Identity::MailFrom, client)
        .receiver("mybox.example.org")
        .envelope_from(b"myname@example.com")
        .helo(b"foo.example.com")
        .to_string();
    assert!(header.starts_with(
        "pass (mybox.example.org: domain of myname@example.com designates 192.0.2.1 as permitted sender)"
    ));
    assert!(
        header.contains("mechanism=\"ip4:192.0.2.0/24\""),
        "{header}"
    );
    assert_eq!(
        authres_property(&out, Identity::MailFrom).value,
        "example.com"
    );

    let out = block_on(spf.check_mail_from(&dns, client, b"alice@local.example", b"h.example"));
    assert_eq!(out.result, SpfResult::Pass);
    assert!(out.used_local_part);
    assert_eq!(
        authres_property(&out, Identity::MailFrom).value,
        "alice@local.example"
    );

    dns.add_txt("broken.example", "v=spf1 ip4:1.2.3.4/99");
    let out = block_on(spf.check_mail_from(&dns, client, b"x@broken.example", b"h.example"));
    let header = ReceivedSpf::new(&out, Identity::MailFrom, client).value();
    assert!(header.starts_with("permerror ("), "{header}");
    assert!(
        header.contains("problem=\"syntax error in term"),
        "{header}"
    );
}

#[test]
fn results_have_rfc_names() {
    for (r, name) in [
        (SpfResult::None, "none"),
        (SpfResult::Neutral, "neutral"),
        (SpfResult::Pass, "pass"),
        (SpfResult::Fail, "fail"),
        (SpfResult::SoftFail, "softfail"),
        (SpfResult::TempError, "temperror"),
        (SpfResult::PermError, "permerror"),
    ] {
        assert_eq!(r.to_string(), name);
        assert_eq!(name.to_uppercase().parse::<SpfResult>().unwrap(), r);
    }
}

/// The server spawns evaluations on a multi-threaded runtime behind `Arc<dyn Resolver>`.
#[test]
fn evaluations_are_send_and_work_through_arc_dyn_resolver() {
    fn assert_send<T: Send>(t: T) -> T {
        t
    }
    let dns: Arc<dyn dns::Resolver> =
        Arc::new(MemoryResolver::from_zone(r#"s.example TXT "v=spf1 +all""#).unwrap());
    let spf = evaluator();
    let out = block_on(assert_send(spf.check_mail_from(
        &dns,
        ip("192.0.2.1"),
        b"a@s.example",
        b"h.example",
    )));
    assert_eq!(out.result, SpfResult::Pass);
    let out = block_on(assert_send(spf.check_helo(
        dns.as_ref(),
        ip("192.0.2.1"),
        b"s.example",
    )));
    assert_eq!(out.result, SpfResult::Pass);
}

/// RFC 8616 §4: with a non-ASCII local-part, terms that use `%{s}` or `%{l}` match nothing;
/// an `include` of such a name is no match, not a `permerror` for a missing record.
#[test]
fn non_ascii_local_part_terms_match_nothing() {
    let dns = MemoryResolver::new();
    dns.add_txt(
        "example.com",
        "v=spf1 include:%{l}._spf.example.com exists:%{s}.x.example.com -all",
    );
    dns.add_txt("example.com", "unrelated");
    assert_eq!(
        result(&dns, "192.0.2.1", "j\u{f6}e@example.com"),
        SpfResult::Fail
    );
    // an ASCII local-part whose include has no record is still a permerror (RFC 7208 §5.2)
    assert_eq!(
        result(&dns, "192.0.2.1", "joe@example.com"),
        SpfResult::PermError
    );
    // the upper-case letters are the same macros, URL-escaped (RFC 7208 §7.3): their
    // expansion is ASCII, but the term still matches nothing, whatever the mechanism
    // a redirect through the local-part names no domain either: the redirect target does not
    // exist (RFC 7208 §6.1: permerror), it is not followed to a URL-escaped name
    let dns = MemoryResolver::new();
    dns.add_txt("example.com", "v=spf1 redirect=%{L}._spf.example.com");
    dns.add_txt("j%C3%B6e._spf.example.com", "v=spf1 +all");
    assert_eq!(
        result(&dns, "192.0.2.1", "j\u{f6}e@example.com"),
        SpfResult::PermError
    );
    for term in ["exists:%{L}.ok.example.com", "a:%{L}.ok.example.com"] {
        let dns = MemoryResolver::new();
        dns.add_txt("example.com", format!("v=spf1 {term} -all"));
        dns.add_a("j%C3%B6e.ok.example.com", "192.0.2.1".parse().unwrap());
        assert_eq!(
            result(&dns, "192.0.2.1", "j\u{f6}e@example.com"),
            SpfResult::Fail,
            "{term}"
        );
    }
}
