//! Failure reports as their readers read them: the report part in 7-bit ASCII (RFC 5965 §7.3)
//! and one line per field, so parsedmarc, which does not unfold, reads every value.

use super::*;

/// SMTPUTF8 mail (RFC 6531): the envelope addresses and ENVID hold UTF-8. The
/// message/feedback-report part MUST be 7bit (RFC 5965 §7.3 registration, "7bit ... MUST be
/// used"), so they are written in ASCII: the domain as its A-labels, other non-ASCII
/// characters as RFC 6533 §3 `\x{HEX}`; redacted local parts keep their token. parsedmarc
/// read the raw UTF-8 as `=?utf-8?b?...?=`.
#[test]
fn utf8_envelope_addresses_are_7bit_in_the_report_part() {
    let mut o = obs((S::Fail, true), &[(D::Fail, true)]);
    o.spf.as_mut().unwrap().domain = "bücher.example".into();
    let env = Envelope {
        source_ip: Some("2001:db8::25".parse().unwrap()),
        helo: "mail.gen.example".into(),
        mail_from: "jürgen@bücher.example".into(),
        rcpt_to: vec!["bob@rx.example".into(), "ünï@Rx.Exämple".into()],
        envelope_id: Some("id-ü".into()),
    };
    let failed = FailedMessage {
        header: HEADER,
        body: None,
        envelope: &env,
        spf_records: &[("bücher.example", "v=spf1 -all")],
    };
    let key = RedactionKey(b"secret".to_vec());
    let token = key.redact_address("jürgen@x").replace("@x", "");
    for (redaction, from, bob, rcpt) in [
        (
            None,
            "j\\x{FC}rgen@xn--bcher-kva.example".to_string(),
            "bob@rx.example".to_string(),
            "\\x{FC}n\\x{EF}@rx.xn--exmple-cua".to_string(),
        ),
        (
            Some(key.clone()),
            format!("{token}@xn--bcher-kva.example"),
            key.redact_address("bob@rx.example"),
            format!(
                "{}@rx.xn--exmple-cua",
                key.redact_address("ünï@x").replace("@x", "")
            ),
        ),
    ] {
        for kind in [FailureKind::Dmarc, FailureKind::Spf, FailureKind::Dkim(0)] {
            let opts = FailureOptions {
                redaction: redaction.clone(),
                ..options()
            };
            let msg =
                failure_report_message(&o, kind, &failed, "ruf@example.com", 1, &opts).unwrap();
            let (_, parts) = split_parts(&msg);
            let fr = unfold(&parts[1]);
            assert!(
                fr.is_ascii(),
                "{kind:?}: 8-bit in the 7bit report part:\n{fr}"
            );
            for want in [
                format!("Original-Mail-From: <{from}>\r\n"),
                format!("Original-Rcpt-To: <{bob}>\r\n"),
                format!("Original-Rcpt-To: <{rcpt}>\r\n"),
                "Original-Envelope-Id: id-\\x{FC}\r\n".to_string(),
            ] {
                assert!(fr.contains(&want), "{kind:?}: no {want:?} in\n{fr}");
            }
            if kind == FailureKind::Spf {
                assert!(
                    fr.contains("smtp.mailfrom=xn--bcher-kva.example\r\n"),
                    "{fr}"
                );
            }
        }
    }
}

/// Each field of the report part is one line (up to RFC 5322 §2.1.1's 998 octets), as
/// OpenDMARC and the reporters in parsedmarc's samples write them: parsedmarc reads the part
/// line by line (`^([\w\-]+): ([^\r\n]+)$`) without unfolding, so a folded
/// `Authentication-Results` lost its `header.from` / `header.d` / `header.s`. Folding is
/// legal (RFC 5965 §3.5 fields are RFC 5322 fields), but this is what readers read.
#[test]
fn report_part_fields_are_not_folded() {
    let mut o = obs((S::Fail, true), &[(D::Fail, true)]);
    o.header_from = format!("{}.example.com", "long-label".repeat(5));
    o.dkim[0].domain = o.header_from.clone();
    o.dkim[0].selector = "selector-2024-with-a-long-name".into();
    let env = envelope();
    let record = format!("v=spf1 {}-all", "ip4:192.0.2.0/24 ".repeat(20));
    let failed = FailedMessage {
        header: HEADER,
        body: None,
        envelope: &env,
        spf_records: &[("example.com", &record)],
    };
    for kind in [FailureKind::Dmarc, FailureKind::Spf, FailureKind::Dkim(0)] {
        let msg =
            failure_report_message(&o, kind, &failed, "ruf@example.com", 1, &options()).unwrap();
        let (_, parts) = split_parts(&msg);
        let fields = parts[1].split("\r\n\r\n").nth(1).unwrap();
        let mut long = 0;
        for line in fields.split("\r\n").filter(|l| !l.is_empty()) {
            let (name, value) = line.split_once(": ").unwrap_or(("", ""));
            assert!(
                !name.is_empty()
                    && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    && !value.is_empty(),
                "{kind:?}: a continuation line {line:?} in\n{fields}"
            );
            assert!(line.len() <= 998);
            long += usize::from(line.len() > 78);
        }
        assert!(long > 0, "{kind:?}: the test needs a field longer than 78");
        let ar = fields
            .lines()
            .find_map(|l| l.strip_prefix("Authentication-Results: "))
            .unwrap();
        let want = match kind {
            FailureKind::Dmarc => format!("header.from={}", o.header_from),
            FailureKind::Spf => "smtp.mailfrom=example.com".into(),
            FailureKind::Dkim(_) => "header.s=selector-2024-with-a-long-name".into(),
        };
        assert!(ar.ends_with(&want), "{kind:?}: {ar}");
    }
}
