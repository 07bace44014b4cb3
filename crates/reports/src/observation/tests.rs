//! Tests of [`super::Observation`] and its parts.

use super::*;
use dmarc::{DkimAuth, DkimOutcome, SpfAuth, SpfOutcome};

fn evaluation() -> dmarc::Evaluation {
    let record =
        dmarc::parse_record(b"v=DMARC1; p=reject; pct=50; rua=mailto:d@example.com!10m; fo=1:d")
            .unwrap();
    dmarc::Evaluation {
        author_domain: "example.com".into(),
        result: dmarc::DmarcResult::Fail,
        org_domain: Some("example.com".into()),
        discovery: dmarc::DiscoveryMethod::Psl,
        policy_domain: Some("example.com".into()),
        record_source: Some(dmarc::RecordSource::AuthorDomain),
        record: Some(record),
        policy: Some(dmarc::Policy::Reject),
        policy_source: Some(dmarc::PolicySource::P),
        author_domain_exists: None,
        disposition: dmarc::Disposition::Quarantine,
        sampled_out: true,
        testing: false,
        spf: Some(dmarc::SpfCheck {
            auth: SpfAuth::new(
                SpfOutcome::Pass,
                "bounce.other.example",
                dmarc::SpfScope::MailFrom,
            ),
            aligned: false,
            pass: false,
        }),
        dkim: vec![dmarc::DkimCheck {
            auth: DkimAuth::new(DkimOutcome::Fail, "example.com", "sel"),
            aligned: true,
            pass: false,
        }],
        reasons: Vec::new(),
    }
}

#[test]
fn from_evaluation_keeps_everything_a_report_needs() {
    let envelope = Envelope {
        source_ip: Some("192.0.2.7".parse().unwrap()),
        helo: "mx.other.example".into(),
        mail_from: "bounce@Bounce.Other.Example".into(),
        rcpt_to: vec![
            "a@rx.example".into(),
            "b@RX.example".into(),
            "c@second.example".into(),
        ],
        envelope_id: None,
    };
    let eval = evaluation();
    let obs = Observation::from_evaluation(
        &eval,
        &envelope,
        AppliedPolicy::as_evaluated(&eval),
        1_700_000_000,
        &[],
    );
    assert_eq!(obs.time, 1_700_000_000);
    assert_eq!(obs.source_ip.to_string(), "192.0.2.7");
    assert_eq!(obs.header_from, "example.com");
    assert_eq!(obs.envelope_from, "bounce.other.example");
    assert_eq!(obs.envelope_to, vec!["rx.example", "second.example"]);
    assert_eq!(obs.policy_domain.as_deref(), Some("example.com"));
    assert_eq!(obs.result, DmarcResult::Fail);
    assert_eq!(obs.disposition, Disposition::Quarantine);
    assert_eq!(obs.requested_policy, Some(Disposition::Reject));
    assert_eq!(
        obs.overrides,
        vec![OverrideReason::with_comment(
            OverrideType::SampledOut,
            "pct=50"
        )]
    );
    assert_eq!(obs.mode, Mode::Rfc7489);
    let spf = obs.spf.as_ref().unwrap();
    assert_eq!(
        (spf.result, spf.aligned, spf.scope),
        (SpfResult::Pass, false, SpfScope::MailFrom)
    );
    assert_eq!(obs.dkim.len(), 1);
    assert_eq!(obs.dkim[0].selector, "sel");
    assert!(obs.dkim[0].aligned && !obs.dkim_aligned_pass() && !obs.spf_aligned_pass());
    let p = obs.published.as_ref().unwrap();
    assert_eq!(p.p, Disposition::Reject);
    assert_eq!(p.pct, 50);
    assert_eq!(p.fo, vec![FailureOption::Any, FailureOption::Dkim]);
    assert_eq!(p.rua[0].max_size, Some(10 << 20));
    assert_eq!(p.discovery_method, DiscoveryMethod::Psl);
    assert!(obs.wants_aggregate_report());

    // the store keeps it as JSON and gets the same thing back
    let json = serde_json::to_string(&obs).unwrap();
    assert!(json.contains("\"sampled_out\""), "{json}");
    let back: Observation = serde_json::from_str(&json).unwrap();
    assert_eq!(back, obs);
}

#[test]
fn local_override_is_kept_and_null_sender_has_empty_envelope_from() {
    let mut eval = evaluation();
    eval.sampled_out = false;
    eval.spf = None;
    let envelope = Envelope {
        mail_from: String::new(),
        ..Envelope::default()
    };
    let applied = AppliedPolicy::overridden(
        Disposition::None,
        OverrideReason::with_comment(OverrideType::TrustedForwarder, "list.example"),
    );
    let obs = Observation::from_evaluation(&eval, &envelope, applied, 5, &[]);
    assert_eq!(obs.envelope_from, "");
    assert_eq!(obs.source_ip.to_string(), "0.0.0.0");
    assert_eq!(obs.overrides.len(), 1);
    assert_eq!(obs.overrides[0].kind, OverrideType::TrustedForwarder);
    assert_eq!(obs.disposition, Disposition::None);
}

#[test]
fn hostile_uri_lists_are_capped() {
    // RFC 9990 §3.5: every URI "up to the Receiver's limits on supported URIs"
    let rua: Vec<String> = (0..500)
        .map(|i| format!("mailto:a{i}@example.com"))
        .collect();
    let ruf: Vec<String> = (0..500)
        .map(|i| format!("mailto:f{i}@example.com"))
        .collect();
    let text = format!(
        "v=DMARC1; p=reject; rua={}; ruf={}",
        rua.join(","),
        ruf.join(",")
    );
    let record = dmarc::parse_record(text.as_bytes()).unwrap();
    let p = PublishedPolicy::from_record(&record, DiscoveryMethod::TreeWalk);
    let cap = crate::destination::MAX_REPORT_URIS;
    assert_eq!((p.rua.len(), p.ruf.len()), (cap, cap));
    assert_eq!(p.rua[0].uri, "mailto:a0@example.com");
    assert_eq!(
        p.ruf[cap - 1].uri,
        format!("mailto:f{}@example.com", cap - 1)
    );
    // the Domain Owner learns why (RFC 9990 §3.1.5 `error`)
    assert!(
        p.errors
            .iter()
            .any(|e| e.contains("rua") && e.contains("500")),
        "{:?}",
        p.errors
    );
}

/// The record is the domain owner's, up to a DNS message of 64 KiB, and the store keeps it
/// in every distinct row (one a message, for a sender who varies anything recorded): a
/// thousand junk tags or ten URIs of 6 KB each must not make each row 60 KB. What a report
/// carries of it (`error`, RFC 9990 §3.1.5; usable URIs, RFC 5321 §4.5.3.1 paths of 256
/// octets) fits in a few KiB.
#[test]
fn a_hostile_record_is_recorded_within_bounds() {
    let junk: Vec<String> = (0..1000)
        .map(|i| format!("pct=junk{i}{}", "x".repeat(50)))
        .collect();
    let long = format!("mailto:{}@example.com", "a".repeat(6000));
    let rua = [long.as_str(); 10].join(",");
    let text = format!(
        "v=DMARC1; p=reject; rua={rua},mailto:ok@example.com; {}",
        junk.join("; ")
    );
    assert!(text.len() > 60_000);
    let record = dmarc::parse_record(text.as_bytes()).unwrap();
    let p = PublishedPolicy::from_record(&record, DiscoveryMethod::TreeWalk);
    let stored = serde_json::to_string(&p).unwrap();
    assert!(stored.len() < 8192, "{} bytes", stored.len());
    // the Domain Owner still learns what was wrong, in short
    assert!(
        p.errors.iter().any(|e| e.contains("more")),
        "{:?}",
        p.errors
    );
    assert!(
        p.errors
            .iter()
            .any(|e| e.contains("rua") && e.contains("long")),
        "{:?}",
        p.errors
    );
}

#[test]
fn a_message_full_of_signatures_is_recorded_within_bounds() {
    // 1000 junk DKIM-Signature fields with long selectors, the aligned pass last: the
    // store keeps at most what a report row carries (RFC 9990 §3.1.3), the best first
    let mut eval = evaluation();
    let junk = "x".repeat(5000);
    eval.dkim = (0..1000)
        .map(|i| dmarc::DkimCheck {
            auth: DkimAuth::new(DkimOutcome::PermError, format!("j{i}.{junk}"), &junk),
            aligned: false,
            pass: false,
        })
        .collect();
    eval.dkim.push(dmarc::DkimCheck {
        auth: DkimAuth::new(DkimOutcome::Pass, "example.com", "good"),
        aligned: true,
        pass: true,
    });
    let obs = Observation::from_evaluation(
        &eval,
        &Envelope::default(),
        AppliedPolicy::as_evaluated(&eval),
        5,
        &[],
    );
    assert_eq!(obs.dkim.len(), crate::aggregate::MAX_DKIM_PER_ROW);
    assert!(obs.dkim_aligned_pass(), "the aligned pass is kept");
    assert!(
        obs.dkim
            .iter()
            .all(|d| d.domain.len() <= MAX_NAME && d.selector.len() <= MAX_NAME)
    );
    // message order is kept among those kept
    assert!(
        obs.dkim[0].domain.starts_with("j0."),
        "{}",
        obs.dkim[0].domain
    );
    assert!(serde_json::to_string(&obs).unwrap().len() < 64 * 1024);
}

#[test]
fn address_domains() {
    assert_eq!(address_domain("<A@B.Example.>"), "b.example");
    assert_eq!(address_domain(""), "");
    assert_eq!(address_domain("postmaster"), "");
}

/// SMTPUTF8 envelopes (RFC 6531) may write a domain as U-labels: it is recorded as its
/// lowercase A-label, the spelling of `header_from` and of the SPF domain (which SPF looked up
/// as A-labels), so one domain is one `envelope_to` / `envelope_from` in the report
/// (RFC 9990 §3.1.1.10) whatever the sender wrote.
#[test]
fn utf8_address_domains_are_a_labels() {
    assert_eq!(
        address_domain("<jürgen@Bücher.Example>"),
        "xn--bcher-kva.example"
    );
    assert_eq!(address_domain("x@BÜCHER.example."), "xn--bcher-kva.example");
    assert_eq!(
        address_domain("x@xn--bcher-kva.example"),
        "xn--bcher-kva.example"
    );
    // no domain name at all: kept, lowercased, as before
    assert_eq!(address_domain("x@[192.0.2.1]"), "[192.0.2.1]");
}

/// The SPF domain (from a trusted upstream's A-R it may be U-labels) and a DKIM `d=`/`s=` in
/// U-labels (RFC 8616 §5) are recorded as lowercase A-labels, as `header_from` is: one
/// domain, one spelling in the report's rows (RFC 9990 §3.1.1).
#[test]
fn u_label_auth_domains_are_recorded_as_a_labels() {
    let mut eval = evaluation();
    eval.spf = Some(dmarc::SpfCheck {
        auth: SpfAuth::new(
            SpfOutcome::Pass,
            "Bücher.example",
            dmarc::SpfScope::MailFrom,
        ),
        aligned: false,
        pass: false,
    });
    eval.dkim = vec![dmarc::DkimCheck {
        auth: DkimAuth::new(DkimOutcome::Pass, "bücher.example", "Sél"),
        aligned: false,
        pass: false,
    }];
    let envelope = Envelope {
        source_ip: Some("192.0.2.7".parse().unwrap()),
        helo: "mx.other.example".into(),
        mail_from: "jürgen@bücher.example".into(),
        rcpt_to: vec!["a@rx.example".into()],
        envelope_id: None,
    };
    let obs =
        Observation::from_evaluation(&eval, &envelope, AppliedPolicy::as_evaluated(&eval), 5, &[]);
    assert_eq!(obs.envelope_from, "xn--bcher-kva.example");
    let spf = obs.spf.as_ref().unwrap();
    assert_eq!(spf.domain, "xn--bcher-kva.example");
    assert_eq!(obs.dkim[0].domain, "xn--bcher-kva.example");
    assert_eq!(obs.dkim[0].selector, "xn--sl-bja");
}
