//! External destination verification (RFC 9990 §4, RFC 9991 §5) and the MX check, against
//! an in-memory DNS.

use dns::DnsError;
use dns::memory::{MemoryResolver, RecordType};
use reports::vocabulary::Mode;
use reports::{MxStatus, ReportAddress, ReportKind, Verification, mx_exists, verify_destination};

fn uri(u: &str) -> ReportAddress {
    ReportAddress {
        uri: u.into(),
        max_size: None,
    }
}

#[tokio::test]
async fn internal_destinations_need_no_lookup() {
    let dns = MemoryResolver::new();
    for (policy, dest) in [
        ("example.com", "mailto:dmarc@example.com"),
        ("sub.example.com", "mailto:dmarc@reports.example.com"),
        ("example.co.uk", "mailto:d@mx.example.co.uk"),
    ] {
        let v = verify_destination(
            &dns,
            policy,
            &uri(dest),
            ReportKind::Aggregate,
            Mode::Rfc7489,
        )
        .await;
        assert_eq!(v, Verification::Internal, "{policy} {dest}");
        assert_eq!(v.destinations(&uri(dest)), vec![uri(dest)]);
    }
    assert_eq!(dns.query_count(), 0);
}

/// RFC 9989 mode: "same organization" is the tree walk's answer (RFC 9989 §4.10.2), as in
/// alignment, not the public suffix list's. Under a `psd=y` hoster each customer is its own
/// organization, so a customer's `rua` pointing at another customer needs that customer's
/// `_report._dmarc` record (RFC 9990 §4); in RFC 7489 mode the PSL still decides.
#[tokio::test]
async fn rfc9989_mode_compares_tree_walk_organizations() {
    let dns = MemoryResolver::from_zone(
        r#"
_dmarc.hoster.example TXT "v=DMARC1; p=none; psd=y"
_dmarc.cust.hoster.example TXT "v=DMARC1; p=none; rua=mailto:victim@other.hoster.example"
_dmarc.ok.hoster.example TXT "v=DMARC1; p=none"
cust.hoster.example._report._dmarc.ok.hoster.example TXT "v=DMARC1"
_dmarc.a.example TXT "v=DMARC1; p=none"
_dmarc.slow.example TIMEOUT
_dmarc.broken.example TIMEOUT
"#,
    )
    .unwrap();
    let check = |policy: &'static str, dest: &'static str, mode| {
        let dns = &dns;
        async move { verify_destination(dns, policy, &uri(dest), ReportKind::Aggregate, mode).await }
    };
    let victim = "mailto:victim@other.hoster.example";
    let v = check("cust.hoster.example", victim, Mode::Rfc9989).await;
    assert!(matches!(v, Verification::NotAuthorized(_)), "{v:?}");
    assert_eq!(
        check(
            "cust.hoster.example",
            "mailto:d@ok.hoster.example",
            Mode::Rfc9989
        )
        .await,
        Verification::Authorized(vec![uri("mailto:d@ok.hoster.example")])
    );
    // the customer's own subdomain is its organization
    assert_eq!(
        check(
            "cust.hoster.example",
            "mailto:d@mx.cust.hoster.example",
            Mode::Rfc9989
        )
        .await,
        Verification::Internal
    );
    // an ordinary domain: the same answer as the PSL's
    assert_eq!(
        check("a.example", "mailto:d@reports.a.example", Mode::Rfc9989).await,
        Verification::Internal
    );
    // a temporary failure of the walk is no answer
    let v = check("a.slow.example", "mailto:d@slow.example", Mode::Rfc9989).await;
    assert!(matches!(v, Verification::TempError(_)), "{v:?}");
    // a failure of the policy domain's own DNS is that report's alone: it must not count
    // against the destination, whose other reports still go (a domain naming a shared report
    // address and breaking its own DNS deferred every other domain's reports to it)
    let v = check(
        "sub.broken.example",
        "mailto:d@rua.agg.example",
        Mode::Rfc9989,
    )
    .await;
    assert!(matches!(v, Verification::PolicyTempError(_)), "{v:?}");
    // RFC 7489 mode keeps the public suffix list
    assert_eq!(
        check("cust.hoster.example", victim, Mode::Rfc7489).await,
        Verification::Internal
    );
}

#[tokio::test]
async fn external_destinations_are_verified() {
    let dns = MemoryResolver::from_zone(
        r#"
example.com._report._dmarc.rx.example TXT "v=DMARC1"
blue.example._report._dmarc.rx.example TXT "v=DMARC1; rua=mailto:other@rx.example!5m, mailto:third@rx.example"
green.example._report._dmarc.rx.example TXT "v=DMARC1; rua=mailto:x@elsewhere.example"
red.example._report._dmarc.rx.example TXT "v=spf1 -all"
red.example._report._dmarc.rx.example TXT "p=none; v=DMARC1"
ruf.example._report._dmarc.rx.example TXT "v=DMARC1; rua=mailto:agg@rx.example; ruf=mailto:fail@rx.example"
slow.example._report._dmarc.rx.example TIMEOUT
broken.example._report._dmarc.rx.example SERVFAIL
"#,
    )
    .unwrap();
    let dest = uri("mailto:reports@RX.example");
    let check = |policy: &'static str, kind| {
        let dns = &dns;
        let dest = dest.clone();
        async move { verify_destination(dns, policy, &dest, kind, Mode::Rfc7489).await }
    };

    let v = check("example.com", ReportKind::Aggregate).await;
    assert_eq!(v, Verification::Authorized(vec![dest.clone()]));
    assert!(dns.queries().contains(&(
        RecordType::Txt,
        "example.com._report._dmarc.rx.example".into()
    )));

    // the destination overrides the URI, keeping its !size
    let v = check("blue.example", ReportKind::Aggregate).await;
    assert_eq!(
        v,
        Verification::Authorized(vec![
            ReportAddress {
                uri: "mailto:other@rx.example".into(),
                max_size: Some(5 << 20)
            },
            uri("mailto:third@rx.example")
        ])
    );
    // an override to another host: nothing may be sent (RFC 9990 §4)
    let v = check("green.example", ReportKind::Aggregate).await;
    assert!(
        matches!(&v, Verification::NotAuthorized(why) if why.contains("another host")),
        "{v:?}"
    );
    assert!(v.destinations(&dest).is_empty());
    // records that do not start with v=DMARC1 do not count
    let v = check("red.example", ReportKind::Aggregate).await;
    assert!(
        matches!(&v, Verification::NotAuthorized(why) if why.contains("v=DMARC1")),
        "{v:?}"
    );
    // no record at all
    let v = check("nobody.example", ReportKind::Aggregate).await;
    assert!(matches!(v, Verification::NotAuthorized(_)), "{v:?}");
    // failure reports use the ruf override
    let v = check("ruf.example", ReportKind::Failure).await;
    assert_eq!(
        v,
        Verification::Authorized(vec![uri("mailto:fail@rx.example")])
    );
    let v = check("ruf.example", ReportKind::Aggregate).await;
    assert_eq!(
        v,
        Verification::Authorized(vec![uri("mailto:agg@rx.example")])
    );

    // temporary failures are never authorization
    for policy in ["slow.example", "broken.example"] {
        let v = check(policy, ReportKind::Aggregate).await;
        assert!(matches!(v, Verification::TempError(_)), "{policy}: {v:?}");
        assert!(v.destinations(&dest).is_empty());
    }
}

#[tokio::test]
async fn names_too_long_for_dns_are_not_authorized() {
    let dns = MemoryResolver::new();
    let label = |c: &str| c.repeat(60);
    let long = format!("{}.{}.{}.example", label("a"), label("a"), label("a"));
    let dest = format!("mailto:r@{}.example", label("b"));
    let v = verify_destination(
        &dns,
        &long,
        &uri(&dest),
        ReportKind::Aggregate,
        Mode::Rfc7489,
    )
    .await;
    assert!(
        matches!(&v, Verification::NotAuthorized(why) if why.contains("DNS limits")),
        "{v:?}"
    );
    assert_eq!(dns.query_count(), 0);
    let v = verify_destination(
        &dns,
        "example.com",
        &uri("https://[2001:db8::1]/r"),
        ReportKind::Aggregate,
        Mode::Rfc7489,
    )
    .await;
    assert!(matches!(v, Verification::NotAuthorized(_)));
}

#[tokio::test]
async fn mx_checks() {
    let dns = MemoryResolver::from_zone(
        r#"
mx.example MX 10 mail.mx.example
nullmx.example MX 0 .
addr.example A 192.0.2.1
v6.example AAAA 2001:db8::1
slow.example TIMEOUT
"#,
    )
    .unwrap();
    dns.add_txt("txtonly.example", "hello");
    dns.fail_type("half.example", RecordType::Mx, DnsError::NoData);
    dns.fail_type("half.example", RecordType::A, DnsError::ServFail);
    assert_eq!(mx_exists(&dns, "mx.example").await, MxStatus::Exists);
    assert_eq!(mx_exists(&dns, "nullmx.example").await, MxStatus::Missing);
    assert_eq!(mx_exists(&dns, "addr.example").await, MxStatus::Exists);
    assert_eq!(mx_exists(&dns, "v6.example").await, MxStatus::Exists);
    assert_eq!(mx_exists(&dns, "txtonly.example").await, MxStatus::Missing);
    assert_eq!(mx_exists(&dns, "nothing.example").await, MxStatus::Missing);
    assert_eq!(mx_exists(&dns, "slow.example").await, MxStatus::TempError);
    assert_eq!(mx_exists(&dns, "half.example").await, MxStatus::TempError);
}

/// RFC 5321 §4.1.2: an unquoted local part is a Dot-string of `atext`, which has no `@`. A
/// `mailto:` whose decoded address has two `@` is not an address: a relay may route
/// `victim@x.example@evil.example` to x.example while verification looked at evil.example.
#[tokio::test]
async fn mailto_with_at_in_the_local_part_is_refused() {
    for u in [
        "mailto:victim%40x.example@evil.example",
        "mailto:victim@x.example@evil.example",
        "mailto:a@b%40evil.example",
    ] {
        assert_eq!(reports::mailto_address(u), None, "{u}");
        assert_eq!(reports::destination_host(u), None, "{u}");
        let dns = MemoryResolver::new();
        let v = verify_destination(
            &dns,
            "evil.example",
            &uri(u),
            ReportKind::Failure,
            Mode::Rfc7489,
        )
        .await;
        assert!(v.destinations(&uri(u)).is_empty(), "{u}: {v:?}");
    }
    assert_eq!(
        reports::mailto_address("mailto:dmarc+x@evil.example").as_deref(),
        Some("dmarc+x@evil.example")
    );
}

/// RFC 9990 §3.5 ("up to the Receiver's limits on supported URIs"): a verification record's
/// override list is cut at [`reports::destination::MAX_REPORT_URIS`] like the policy's own.
#[tokio::test]
async fn override_lists_are_capped() {
    let many: Vec<String> = (0..300)
        .map(|i| format!("mailto:r{i}@rx.example"))
        .collect();
    let zone = format!(
        "big.example._report._dmarc.rx.example TXT \"v=DMARC1; rua={}\"\n",
        many.join(",")
    );
    let dns = MemoryResolver::from_zone(&zone).unwrap();
    let v = verify_destination(
        &dns,
        "big.example",
        &uri("mailto:r0@rx.example"),
        ReportKind::Aggregate,
        Mode::Rfc7489,
    )
    .await;
    let Verification::Authorized(list) = v else {
        panic!("{v:?}");
    };
    assert_eq!(list.len(), reports::destination::MAX_REPORT_URIS);
    assert_eq!(list[0].uri, "mailto:r0@rx.example");
}
