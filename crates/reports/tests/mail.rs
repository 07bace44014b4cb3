//! The whole outbound path as the binary drives it: messages evaluated by the dmarc crate →
//! observations → the day's aggregate report → one mail per `rua` destination (RFC 9990
//! §3.5.2) → read back by the report extractor, as a receiver of our reports would.

use dmarc::{Config, DkimAuth, DkimOutcome, Dmarc, SpfAuth, SpfOutcome, SpfScope};
use dns::memory::MemoryResolver;
use reports::{
    AppliedPolicy, DateRange, Delivery, Envelope, Feedback, Limits, MailOptions, Observation,
    ReportFormat, ReporterInfo, aggregate_report_deliveries, aggregate_report_message,
    build_feedback, extract_reports, parse_report, report_filename, report_subject, write_feedback,
};

const DAY: DateRange = DateRange {
    begin: 1_700_006_400,
    end: 1_700_092_799,
};

fn reporter() -> ReporterInfo {
    ReporterInfo {
        org_name: "rx.example".into(),
        email: "dmarc-reports@rx.example".into(),
        extra_contact_info: None,
        submitter: "rx.example".into(),
        generator: Some("authmilter".into()),
        include_envelope_to: false,
    }
}

async fn observations() -> Vec<Observation> {
    let dns = MemoryResolver::from_zone(
        r#"
_dmarc.example.com TXT "v=DMARC1; p=reject; rua=mailto:agg@example.com,mailto:small@example.com!1k,https://r.example/x; ruf=mailto:f@example.com; fo=1"
example.com A 192.0.2.80
"#,
    )
    .unwrap();
    let dmarc = Dmarc::new(Config::default());
    let mut out = Vec::new();
    let cases = [
        ("192.0.2.1", DkimOutcome::Pass, SpfOutcome::Pass),
        ("192.0.2.1", DkimOutcome::Pass, SpfOutcome::Pass),
        ("198.51.100.9", DkimOutcome::Fail, SpfOutcome::Fail),
    ];
    for (i, (ip, dkim, spf)) in cases.into_iter().enumerate() {
        let from: [&[u8]; 1] = [b" A <a@example.com>"];
        let spf = SpfAuth::new(spf, "example.com", SpfScope::MailFrom);
        let sigs = [DkimAuth::new(dkim, "example.com", "s1")];
        let outcome = dmarc.evaluate(&dns, &from, Some(&spf), &sigs).await;
        let eval = outcome.primary().unwrap();
        let envelope = Envelope {
            source_ip: Some(ip.parse().unwrap()),
            helo: "mx.example.com".into(),
            mail_from: "bounce@example.com".into(),
            rcpt_to: vec!["user@rx.example".into()],
            envelope_id: None,
        };
        let obs = Observation::from_evaluation(
            eval,
            &envelope,
            AppliedPolicy::as_evaluated(eval),
            DAY.begin + 100 + i as u64,
            &[],
        );
        out.push(obs);
    }
    out
}

fn check_message_syntax(msg: &[u8]) {
    let text = std::str::from_utf8(msg).unwrap();
    assert!(text.is_ascii());
    for (i, line) in text.split("\r\n").enumerate() {
        assert!(
            !line.contains('\n') && !line.contains('\r'),
            "bare LF/CR in line {i}"
        );
        assert!(line.len() <= 78, "line {i} too long: {line:?}");
    }
    assert!(text.ends_with("\r\n"));
}

#[tokio::test]
async fn evaluated_mail_becomes_a_report_mail_that_reads_back() {
    let observations = observations().await;
    assert!(observations.iter().all(Observation::wants_aggregate_report));
    let fb = build_feedback("example.com", DAY, &observations, &reporter()).unwrap();
    assert_eq!(fb.records.len(), 2);
    assert_eq!(fb.message_count(), 3);
    let opts = MailOptions::new("rx.example", "dmarc-reports@rx.example");
    let rua = &observations[0].published.as_ref().unwrap().rua;
    let deliveries = aggregate_report_deliveries(&fb, rua, DAY.end + 600, &opts).unwrap();
    assert_eq!(deliveries.len(), 3);
    let Delivery::Send { address, message } = &deliveries[0] else {
        panic!("{:?}", deliveries[0]);
    };
    assert_eq!(address, "agg@example.com");
    match &deliveries[1] {
        Delivery::TooLarge { uri, size, limit } => {
            assert_eq!((uri.as_str(), *limit), ("mailto:small@example.com", 1024));
            assert!(
                *size > 1024 && size.abs_diff(message.len() as u64) < 10,
                "{size}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        deliveries[2],
        Delivery::Unsupported {
            uri: "https://r.example/x".into()
        }
    );

    check_message_syntax(message);
    let text = String::from_utf8_lossy(message);
    let filename = format!("rx.example!example.com!{}!{}.xml.gz", DAY.begin, DAY.end);
    let subject = format!(
        "Subject: Report Domain: example.com Submitter: rx.example Report-ID:\r\n <{}.example.com@rx.example>\r\n",
        DAY.begin
    );
    assert!(text.contains(&subject), "{text}");
    assert!(text.contains("\r\nTo: agg@example.com\r\n"));
    assert!(
        text.contains("\r\nDate: Thu, 16 Nov 2023 00:09:59 +0000\r\n"),
        "{text}"
    );
    assert!(text.contains("MIME-Version: 1.0\r\nContent-Type: multipart/mixed;\r\n boundary="));
    // RFC 3834 §5: automatic mail (auto-responders must not answer it)
    assert!(text.contains("\r\nAuto-Submitted: auto-generated\r\n"));
    assert!(text.contains("Content-Type: text/plain; charset=us-ascii\r\n"));
    assert!(text.contains(&format!(
        "Content-Type: application/gzip;\r\n name=\"{filename}\""
    )));
    assert!(text.contains(&format!(
        "Content-Disposition: attachment;\r\n filename=\"{filename}\""
    )));
    assert!(text.contains(&format!("Message-ID: <{}.example.com.", DAY.begin)));

    // read back as a receiver of our reports: exactly the XML we wrote
    let found = extract_reports(message, &Limits::default());
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].source.contains(&filename), "{}", found[0].source);
    let direct: Feedback =
        parse_report(&write_feedback(&fb, ReportFormat::Rfc9990).unwrap()).unwrap();
    assert_eq!(found[0].report.as_ref().unwrap(), &direct);
    assert_eq!(
        direct.records[1].row.policy_evaluated.disposition.as_str(),
        "reject"
    );

    // the same report to the same destination is the same message (re-sent reports keep
    // their identifiers, RFC 9990 §3.5.2); another destination gets another Message-ID
    let again = aggregate_report_message(&fb, "agg@example.com", DAY.end + 600, &opts).unwrap();
    assert_eq!(&again, message);
    let other = aggregate_report_message(&fb, "x@example.com", DAY.end + 600, &opts).unwrap();
    let mid = |m: &[u8]| {
        let t = String::from_utf8_lossy(m).into_owned();
        t.lines()
            .find(|l| l.starts_with("Message-ID:"))
            .unwrap()
            .to_string()
    };
    assert_ne!(mid(&other), mid(message));
}

#[tokio::test]
async fn uncompressed_and_rfc7489_variants() {
    let fb = build_feedback("example.com", DAY, &observations().await, &reporter()).unwrap();
    let mut opts = MailOptions::new("rx.example", "dmarc-reports@rx.example");
    opts.compress = false;
    opts.format = ReportFormat::Rfc7489;
    opts.unique_id = Some("abc123".into());
    let msg = aggregate_report_message(&fb, "agg@example.com", DAY.end, &opts).unwrap();
    check_message_syntax(&msg);
    let text = String::from_utf8_lossy(&msg);
    let filename = format!(
        "rx.example!example.com!{}!{}!abc123.xml",
        DAY.begin, DAY.end
    );
    assert!(
        text.contains(&format!("Content-Type: text/xml;\r\n name=\"{filename}\"")),
        "{text}"
    );
    let found = extract_reports(&msg, &Limits::default());
    let back = found[0].report.as_ref().unwrap();
    assert_eq!(back.policy.pct, Some(100));
    assert_eq!(back.records.len(), 2);

    opts.unique_id = Some("no-dashes".into());
    assert!(aggregate_report_message(&fb, "agg@example.com", DAY.end, &opts).is_err());
    assert!(
        aggregate_report_message(
            &fb,
            "agg@example.com\r\nBcc: x@y",
            DAY.end,
            &MailOptions::new("rx.example", "a@rx.example")
        )
        .is_err()
    );
}

#[test]
fn names_and_subjects() {
    assert_eq!(
        report_filename(
            "mail.receiver.example",
            "example.com",
            DateRange {
                begin: 1013662812,
                end: 1013749130
            },
            None,
            true
        )
        .unwrap(),
        "mail.receiver.example!example.com!1013662812!1013749130.xml.gz"
    );
    assert_eq!(
        report_subject(
            "example.com",
            "mail.receiver.example",
            "sample-ridtxt@example.com"
        ),
        "Report Domain: example.com Submitter: mail.receiver.example Report-ID: <sample-ridtxt@example.com>"
    );
    // nothing from the data can break out of the subject
    assert_eq!(
        report_subject("ex\r\nample.com", "rx", "a>\r\nBcc: <b"),
        "Report Domain: example.com Submitter: rx Report-ID: <aBcc:b>"
    );
    // `_` is part of a DNS name (RFC 2181 §11): `_m.example` is not `m.example`
    assert!(report_subject("_m.example", "rx", "id").starts_with("Report Domain: _m.example "));
    assert!(
        report_filename(
            "rx",
            "_m.example",
            DateRange { begin: 1, end: 2 },
            None,
            false
        )
        .unwrap()
        .starts_with("rx!_m.example!")
    );
}

/// `envelope_to` keeps the distinct recipient domains up to two (RFC 9990 §3.1.1.10 names one
/// domain), so a message to thousands of recipients records no more than one to two.
#[tokio::test]
async fn an_observation_keeps_at_most_two_recipient_domains() {
    let dns = MemoryResolver::from_zone(r#"_dmarc.example.com TXT "v=DMARC1; p=none""#).unwrap();
    let dmarc = Dmarc::new(Config::default());
    let from: [&[u8]; 1] = [b" a@example.com"];
    let spf = SpfAuth::new(SpfOutcome::Pass, "example.com", SpfScope::MailFrom);
    let outcome = dmarc.evaluate(&dns, &from, Some(&spf), &[]).await;
    let eval = outcome.primary().unwrap();
    let observed = |rcpt_to: Vec<String>| {
        let envelope = Envelope {
            source_ip: Some("192.0.2.1".parse().unwrap()),
            helo: "mx.example.com".into(),
            mail_from: "bounce@example.com".into(),
            rcpt_to,
            envelope_id: None,
        };
        Observation::from_evaluation(
            eval,
            &envelope,
            AppliedPolicy::as_evaluated(eval),
            DAY.begin,
            &[],
        )
        .envelope_to
    };
    let same: Vec<String> = (0..3).map(|i| format!("u{i}@RX.example")).collect();
    assert_eq!(observed(same), ["rx.example"]);
    let many: Vec<String> = (0..50_000).map(|i| format!("u@d{i}.example")).collect();
    assert_eq!(observed(many), ["d0.example", "d1.example"]);
}

/// 190 random letters and digits at each call (xorshift from `seed`): DKIM selectors that
/// do not compress.
fn incompressible_labels(mut seed: u64) -> impl FnMut() -> String {
    move || {
        (0..190)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                char::from(b"abcdefghijklmnopqrstuvwxyz0123456789"[(seed % 36) as usize])
            })
            .collect()
    }
}

/// RFC 9990 §3.5.2: a report may exceed what the receiver's SMTP service accepts. A sender
/// that makes every message a row of its own, with DKIM selectors that do not compress, made
/// a 40 MB report mail that the relay refused (552), losing the day's report with its
/// legitimate rows. The file is cut to its budget, keeping the rows with the most messages
/// in their order, and what was left out is counted.
#[tokio::test]
async fn a_report_too_large_to_send_keeps_the_rows_with_the_most_messages() {
    let observations = observations().await;
    let mut fb = build_feedback("example.com", DAY, &observations, &reporter()).unwrap();
    let template = fb.records[1].clone();
    fb.records[0].row.count = 100_000;
    let mut junk = incompressible_labels(0x2545_f491_4f6c_dd1d);
    for i in 0..400u32 {
        let mut r = template.clone();
        r.row.source_ip = std::net::IpAddr::from([198, 51, (i / 250) as u8, (i % 250) as u8]);
        r.row.count = 1 + u64::from(i % 3);
        r.auth_results.dkim[0].selector = Some(junk());
        fb.records.push(r);
    }
    let total = fb.message_count();
    let rows = fb.records.len();
    let before = fb.records.clone();
    let opts = MailOptions::new("rx.example", "dmarc-reports@rx.example");
    let budget = 20_000;
    let left = reports::fit_report_file(&mut fb, &opts, budget).unwrap();
    assert!(left.rows > 0 && left.rows < rows as u64, "{left:?}");
    assert_eq!(fb.records.len() as u64 + left.rows, rows as u64);
    assert_eq!(fb.message_count() + left.messages, total);
    assert_eq!(
        fb.records[0].row.count, 100_000,
        "the largest row stays first"
    );
    // what remains fits: one more pass leaves nothing out
    assert_eq!(
        reports::fit_report_file(&mut fb, &opts, budget).unwrap(),
        reports::LeftOut::default()
    );
    // no row left out stood for more messages than a row kept, and the kept keep their order
    let dropped: Vec<_> = before.iter().filter(|r| !fb.records.contains(r)).collect();
    let kept_min = fb.records.iter().map(|r| r.row.count).min().unwrap();
    assert!(dropped.iter().all(|r| r.row.count <= kept_min));
    let order: Vec<_> = before.iter().filter(|r| fb.records.contains(r)).collect();
    assert!(order.iter().zip(&fb.records).all(|(a, b)| *a == b));
    let message = aggregate_report_message(&fb, "agg@example.com", DAY.end + 600, &opts).unwrap();
    assert!(message.len() < budget * 3 / 2, "{}", message.len());
}

/// The rows with the most messages can be the large ones: a sender whose messages each carry
/// many random DKIM selectors sends each a few times, among many one-message rows of little
/// size. Dropping a share of the rows a pass at a time took only the small rows for as many
/// passes as it made, and a 9.3 MB file went out that a relay refuses. However the sizes fall,
/// the file ends within its bound, and only rows with fewer messages than every kept row go.
#[tokio::test]
async fn a_report_whose_largest_rows_have_the_most_messages_still_fits() {
    let observations = observations().await;
    let mut fb = build_feedback("example.com", DAY, &observations, &reporter()).unwrap();
    let template = fb.records[1].clone();
    fb.records.clear();
    let mut junk = incompressible_labels(0x9e37_79b9_7f4a_7c15);
    for i in 0..3_000u32 {
        let mut r = template.clone();
        r.row.source_ip = std::net::IpAddr::from([10, 0, (i / 250) as u8, (i % 250) as u8]);
        r.row.count = 1;
        fb.records.push(r);
    }
    for i in 0..40u32 {
        let mut r = template.clone();
        r.row.source_ip = std::net::IpAddr::from([198, 51, 100, i as u8]);
        r.row.count = 2;
        let sig = r.auth_results.dkim[0].clone();
        r.auth_results.dkim = (0..20)
            .map(|_| {
                let mut s = sig.clone();
                s.selector = Some(junk());
                s
            })
            .collect();
        fb.records.push(r);
    }
    let opts = MailOptions::new("rx.example", "dmarc-reports@rx.example");
    let file = |fb: &reports::Feedback| {
        use std::io::Write;
        let xml = reports::write_feedback(fb, opts.format).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&xml).unwrap();
        gz.finish().unwrap().len()
    };
    let heavy_alone = {
        let mut heavy = fb.clone();
        heavy.records.retain(|r| r.row.count == 2);
        file(&heavy)
    };
    // the bound is under what the rows with the most messages take alone
    let budget = heavy_alone * 85 / 100;
    let (rows, total) = (fb.records.len() as u64, fb.message_count());
    let left = reports::fit_report_file(&mut fb, &opts, budget).unwrap();
    assert!(file(&fb) <= budget, "{} > {budget}: {left:?}", file(&fb));
    assert_eq!(fb.records.len() as u64 + left.rows, rows);
    assert_eq!(fb.message_count() + left.messages, total);
    assert!(
        fb.records.iter().all(|r| r.row.count == 2),
        "every one-message row goes before a row of two"
    );
    assert!(fb.records.len() > 20, "most of what fits is kept: {left:?}");
}

/// RFC 9990 §3.1.1.9: a row whose alignment failed and whose applied policy differs from the
/// published one MUST carry a reason. A DMARC temperror (an aligned key lookup timed out)
/// delivered under `p=reject` (`[policy] temperror = "accept"`) had none.
#[tokio::test]
async fn an_undecided_result_delivered_under_p_reject_says_why() {
    let dns = MemoryResolver::from_zone("_dmarc.example.com TXT \"v=DMARC1; p=reject\"").unwrap();
    let from: [&[u8]; 1] = [b" a@example.com"];
    let sigs = [DkimAuth::new(DkimOutcome::TempError, "example.com", "s1")];
    let outcome = Dmarc::new(Config::default())
        .evaluate(&dns, &from, None, &sigs)
        .await;
    let eval = outcome.primary().unwrap();
    assert_eq!(eval.result, dmarc::DmarcResult::TempError);
    let envelope = Envelope {
        source_ip: Some("192.0.2.1".parse().unwrap()),
        helo: "mx.example.com".into(),
        mail_from: "a@example.com".into(),
        rcpt_to: vec!["user@rx.example".into()],
        envelope_id: None,
    };
    let obs = Observation::from_evaluation(
        eval,
        &envelope,
        reports::AppliedPolicy::as_evaluated(eval),
        DAY.begin + 10,
        &[],
    );
    assert_eq!(obs.overrides.len(), 1, "{:?}", obs.overrides);
    assert_eq!(
        obs.overrides[0].kind,
        reports::vocabulary::OverrideType::LocalPolicy
    );
    assert_eq!(obs.overrides[0].comment.as_deref(), Some("DMARC temperror"));
}
