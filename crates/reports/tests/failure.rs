//! Failure reports (RFC 9991, RFC 6591, RFC 5965): which `fo` options trigger which report,
//! and the report messages, with and without redaction.

use reports::vocabulary::{
    AlignmentMode, DiscoveryMethod, Disposition, DkimResult, DmarcResult, FailureOption, Mode, Psd,
    SpfResult, SpfScope,
};
use reports::{
    DkimObservation, Envelope, FailedMessage, FailureKind, FailureOptions, FailureTriggers, Limits,
    Observation, OriginalContent, PublishedPolicy, RedactionKey, ReportAddress, SpfObservation,
    extract_reports, failure_report_message, failure_reports_requested, triggers_for,
};

fn obs(spf: (SpfResult, bool), dkim: &[(DkimResult, bool)]) -> Observation {
    let spf_pass = spf.0 == SpfResult::Pass && spf.1;
    let dkim_pass = dkim.iter().any(|(r, a)| *r == DkimResult::Pass && *a);
    Observation {
        time: 1_700_000_000,
        source_ip: "192.0.2.2".parse().unwrap(),
        header_from: "example.com".into(),
        envelope_from: "example.com".into(),
        envelope_to: vec!["rx.example".into()],
        policy_domain: Some("example.com".into()),
        result: if spf_pass || dkim_pass {
            DmarcResult::Pass
        } else {
            DmarcResult::Fail
        },
        disposition: if spf_pass || dkim_pass {
            Disposition::None
        } else {
            Disposition::Reject
        },
        requested_policy: Some(Disposition::Reject),
        overrides: Vec::new(),
        spf: Some(SpfObservation {
            domain: "example.com".into(),
            scope: SpfScope::MailFrom,
            result: spf.0,
            aligned: spf.1,
        }),
        dkim: dkim
            .iter()
            .enumerate()
            .map(|(i, (result, aligned))| DkimObservation {
                domain: if *aligned {
                    "example.com".into()
                } else {
                    format!("d{i}.example")
                },
                selector: format!("s{i}"),
                result: *result,
                aligned: *aligned,
                human_result: None,
                failure: None,
            })
            .collect(),
        published: Some(PublishedPolicy {
            p: Disposition::Reject,
            sp: None,
            np: None,
            adkim: AlignmentMode::Relaxed,
            aspf: AlignmentMode::Relaxed,
            testing: false,
            pct: 100,
            psd: Psd::Unknown,
            fo: vec![FailureOption::All],
            rua: Vec::new(),
            ruf: vec![ReportAddress {
                uri: "mailto:ruf@example.com".into(),
                max_size: None,
            }],
            discovery_method: DiscoveryMethod::TreeWalk,
            errors: Vec::new(),
        }),
        mode: Mode::Rfc9989,
    }
}

#[path = "failure/interop.rs"]
mod interop;

use DkimResult as D;
use FailureOption as F;
use SpfResult as S;

#[test]
fn fo_options_trigger_reports() {
    let t = |dmarc: bool, spf: bool, dkim: &[usize]| FailureTriggers {
        dmarc,
        spf,
        dkim: dkim.to_vec(),
    };
    let all_fail = obs((S::Fail, true), &[(D::Fail, true), (D::Pass, false)]);
    let spf_only = obs((S::Pass, true), &[(D::Fail, true)]);
    let both_pass = obs((S::Pass, true), &[(D::Pass, true), (D::PermError, false)]);
    let no_dkim = obs((S::Pass, true), &[]);
    let softfail = obs(
        (S::SoftFail, false),
        &[(D::Pass, true), (D::TempError, false)],
    );
    let cases: Vec<(&[F], &Observation, FailureTriggers)> = vec![
        (&[F::All], &all_fail, t(true, false, &[])),
        (&[F::All], &spf_only, t(false, false, &[])),
        (&[F::Any], &all_fail, t(true, false, &[])),
        (&[F::Any], &spf_only, t(true, false, &[])),
        (&[F::Any], &both_pass, t(false, false, &[])),
        (&[F::Any], &no_dkim, t(true, false, &[])),
        (&[F::Dkim], &all_fail, t(false, false, &[0])),
        (&[F::Dkim], &both_pass, t(false, false, &[1])),
        (&[F::Dkim], &softfail, t(false, false, &[])),
        (&[F::Spf], &all_fail, t(false, true, &[])),
        (&[F::Spf], &softfail, t(false, true, &[])),
        (&[F::Spf], &spf_only, t(false, false, &[])),
        (&[F::All, F::Dkim, F::Spf], &all_fail, t(true, true, &[0])),
        (&[F::Any, F::Spf], &softfail, t(true, true, &[])),
    ];
    for (i, (fo, o, want)) in cases.iter().enumerate() {
        assert_eq!(&triggers_for(fo, o), want, "case {i}: fo={fo:?}");
    }
    assert_eq!(
        t(true, true, &[0]).kinds(),
        vec![FailureKind::Dmarc, FailureKind::Spf, FailureKind::Dkim(0)]
    );
    // DMARC did not conclude: no DMARC report even with fo=1
    let mut temp = spf_only.clone();
    temp.result = DmarcResult::TempError;
    assert!(!triggers_for(&[F::Any], &temp).dmarc);

    // the record's fo, only with a ruf and not for a PSD record (RFC 9991 §2)
    assert_eq!(failure_reports_requested(&all_fail), t(true, false, &[]));
    let mut no_ruf = all_fail.clone();
    no_ruf.published.as_mut().unwrap().ruf.clear();
    assert!(!failure_reports_requested(&no_ruf).any());
    let mut psd = all_fail.clone();
    psd.published.as_mut().unwrap().psd = Psd::Yes;
    assert!(!failure_reports_requested(&psd).any());
    let mut none = all_fail.clone();
    none.published = None;
    assert!(!failure_reports_requested(&none).any());
}

const HEADER: &[u8] = b"Received: from mail.gen.example (mail.gen.example [192.0.2.2])\r\n\tby mx.rx.example for <bob@rx.example>; Tue, 14 Nov 2023 22:13:20 +0000\r\n\
DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=s0; i=alice@example.com; b=abc\r\n\
From: Alice <alice@example.com>\r\nTo: bob@rx.example\r\nSubject: hello\r\n\
Message-ID: <1234@gen.example>\r\n";
const BODY: &[u8] = b"Hi Bob,\r\nsecret stuff\r\n";

fn options() -> FailureOptions {
    FailureOptions {
        from: "dmarc-failures@rx.example".into(),
        authserv_id: "mx.rx.example".into(),
        user_agent: "authmilter/0.1.0".into(),
        reporting_mta: Some("mx.rx.example".into()),
        original: OriginalContent::Headers,
        redaction: None,
    }
}

fn envelope() -> Envelope {
    Envelope {
        source_ip: Some("192.0.2.2".parse().unwrap()),
        helo: "mail.gen.example".into(),
        mail_from: "alice@example.com".into(),
        rcpt_to: vec!["bob@rx.example".into()],
        envelope_id: Some("4Ln7Qw4fnvz6Bq".into()),
    }
}

/// Header fields unfolded (RFC 5322 §2.2.3), so checks do not depend on where lines fold.
fn unfold(s: &str) -> String {
    s.replace("\r\n ", " ").replace("\r\n\t", " ")
}

fn split_parts(msg: &[u8]) -> (String, Vec<String>) {
    let text = String::from_utf8(msg.to_vec()).unwrap();
    let b = text
        .split("boundary=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let chunks: Vec<String> = text.split(&format!("--{b}")).map(str::to_string).collect();
    assert!(
        chunks.last().unwrap().starts_with("--\r\n"),
        "no close delimiter"
    );
    (chunks[0].clone(), chunks[1..chunks.len() - 1].to_vec())
}

#[test]
fn dmarc_failure_report_has_the_afrf_structure() {
    let o = obs((S::Fail, true), &[(D::Fail, true)]);
    let env = envelope();
    let failed = FailedMessage {
        header: HEADER,
        body: Some(BODY),
        envelope: &env,
        spf_records: &[("example.com", "v=spf1 ip4:198.51.100.0/24 -all")],
    };
    let msg = failure_report_message(
        &o,
        FailureKind::Dmarc,
        &failed,
        "ruf@example.com",
        1_700_000_100,
        &options(),
    )
    .unwrap();
    let text = String::from_utf8(msg.clone()).unwrap();
    assert!(!text.replace("\r\n", "").contains('\n'), "bare LF");
    let (head, parts) = split_parts(&msg);
    assert!(
        head.contains("Content-Type: multipart/report; report-type=feedback-report;\r\n boundary=")
    );
    assert!(head.contains("From: dmarc-failures@rx.example\r\nTo: ruf@example.com\r\n"));
    // RFC 3834 §5: automatic mail (auto-responders must not answer it)
    assert!(head.contains("\r\nAuto-Submitted: auto-generated\r\n"));
    assert_eq!(parts.len(), 3);
    assert!(parts[0].starts_with("\r\nContent-Type: text/plain; charset=us-ascii\r\n"));
    assert!(parts[0].contains("received from\r\nIP 192.0.2.2 on 2023-11-14 22:13:20 UTC."));
    let fr = &unfold(&parts[1]);
    assert!(fr.starts_with(
        "\r\nContent-Type: message/feedback-report\r\nContent-Transfer-Encoding: 7bit\r\n\r\n"
    ));
    for field in [
        "Feedback-Type: auth-failure\r\n",
        "Version: 1\r\n",
        "User-Agent: authmilter/0.1.0\r\n",
        "Auth-Failure: dmarc\r\n",
        "Authentication-Results: mx.rx.example; dmarc=fail (p=reject dis=reject) header.from=example.com\r\n",
        "Identity-Alignment: dkim, spf\r\n",
        "DKIM-Domain: example.com\r\n",
        "DKIM-Identity: @example.com\r\n",
        "DKIM-Selector: s0\r\n",
        "SPF-DNS: txt : example.com : \"v=spf1 ip4:198.51.100.0/24 -all\"\r\n",
        "Original-Envelope-Id: 4Ln7Qw4fnvz6Bq\r\n",
        "Original-Mail-From: <alice@example.com>\r\n",
        "Original-Rcpt-To: <bob@rx.example>\r\n",
        "Arrival-Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n",
        "Reporting-MTA: dns; mx.rx.example\r\n",
        "Source-IP: 192.0.2.2\r\n",
        "Reported-Domain: example.com\r\n",
        "Delivery-Result: reject\r\n",
    ] {
        assert!(fr.contains(field), "{field:?} missing in\n{fr}");
    }
    // headers only by default
    assert!(parts[2].starts_with(
        "\r\nContent-Type: text/rfc822-headers\r\nContent-Transfer-Encoding: 7bit\r\n\r\n"
    ));
    assert!(parts[2].contains("From: Alice <alice@example.com>\r\n"));
    assert!(!text.contains("secret stuff"));

    // the whole message on request
    let mut full = options();
    full.original = OriginalContent::FullMessage;
    let msg = failure_report_message(&o, FailureKind::Dmarc, &failed, "ruf@example.com", 1, &full)
        .unwrap();
    let (_, parts) = split_parts(&msg);
    assert!(parts[2].starts_with("\r\nContent-Type: message/rfc822\r\n"));
    assert!(parts[2].contains("Message-ID: <1234@gen.example>\r\n\r\nHi Bob,\r\nsecret stuff\r\n"));

    // a report message is not mistaken for an aggregate report by the extractor
    let found = extract_reports(&msg, &Limits::default());
    assert!(found[0].report.is_err());
}

#[test]
fn spf_and_dkim_failure_reports() {
    let o = obs((S::SoftFail, false), &[(D::Pass, true), (D::Fail, false)]);
    let env = envelope();
    let failed = FailedMessage {
        header: HEADER,
        body: None,
        envelope: &env,
        spf_records: &[],
    };
    let msg = failure_report_message(
        &o,
        FailureKind::Spf,
        &failed,
        "ruf@example.com",
        1,
        &options(),
    )
    .unwrap();
    let text = unfold(&String::from_utf8(msg).unwrap());
    assert!(text.contains("Auth-Failure: spf\r\n"));
    assert!(text.contains(
        "Authentication-Results: mx.rx.example; spf=softfail smtp.mailfrom=example.com\r\n"
    ));
    assert!(!text.contains("Identity-Alignment") && !text.contains("DKIM-Domain"));
    assert!(text.contains("Delivery-Result: delivered\r\n"));

    let msg = failure_report_message(
        &o,
        FailureKind::Dkim(1),
        &failed,
        "ruf@example.com",
        1,
        &options(),
    )
    .unwrap();
    let text = unfold(&String::from_utf8(msg).unwrap());
    assert!(text.contains("Auth-Failure: signature\r\n"));
    assert!(
        text.contains("dkim=fail header.d=d1.example header.s=s1\r\n"),
        "{text}"
    );
    assert!(text.contains(
        "DKIM-Domain: d1.example\r\nDKIM-Identity: @d1.example\r\nDKIM-Selector: s1\r\n"
    ));
    assert!(
        failure_report_message(
            &o,
            FailureKind::Dkim(7),
            &failed,
            "ruf@example.com",
            1,
            &options()
        )
        .is_err()
    );
}

#[test]
fn redaction_hashes_local_parts_and_drops_the_body() {
    let o = obs((S::Fail, false), &[(D::Fail, true)]);
    let env = envelope();
    let failed = FailedMessage {
        header: HEADER,
        body: Some(BODY),
        envelope: &env,
        spf_records: &[],
    };
    let key = RedactionKey(b"a long local secret".to_vec());
    let mut opts = options();
    opts.original = OriginalContent::FullMessage;
    opts.redaction = Some(key.clone());
    let msg = failure_report_message(&o, FailureKind::Dmarc, &failed, "ruf@example.com", 1, &opts)
        .unwrap();
    let text = unfold(&String::from_utf8(msg).unwrap());
    let alice = key.token(b"alice");
    let bob = key.token(b"bob");
    assert!(!text.contains("alice@") && !text.contains("bob@"), "{text}");
    assert!(text.contains(&format!("From: Alice <{alice}@example.com>\r\n")));
    assert!(text.contains(&format!("for <{bob}@rx.example>;")));
    assert!(text.contains(&format!("i={alice}@example.com;")));
    assert!(text.contains(&format!("Original-Mail-From: <{alice}@example.com>\r\n")));
    assert!(text.contains(&format!("Original-Rcpt-To: <{bob}@rx.example>\r\n")));
    assert!(text.contains("Content-Type: text/rfc822-headers\r\n"));
    assert!(!text.contains("secret stuff"));
    assert!(text.contains("Local parts of addresses are redacted (RFC 6590)."));
    // our own report sender stays as it is
    assert!(text.contains("From: dmarc-failures@rx.example\r\n"));
}

/// Redacted, the `SPF-DNS` fields name only records whose names are not made of the sender:
/// an include built from `%{l}` names the local part in clear, so it is left out; the
/// domain's own record and an include it names as written stay.
#[test]
fn redaction_leaves_out_spf_records_named_by_the_local_part() {
    let o = obs((S::Fail, true), &[]);
    let env = envelope();
    let records = [
        (
            "example.com",
            "v=spf1 include:_spf.example.com include:%{l}.u.example.com -all",
        ),
        ("_spf.example.com", "v=spf1 ip4:198.51.100.0/24 -all"),
        // named by the local part, and what it names in turn
        (
            "alice.u.example.com",
            "v=spf1 include:alice.relays.example.com -all",
        ),
        ("alice.relays.example.com", "v=spf1 -all"),
        // a name that holds an earlier target's name is not that target
        ("x_spf.example.com", "v=spf1 -all"),
    ];
    let failed = FailedMessage {
        header: HEADER,
        body: None,
        envelope: &env,
        spf_records: &records,
    };
    let key = RedactionKey(b"a long local secret".to_vec());
    let mut opts = options();
    let dns = |opts: &FailureOptions| -> Vec<String> {
        let msg = failure_report_message(&o, FailureKind::Spf, &failed, "ruf@example.com", 1, opts)
            .unwrap();
        unfold(&String::from_utf8(msg).unwrap())
            .split("\r\n")
            .filter(|l| l.starts_with("SPF-DNS:"))
            .map(|l| l.split(" : ").nth(1).unwrap_or_default().to_string())
            .collect()
    };
    assert_eq!(
        dns(&opts),
        [
            "example.com",
            "_spf.example.com",
            "alice.u.example.com",
            "alice.relays.example.com",
            "x_spf.example.com"
        ]
    );
    opts.redaction = Some(key.clone());
    assert_eq!(dns(&opts), ["example.com", "_spf.example.com"]);
    // the domain's own record too long to be kept: the first record kept is not its own
    let records = [
        ("alice.u.example.com", "v=spf1 -all"),
        ("other.example", "v=spf1 -all"),
    ];
    let failed = FailedMessage {
        spf_records: &records,
        ..failed
    };
    let msg =
        failure_report_message(&o, FailureKind::Spf, &failed, "ruf@example.com", 1, &opts).unwrap();
    let text = unfold(&String::from_utf8(msg).unwrap());
    assert!(!text.contains("SPF-DNS:"), "{text}");
}

#[test]
fn hostile_message_content_stays_inside_its_part() {
    let o = obs((S::Fail, false), &[(D::Fail, true)]);
    let env = Envelope {
        mail_from: "x@y\r\nBcc: victim@example.org".into(),
        ..envelope()
    };
    // a header block that contains what would be our boundary and 8-bit text
    let header =
        "Subject: --=_dmarc_ and ünïcode\r\nX-Long: ".to_string() + &"a".repeat(2000) + "\r\n";
    let failed = FailedMessage {
        header: header.as_bytes(),
        body: None,
        envelope: &env,
        spf_records: &[],
    };
    let msg = failure_report_message(
        &o,
        FailureKind::Dmarc,
        &failed,
        "ruf@example.com",
        1,
        &options(),
    )
    .unwrap();
    let (_, parts) = split_parts(&msg);
    assert_eq!(parts.len(), 3);
    assert!(parts[1].contains("Original-Mail-From: <x@y Bcc: victim@example.org>\r\n"));
    // a header line over 998 octets cannot go as 8bit
    assert!(
        parts[2]
            .contains("Content-Type: text/rfc822-headers\r\nContent-Transfer-Encoding: base64\r\n")
    );
    let short = "Subject: ünïcode\r\n";
    let failed = FailedMessage {
        header: short.as_bytes(),
        ..failed
    };
    let msg = failure_report_message(
        &o,
        FailureKind::Dmarc,
        &failed,
        "ruf@example.com",
        1,
        &options(),
    )
    .unwrap();
    let (_, parts) = split_parts(&msg);
    // 8-bit header fields go base64: a relay that does not offer 8BITMIME must not be sent
    // 8-bit octets (RFC 6152 §3), and mail readers decode the part all the same
    assert!(
        parts[2]
            .contains("Content-Type: text/rfc822-headers\r\nContent-Transfer-Encoding: base64\r\n"),
        "{}",
        parts[2]
    );
    assert!(msg.is_ascii());
    // a bare CR (RFC 2045 §2.8: CR only in CRLF; RFC 5321 §2.3.8, Sendmail refuses it) cannot go
    // as 7bit/8bit either: the header block goes base64, and no bare CR reaches the relay
    let bare_cr = "Subject: caf\u{e9} and bare\rCR\r\n";
    let failed = FailedMessage {
        header: bare_cr.as_bytes(),
        ..failed
    };
    let msg = failure_report_message(
        &o,
        FailureKind::Dmarc,
        &failed,
        "ruf@example.com",
        1,
        &options(),
    )
    .unwrap();
    let (_, parts) = split_parts(&msg);
    assert!(
        parts[2]
            .contains("Content-Type: text/rfc822-headers\r\nContent-Transfer-Encoding: base64\r\n"),
        "{}",
        parts[2]
    );
    assert!(
        !msg.iter()
            .enumerate()
            .any(|(i, &b)| b == b'\r' && msg.get(i + 1) != Some(&b'\n')),
        "a bare CR in the report"
    );
    assert!(
        failure_report_message(
            &o,
            FailureKind::Dmarc,
            &failed,
            "not an address",
            1,
            &options()
        )
        .is_err()
    );
}

/// RFC 8616 §5: in EAI mail `d=` and `s=` SHOULD be U-labels; a signature that does not parse
/// gives whatever its tags held. The report stays a valid ASCII message (RFC 5322 §2.1.1 line
/// limit, RFC 5965 §7.3 7bit report part) and names the signer by its A-label, not by the
/// ASCII letters left after dropping the others.
#[test]
fn internationalized_and_hostile_dkim_tags_give_a_valid_report() {
    let mut o = obs((S::Fail, false), &[(D::Fail, true), (D::PermError, false)]);
    o.dkim[0].domain = "bücher.example".into();
    o.dkim[0].selector = "sélecteur".into();
    o.dkim[1].domain = "x.example".into();
    o.dkim[1].selector = "a".repeat(3000) + "\u{e9}\"\\";
    let env = envelope();
    let failed = FailedMessage {
        header: HEADER,
        body: None,
        envelope: &env,
        spf_records: &[("example.com", &("v=spf1 ".to_string() + &"x".repeat(2000)))],
    };
    for kind in [
        FailureKind::Dmarc,
        FailureKind::Dkim(0),
        FailureKind::Dkim(1),
        FailureKind::Spf,
    ] {
        let msg =
            failure_report_message(&o, kind, &failed, "ruf@example.com", 1, &options()).unwrap();
        let text = String::from_utf8(msg).unwrap();
        for line in text.split("\r\n") {
            assert!(
                line.len() <= 998,
                "{kind:?}: a line of {} octets",
                line.len()
            );
        }
        let (head, parts) = split_parts(text.as_bytes());
        assert!(head.is_ascii(), "{kind:?}: 8-bit in the header:\n{head}");
        assert!(
            parts[0].is_ascii(),
            "{kind:?}: 8-bit in the us-ascii text part"
        );
        assert!(
            parts[1].is_ascii(),
            "{kind:?}: 8-bit in the 7bit report part"
        );
        if kind == FailureKind::Dkim(0) || kind == FailureKind::Dmarc {
            let fr = unfold(&parts[1]);
            assert!(
                fr.contains("DKIM-Domain: xn--bcher-kva.example\r\n")
                    && fr.contains("DKIM-Identity: @xn--bcher-kva.example\r\n")
                    && fr.contains("DKIM-Selector: xn--slecteur-b1a\r\n"),
                "{fr}"
            );
        }
    }
}

/// `fo=d` makes one report per failed signature: each is its own message, so each has its own
/// Message-ID (RFC 5322 §3.6.4: unique), or a consumer that drops duplicates keeps only one.
#[test]
fn each_dkim_report_of_a_message_has_its_own_message_id() {
    let o = obs((S::Fail, false), &[(D::Fail, false), (D::Fail, false)]);
    let env = envelope();
    let failed = FailedMessage {
        header: HEADER,
        body: None,
        envelope: &env,
        spf_records: &[],
    };
    // the Message-ID of the report on `obs` as `kind`, about the message `failed`
    let id_of = |obs: &Observation, kind, failed: &FailedMessage<'_>| {
        let msg =
            failure_report_message(obs, kind, failed, "ruf@example.com", 1, &options()).unwrap();
        let text = unfold(&String::from_utf8(msg).unwrap());
        text.lines()
            .find_map(|l| l.strip_prefix("Message-ID: "))
            .unwrap()
            .to_string()
    };
    let id = |kind| id_of(&o, kind, &failed);
    let ids = [
        id(FailureKind::Dkim(0)),
        id(FailureKind::Dkim(1)),
        id(FailureKind::Dmarc),
        id(FailureKind::Spf),
    ];
    for (i, a) in ids.iter().enumerate() {
        for b in ids.iter().skip(i + 1) {
            assert_ne!(a, b, "{ids:?}");
        }
    }
    // the same report again keeps its Message-ID
    assert_eq!(id(FailureKind::Dkim(1)), ids[1]);
    // a message with two author domains gives a report about each, maybe to one consumer
    let mut other = o.clone();
    other.header_from = "other.example".into();
    other.policy_domain = Some("other.example".into());
    assert_ne!(id_of(&other, FailureKind::Dmarc, &failed), ids[2]);
    // the same message sent twice in one second to two recipients (an MTA that splits it
    // per recipient, or a second copy with another queue id) gives two reports, each unique
    for changed in [
        Envelope {
            rcpt_to: vec!["carol@rx.example".into()],
            ..envelope()
        },
        Envelope {
            envelope_id: Some("5Mo8Rx5gowA7Cr".into()),
            ..envelope()
        },
    ] {
        let failed = FailedMessage {
            envelope: &changed,
            ..failed
        };
        assert_ne!(
            id_of(&o, FailureKind::Dmarc, &failed),
            ids[2],
            "{changed:?}"
        );
    }
}
