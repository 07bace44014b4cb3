//! The pages' HTML: classes, bidi isolation of names from reports, links, the period.

use super::*;

/// `td.n class=(…)` in maud writes two `class` attributes and browsers keep the first:
/// the colour of a rate must join the element's own class.
#[test]
fn rate_colours_join_the_class_of_the_cell() {
    let period = Period::from_query(None, 1_793_577_600).unwrap();
    let overview_page = overview(
        &[DomainOverview {
            policy_domain: "example.com".into(),
            messages: 10,
            dmarc_pass: 1,
            reports: 1,
            reporters: 1,
            last_day: 1_793_491_200,
            unverified: Default::default(),
        }],
        1,
        &period,
    )
    .into_string();
    let outbound_page = outbound(
        &[OutboundDomain {
            policy_domain: "example.com".into(),
            messages: 10,
            dmarc_pass: 10,
            not_sent: 1,
            ..OutboundDomain::default()
        }],
        3,
        &period,
    )
    .into_string();
    for html in [&overview_page, &outbound_page] {
        assert!(
            !html.contains("\" class=\""),
            "two class attributes: {html}"
        );
    }
    assert!(
        overview_page.contains("<td class=\"n bad\">"),
        "{overview_page}"
    );
    assert!(
        outbound_page.contains("<td class=\"n good\">"),
        "{outbound_page}"
    );
    assert!(
        outbound_page.contains("<td class=\"n bad\">1</td>"),
        "{outbound_page}"
    );
    assert!(!overview_page.contains("The 1 of"), "{overview_page}");
    assert!(
        outbound_page.contains("The 1 of 3 domains"),
        "{outbound_page}"
    );
}

/// Reporter names are anyone's to write: one ending in U+202E (RIGHT-TO-LEFT OVERRIDE)
/// must not reverse the names after it in the same cell (each is in its own `bdi`,
/// HTML §4.5.24, Unicode UAX #9 isolates).
#[test]
fn reporter_names_are_isolated_from_each_other() {
    let row = source_row(&SourceSummary {
        ip: "192.0.2.1".into(),
        name: None,
        reporters: vec![
            ReporterName {
                org_name: "evil\u{202e}".into(),
                sent: Provenance::Imported,
            },
            ReporterName {
                org_name: "google.com".into(),
                sent: Provenance::Imported,
            },
        ],
        reporters_total: 3,
        messages: 1,
        dmarc_pass: 1,
        spf_aligned: 0,
        dkim_aligned: 0,
        spf_pass: 0,
        dkim_pass: 0,
    })
    .into_string();
    assert!(
        row.contains("<td><bdi>evil\u{202e}</bdi> <span class=\"muted\" title=\"imported by the operator (report import)\">(imported)</span>, <bdi>google.com</bdi> <span class=\"muted\" title=\"imported by the operator (report import)\">(imported)</span><span class=\"muted\"> +1</span></td>"),
        "{row}"
    );
}

/// A reporter name ending in U+202E (RIGHT-TO-LEFT OVERRIDE) must not turn the cells after
/// it around in the reporters table either: isolated in a `bdi` as in the sources column.
#[test]
fn the_reporters_table_isolates_each_name() {
    let period = Period::from_query(None, 1_793_577_600).unwrap();
    let summary = DomainSummary {
        policy_domain: "example.com".into(),
        span: period.span,
        messages: 0,
        dmarc_pass: 0,
        days: Vec::new(),
        sources: Vec::new(),
        sources_total: 0,
        selectors: Vec::new(),
        reporters: vec![report_store::ReporterSummary {
            org_name: "evil\u{202e}".into(),
            sent: Provenance::Imported,
            reports: 1,
            messages: 2,
        }],
        reporters_total: 1,
        reporters_counted: 1,
        policy: None,
        unverified: Default::default(),
    };
    let html = domain(&summary, &period).into_string();
    assert!(html.contains("<td><bdi>evil\u{202e}</bdi></td>"), "{html}");
}

/// A report names any policy domain it likes: one that is no domain name (its page could
/// not be shown) is listed as text, not as a link built from it that leads elsewhere.
#[test]
fn only_domain_names_become_links() {
    let period = Period::from_query(None, 1_793_577_600).unwrap();
    let row = |name: &str| DomainOverview {
        policy_domain: name.into(),
        messages: 1,
        dmarc_pass: 1,
        reports: 1,
        reporters: 1,
        last_day: 1_793_491_200,
        unverified: Default::default(),
    };
    let html = overview(&[row("Example.COM"), row("x\"y/../\\?#z<b>")], 2, &period).into_string();
    assert!(
        html.contains("<a href=\"/domain/Example.COM?days=30\">Example.COM</a>"),
        "{html}"
    );
    assert_eq!(html.matches("href=\"/domain/").count(), 1, "{html}");
    assert!(
        html.contains("<td>x&quot;y/../\\?#z&lt;b&gt;</td>"),
        "{html}"
    );
    // a name of dots alone is no domain: no link, and its page is a 404
    assert!(!domain_like("..") && !domain_like(".") && domain_like("a.example"));
}

/// A `days` past the 16th parameter was ignored without a word; the label counts the days
/// the period really has.
#[test]
fn query_limits_and_the_period_label() {
    let many = format!("{}days=7", "a=1&".repeat(16));
    assert!(Period::from_query(Some(&many), 1_793_577_600).is_err());
    let p = Period::from_query(Some("days=7"), 1_793_577_600).unwrap();
    assert!(p.label().contains("(7 days, UTC)"), "{}", p.label());
    let p = Period::from_query(Some("days=400&until=1970-01-10"), 1_793_577_600).unwrap();
    assert!(p.label().contains("(10 days, UTC)"), "{}", p.label());
}

/// RFC 9990 §8.2: reports from an unverified sender are left out of the figures and said
/// beside them, on the domain page and in the list of domains.
#[test]
fn unverified_reports_are_said_apart() {
    let period = Period::from_query(None, 1_793_577_600).unwrap();
    let unverified = report_store::Unverified {
        reports: 1,
        messages: 1_000_000,
    };
    let summary = DomainSummary {
        policy_domain: "example.com".into(),
        span: period.span,
        messages: 40,
        dmarc_pass: 40,
        days: Vec::new(),
        sources: Vec::new(),
        sources_total: 0,
        selectors: Vec::new(),
        reporters: Vec::new(),
        reporters_total: 0,
        reporters_counted: 0,
        policy: None,
        unverified,
    };
    let note = "+ 1\u{202f}000\u{202f}000 messages in 1 unverified report, not counted";
    let html = domain(&summary, &period).into_string();
    assert!(html.contains(note), "{html}");
    let row = DomainOverview {
        policy_domain: "example.com".into(),
        messages: 40,
        dmarc_pass: 40,
        reports: 1,
        reporters: 1,
        last_day: period.span.begin,
        unverified,
    };
    let html = overview(&[row], 1, &period).into_string();
    assert!(html.contains(note), "{html}");
}
