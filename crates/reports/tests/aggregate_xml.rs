//! Observations → aggregate report → XML → parse: every field comes back (after the documented
//! schema mappings), for hand-picked and random observations; and (with AUTHMILTER_E2E=1)
//! the XML validates against the RFC 9990 and RFC 7489 schemas with xmllint.

use std::net::IpAddr;
use std::path::Path;
use std::process::Command;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use reports::vocabulary::{
    ActionDisposition, AlignmentMode, DiscoveryMethod, Disposition, DkimResult, DmarcResult,
    FailureOption, Mode, OverrideType, Psd, SpfResult, SpfScope,
};
use reports::xml_write::sanitize_text;
use reports::{
    DateRange, DkimObservation, Feedback, Observation, OverrideReason, PublishedPolicy,
    ReportAddress, ReportFormat, ReporterInfo, SpfAuthResult, SpfObservation, build_feedback,
    parse_report, write_feedback,
};

const DAY: DateRange = DateRange {
    begin: 1_700_006_400,
    end: 1_700_092_799,
};

fn reporter() -> ReporterInfo {
    ReporterInfo {
        org_name: "Receiver & Co <rx>".into(),
        email: "dmarc-reports@rx.example".into(),
        extra_contact_info: Some("https://rx.example/dmarc?a=1&b=2".into()),
        submitter: "rx.example".into(),
        generator: Some("authmilter 0.1.0".into()),
        include_envelope_to: true,
    }
}

fn published() -> PublishedPolicy {
    PublishedPolicy {
        p: Disposition::Reject,
        sp: Some(Disposition::Quarantine),
        np: None,
        adkim: AlignmentMode::Strict,
        aspf: AlignmentMode::Relaxed,
        testing: true,
        pct: 100,
        psd: Psd::Unknown,
        fo: vec![FailureOption::Any, FailureOption::Dkim],
        rua: vec![ReportAddress {
            uri: "mailto:dmarc@example.com".into(),
            max_size: Some(10_000_000),
        }],
        ruf: Vec::new(),
        discovery_method: DiscoveryMethod::TreeWalk,
        errors: vec!["invalid sp=bogus".into(), "invalid x\u{1}=<&>".into()],
    }
}

fn obs(ip: &str, time: u64) -> Observation {
    Observation {
        time,
        source_ip: ip.parse().unwrap(),
        header_from: "example.com".into(),
        envelope_from: "bounce.example.com".into(),
        envelope_to: vec!["rx.example".into()],
        policy_domain: Some("example.com".into()),
        result: DmarcResult::Pass,
        disposition: Disposition::None,
        requested_policy: Some(Disposition::Reject),
        overrides: Vec::new(),
        spf: Some(SpfObservation {
            domain: "bounce.example.com".into(),
            scope: SpfScope::MailFrom,
            result: SpfResult::Pass,
            aligned: true,
        }),
        dkim: vec![DkimObservation {
            domain: "example.com".into(),
            selector: "s2024".into(),
            result: DkimResult::Pass,
            aligned: true,
            human_result: Some("ok & \"fine\" <really>".into()),
            failure: None,
        }],
        published: Some(published()),
        mode: Mode::Rfc9989,
    }
}

/// A set of observations that exercises every element and mapping.
fn scenario() -> Vec<Observation> {
    let t = DAY.begin + 3600;
    let mut out = vec![obs("192.0.2.1", t), obs("192.0.2.1", t + 1)];
    let mut v6 = obs("2001:db8::25", t + 2);
    v6.result = DmarcResult::Fail;
    v6.disposition = Disposition::Quarantine;
    v6.spf = Some(SpfObservation {
        domain: "helo.other.example".into(),
        scope: SpfScope::Helo,
        result: SpfResult::SoftFail,
        aligned: false,
    });
    v6.envelope_from = String::new();
    v6.envelope_to = vec!["a.example".into(), "b.example".into()];
    v6.dkim = vec![
        DkimObservation {
            domain: "other.example".into(),
            selector: "sel\u{0}\u{1b}[31m".into(),
            result: DkimResult::Fail,
            aligned: false,
            human_result: Some("body hash did not verify".into()),
            failure: None,
        },
        DkimObservation {
            domain: "example.com".into(),
            selector: "k1".into(),
            result: DkimResult::PermError,
            aligned: true,
            human_result: None,
            failure: None,
        },
    ];
    v6.overrides = vec![
        OverrideReason::with_comment(OverrideType::PolicyTestMode, "t=y"),
        OverrideReason::with_comment(OverrideType::SampledOut, "pct=50"),
        OverrideReason::new(OverrideType::Forwarded),
        OverrideReason::with_comment(OverrideType::MailingList, "list <l@x>"),
    ];
    out.push(v6);
    let mut none = obs("198.51.100.7", t + 3);
    none.spf = None;
    none.dkim.clear();
    none.result = DmarcResult::Fail;
    none.disposition = Disposition::Reject;
    none.header_from = "sub.example.com".into();
    out.push(none);
    out
}

/// What `feedback` becomes after writing in `format` and parsing back: the mappings
/// documented in `reports::xml_write`.
fn expected(feedback: &Feedback, format: ReportFormat) -> Feedback {
    let mut f = feedback.clone();
    let clean = |s: &str| sanitize_text(s).into_owned();
    let clean_opt = |s: &Option<String>| s.as_deref().map(clean);
    f.version = Some("1.0".into());
    let m = &mut f.metadata;
    m.org_name = clean(&m.org_name);
    m.email = clean(&m.email);
    m.report_id = clean(&m.report_id);
    m.extra_contact_info = clean_opt(&m.extra_contact_info);
    let errors: Vec<String> = m.errors.iter().map(|e| clean(e)).collect();
    match format {
        ReportFormat::Rfc9990 => {
            let joined: Vec<String> = errors.into_iter().filter(|e| !e.is_empty()).collect();
            m.errors = if joined.is_empty() {
                Vec::new()
            } else {
                vec![joined.join("; ")]
            };
            m.generator = clean_opt(&m.generator);
            f.policy.pct = None;
        }
        ReportFormat::Rfc7489 => {
            m.errors = errors;
            m.generator = None;
            let p = &mut f.policy;
            p.discovery_method = None;
            p.np = None;
            p.testing = None;
            p.sp = Some(p.sp.unwrap_or(p.p));
            p.pct = Some(p.pct.unwrap_or(100));
            p.fo = Some(p.fo.clone().unwrap_or_else(|| "0".into()));
        }
    }
    f.policy.domain = clean(&f.policy.domain);
    f.policy.fo = clean_opt(&f.policy.fo);
    for r in &mut f.records {
        let pe = &mut r.row.policy_evaluated;
        if format == ReportFormat::Rfc7489 && pe.disposition == ActionDisposition::Pass {
            pe.disposition = ActionDisposition::None;
        }
        for reason in &mut pe.reasons {
            let ok = match format {
                ReportFormat::Rfc9990 => reason.kind.in_rfc9990(),
                ReportFormat::Rfc7489 => reason.kind.in_rfc7489(),
            };
            reason.comment = clean_opt(&reason.comment);
            if !ok {
                reason.comment = Some(match reason.comment.as_deref() {
                    Some(c) if !c.is_empty() => format!("{}: {c}", reason.kind),
                    _ => reason.kind.to_string(),
                });
                reason.kind = OverrideType::Other;
            }
        }
        let id = &mut r.identifiers;
        id.header_from = clean(&id.header_from);
        id.envelope_from = clean_opt(&id.envelope_from);
        id.envelope_to = clean_opt(&id.envelope_to);
        if format == ReportFormat::Rfc7489 && id.envelope_from.is_none() {
            id.envelope_from = Some(String::new());
        }
        for d in &mut r.auth_results.dkim {
            d.domain = clean(&d.domain);
            d.selector = clean_opt(&d.selector);
            d.human_result = clean_opt(&d.human_result);
            if format == ReportFormat::Rfc9990 && d.selector.is_none() {
                d.selector = Some(String::new());
            }
        }
        let spf = &mut r.auth_results.spf;
        for s in spf.iter_mut() {
            s.domain = clean(&s.domain);
            s.human_result = clean_opt(&s.human_result);
        }
        match format {
            ReportFormat::Rfc9990 => {
                spf.truncate(1);
                for s in spf.iter_mut() {
                    if s.scope != Some(SpfScope::MailFrom) {
                        s.scope = None;
                    }
                }
            }
            ReportFormat::Rfc7489 => {
                if spf.is_empty() {
                    spf.push(SpfAuthResult {
                        domain: id.envelope_from.clone().unwrap_or_default(),
                        scope: Some(SpfScope::MailFrom),
                        result: SpfResult::None,
                        human_result: None,
                    });
                }
                for s in spf.iter_mut() {
                    s.scope = Some(s.scope.unwrap_or(SpfScope::MailFrom));
                    s.human_result = None;
                    if s.result == SpfResult::Policy {
                        s.result = SpfResult::Neutral;
                    }
                }
            }
        }
    }
    f
}

#[test]
fn report_round_trips_through_both_formats() {
    let fb = build_feedback("example.com", DAY, &scenario(), &reporter()).unwrap();
    assert_eq!(fb.records.len(), 3);
    assert_eq!(fb.records[0].row.count, 2);
    for format in [ReportFormat::Rfc9990, ReportFormat::Rfc7489] {
        let xml = write_feedback(&fb, format).unwrap();
        let back = parse_report(&xml).unwrap();
        assert_eq!(back, expected(&fb, format), "{format:?}");
        let text = String::from_utf8(xml).unwrap();
        assert!(!text.contains('\u{0}') && !text.contains('\u{1b}'));
        match format {
            ReportFormat::Rfc9990 => {
                assert!(text.contains(r#"<feedback xmlns="urn:ietf:params:xml:ns:dmarc-2.0">"#));
                assert!(text.contains("<version>1.0</version>"));
                assert!(text.contains("<np>quarantine</np>"));
                assert!(text.contains("<testing>y</testing>"));
                assert!(text.contains("<fo>1:d</fo>"));
                assert!(text.contains("<source_ip>2001:db8::25</source_ip>"));
            }
            ReportFormat::Rfc7489 => {
                assert!(text.contains("<feedback>"));
                assert!(text.contains("<source_ip>2001:db8:0:0:0:0:0:25</source_ip>"));
                assert!(text.contains("<pct>100</pct>"));
                assert!(text.contains("<type>other</type>"));
                assert!(!text.contains("<type>policy_test_mode</type>"));
                assert!(text.contains("<comment>policy_test_mode: t=y</comment>"));
            }
        }
    }
}

#[test]
fn values_are_escaped() {
    let fb = build_feedback("example.com", DAY, &scenario(), &reporter()).unwrap();
    let text = String::from_utf8(write_feedback(&fb, ReportFormat::Rfc9990).unwrap()).unwrap();
    assert!(
        text.contains("<org_name>Receiver &amp; Co &lt;rx&gt;</org_name>"),
        "{text}"
    );
    assert!(
        text.contains("<selector>sel\u{FFFD}\u{FFFD}[31m</selector>"),
        "{text}"
    );
    assert!(text.contains("<error>invalid sp=bogus; invalid x\u{FFFD}=&lt;&amp;&gt;</error>"));
}

fn arb_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9.-]{0,20}",
        any::<String>().prop_map(|s| s.chars().take(30).collect()),
        Just("  spaced  ".to_string()),
        Just("<&>\"'\r\n\t\u{0}\u{ffff}".to_string()),
    ]
}

fn arb_observation() -> impl Strategy<Value = Observation> {
    let ip = prop_oneof![
        any::<[u8; 4]>().prop_map(IpAddr::from),
        any::<[u16; 8]>().prop_map(IpAddr::from)
    ];
    let dkim = (
        arb_text(),
        arb_text(),
        0usize..7,
        any::<bool>(),
        proptest::option::of(arb_text()),
    )
        .prop_map(
            |(domain, selector, r, aligned, human_result)| DkimObservation {
                domain,
                selector,
                result: [
                    DkimResult::None,
                    DkimResult::Pass,
                    DkimResult::Fail,
                    DkimResult::Policy,
                    DkimResult::Neutral,
                    DkimResult::TempError,
                    DkimResult::PermError,
                ][r],
                aligned,
                human_result,
                failure: None,
            },
        );
    let spf = (arb_text(), any::<bool>(), 0usize..8, any::<bool>()).prop_map(
        |(domain, helo, r, aligned)| SpfObservation {
            domain,
            scope: if helo {
                SpfScope::Helo
            } else {
                SpfScope::MailFrom
            },
            result: [
                SpfResult::None,
                SpfResult::Neutral,
                SpfResult::Pass,
                SpfResult::Fail,
                SpfResult::SoftFail,
                SpfResult::Policy,
                SpfResult::TempError,
                SpfResult::PermError,
            ][r],
            aligned,
        },
    );
    let reason =
        (0usize..7, proptest::option::of(arb_text())).prop_map(|(k, comment)| OverrideReason {
            kind: [
                OverrideType::LocalPolicy,
                OverrideType::MailingList,
                OverrideType::Other,
                OverrideType::PolicyTestMode,
                OverrideType::TrustedForwarder,
                OverrideType::Forwarded,
                OverrideType::SampledOut,
            ][k],
            comment,
        });
    (
        ip,
        arb_text(),
        arb_text(),
        proptest::option::of(spf),
        proptest::collection::vec(dkim, 0..4),
        proptest::collection::vec(reason, 0..3),
        0usize..3,
        0u64..86_400,
    )
        .prop_map(
            |(ip, header_from, envelope_from, spf, dkim, overrides, d, t)| {
                let mut o = obs("192.0.2.1", DAY.begin + t);
                o.source_ip = ip;
                o.header_from = header_from;
                o.envelope_from = envelope_from;
                o.spf = spf;
                o.dkim = dkim;
                o.overrides = overrides;
                o.disposition = [
                    Disposition::None,
                    Disposition::Quarantine,
                    Disposition::Reject,
                ][d];
                o
            },
        )
}

proptest! {
    #[test]
    fn random_observations_round_trip(observations in proptest::collection::vec(arb_observation(), 1..6)) {
        let fb = build_feedback("example.com", DAY, &observations, &reporter()).unwrap();
        prop_assert_eq!(fb.message_count(), observations.len() as u64);
        for format in [ReportFormat::Rfc9990, ReportFormat::Rfc7489] {
            let xml = write_feedback(&fb, format).unwrap();
            let back = parse_report(&xml);
            prop_assert_eq!(back, Ok(expected(&fb, format)));
        }
    }
}

fn e2e() -> bool {
    if std::env::var("AUTHMILTER_E2E").as_deref() == Ok("1") {
        return true;
    }
    println!("skipped: set AUTHMILTER_E2E=1 to validate with xmllint");
    false
}

/// Validates `xml` against `schema` with xmllint; returns xmllint's output on failure.
fn xmllint(schema: &Path, xml: &[u8], dir: &Path, name: &str) -> Result<(), String> {
    let file = dir.join(name);
    std::fs::write(&file, xml).unwrap();
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(schema)
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("xmllint (Debian package libxml2-utils) is missing: {e}"));
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

#[test]
#[ignore = "needs AUTHMILTER_E2E=1"]
fn generated_reports_validate_against_the_rfc_schemas() {
    if !e2e() {
        return;
    }
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/xsd");
    let dir = tempfile::tempdir().unwrap();
    let xsd9990 = data.join("rfc9990.xsd");
    // the published RFC 7489 schema cannot be loaded as is (see tests/data/SOURCE.md)
    let xsd7489 = dir.path().join("rfc7489-no-namespace.xsd");
    let text = std::fs::read_to_string(data.join("rfc7489.xsd")).unwrap();
    let fixed = text.replace(r#" targetNamespace="http://dmarc.org/dmarc-xml/0.1""#, "");
    assert_ne!(fixed, text);
    std::fs::write(&xsd7489, fixed).unwrap();

    // the checker itself: a report missing its required <record> must fail
    let bad =
        b"<feedback xmlns=\"urn:ietf:params:xml:ns:dmarc-2.0\"><version>1.0</version></feedback>";
    assert!(xmllint(&xsd9990, bad, dir.path(), "bad.xml").is_err());

    let mut sets: Vec<Vec<Observation>> = vec![scenario()];
    // random ones too, generated deterministically
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = proptest::collection::vec(arb_observation(), 1..5);
    for _ in 0..20 {
        sets.push(strategy.new_tree(&mut runner).unwrap().current());
    }
    let mut validated = 0;
    for (i, set) in sets.iter().enumerate() {
        let fb = build_feedback("example.com", DAY, set, &reporter()).unwrap();
        for (format, schema) in [
            (ReportFormat::Rfc9990, &xsd9990),
            (ReportFormat::Rfc7489, &xsd7489),
        ] {
            let xml = write_feedback(&fb, format).unwrap();
            if let Err(e) = xmllint(schema, &xml, dir.path(), &format!("{i}-{format:?}.xml")) {
                panic!(
                    "{format:?} set {i} does not validate:\n{e}\n{}",
                    String::from_utf8_lossy(&xml)
                );
            }
            validated += 1;
        }
    }
    assert_eq!(validated, 42);
}
