//! The MIME and mbox containers reports come in, and a failure report given to the
//! aggregate-report reader.

use reports::{Limits, ReportsError, extract_reports};

use crate::archives::gzip;
use crate::report_mail::attach;
use crate::{GOOD, only_error};

#[test]
fn messages_and_mboxes() {
    let limits = Limits::default();
    // a forwarded report: message/rfc822 holding a quoted-printable XML attachment
    let qp = GOOD.replace('=', "=3D");
    let inner = format!(
        "From: r@reporter.example\r\nContent-Type: multipart/mixed; boundary=in\r\n\r\n--in\r\n\
         Content-Type: text/xml\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n{qp}\r\n--in--\r\n"
    );
    let outer = format!(
        "From: someone@forwarder.example\r\nContent-Type: multipart/mixed; boundary=out\r\n\r\n--out\r\n\
         Content-Type: message/rfc822\r\n\r\n{inner}\r\n--out--\r\n"
    );
    let found = extract_reports(outer.as_bytes(), &limits);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].source, "message / part 1 / part 1");
    assert_eq!(
        found[0].report.as_ref().unwrap().idempotency_key(),
        ("Reporter", "id-1")
    );

    // mbox: a gzip report, a message without one, a broken one
    let gz = attach("application/gzip", "a.xml.gz", &gzip(GOOD.as_bytes()));
    let broken = attach("application/gzip", "b.xml.gz", b"not gzip at all");
    let mbox = [
        b"From reporter@example Mon Jan  1 00:00:00 2024\n".to_vec(),
        gz,
        b"\nFrom x@y Mon Jan  1 00:00:00 2024\nSubject: hello\n\nno report here\n".to_vec(),
        b"From z@y Mon Jan  1 00:00:00 2024\n".to_vec(),
        broken,
    ]
    .concat();
    let found = extract_reports(&mbox, &limits);
    let summary: Vec<(String, bool)> = found
        .iter()
        .map(|f| (f.source.clone(), f.report.is_ok()))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("message 1 / part 2 \"a.xml.gz\"".to_string(), true),
            ("message 2".to_string(), false),
            ("message 3 / part 2 \"b.xml.gz\"".to_string(), false),
        ]
    );
    assert!(matches!(
        found[2].report,
        Err(ReportsError::UnknownFormat(_))
    ));

    let small = Limits {
        max_mbox_messages: 2,
        ..Limits::default()
    };
    let found = extract_reports(&mbox, &small);
    assert!(matches!(
        only_error(&found),
        ReportsError::TooMany {
            what: "messages in the mbox",
            limit: 2
        }
    ));

    // MIME nesting and part-count limits
    let mut deep = attach("text/xml", "r.xml", GOOD.as_bytes());
    for i in 0..20 {
        deep = [
            format!("Content-Type: multipart/mixed; boundary=l{i}\r\n\r\n--l{i}\r\n").into_bytes(),
            deep,
            format!("\r\n--l{i}--\r\n").into_bytes(),
        ]
        .concat();
    }
    let found = extract_reports(&deep, &limits);
    assert!(
        matches!(
            only_error(&found),
            ReportsError::TooMany {
                what: "levels of MIME nesting",
                ..
            }
        ),
        "{found:?}"
    );
    let many = format!(
        "Content-Type: multipart/mixed; boundary=m\r\n\r\n{}--m--\r\n",
        "--m\r\nContent-Type: text/plain\r\n\r\nx\r\n".repeat(1000)
    );
    let found = extract_reports(many.as_bytes(), &limits);
    assert!(matches!(
        only_error(&found),
        ReportsError::TooMany {
            what: "MIME parts",
            ..
        }
    ));

    assert!(matches!(
        only_error(&extract_reports(b"\x00\x01binary", &limits)),
        ReportsError::UnknownFormat(_)
    ));
    let too_big = Limits {
        max_input_bytes: 10,
        ..Limits::default()
    };
    assert!(matches!(
        only_error(&extract_reports(GOOD.as_bytes(), &too_big)),
        ReportsError::TooLarge { what: "input", .. }
    ));
}

/// A failure report (RFC 9991 §3, RFC 5965 §2) given to the aggregate-report reader was
/// refused as "no report attachment found", which sent the postmaster looking for a broken
/// attachment; it is named as a failure report now, alone and inside an mbox.
#[test]
fn a_failure_report_is_named_as_such() {
    let arf = b"From: dmarc@reporter.example\r\nTo: ruf@example.com\r\nSubject: DMARC failure report\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report;\r\n report-type=\"Feedback-Report\"; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nA message failed DMARC.\r\n--b\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: auth-failure\r\nVersion: 1\r\n--b--\r\n";
    let plain =
        b"From: a@example.com\r\nTo: b@example.com\r\nSubject: hello\r\n\r\nno report here\r\n";
    let reasons = |input: &[u8]| -> Vec<String> {
        extract_reports(input, &Limits::default())
            .into_iter()
            .map(|r| match r.report {
                Err(ReportsError::NotAReport(why)) => why,
                other => panic!("{other:?}"),
            })
            .collect()
    };
    let failure = "a failure report (RFC 9991, report-type=feedback-report)";
    assert!(reasons(arf)[0].starts_with(failure), "{:?}", reasons(arf));
    assert_eq!(reasons(plain), ["no report attachment found"]);
    let mut mbox = b"From dmarc@reporter.example Thu Dec  3 10:00:00 2026\n".to_vec();
    mbox.extend_from_slice(arf);
    mbox.extend_from_slice(b"From a@example.com Thu Dec  3 10:00:01 2026\n");
    mbox.extend_from_slice(plain);
    let found = reasons(&mbox);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].starts_with(failure), "{found:?}");
    assert_eq!(found[1], "no report attachment found");
}
