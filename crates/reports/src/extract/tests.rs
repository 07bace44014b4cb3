//! The extractor's bounds and labels on hostile input (RFC 9990 §8.1).

use super::*;

/// A report mail whose attachment has `name` as its file name.
fn mail_with_attachment_named(name: &str) -> Vec<u8> {
    format!(
        "From: r@example.org\r\nSubject: Report\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n\
         Content-Type: application/gzip\r\n\
         Content-Disposition: attachment; filename=\"{name}\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\nH4sIAAAAAAAAA0tMAgAA\r\n--b--\r\n"
    )
    .into_bytes()
}

#[test]
fn a_hostile_attachment_name_is_read_in_one_pass_and_labelled_short() {
    // 150,000 encoded-word starts with no end: the reports reader's own decoder searched
    // for an end from each of them (quadratic: ~3 minutes for this 1 MB name in a debug
    // build); the shared one stops at the first start without an end
    let name = "=?a?q?x".repeat(150_000);
    let found = extract_reports(&mail_with_attachment_named(&name), &Limits::default());
    let [only] = found.as_slice() else {
        panic!("one entry expected, got {}", found.len());
    };
    assert!(only.report.is_err(), "the gzip data is cut short");
    // the label repeats 200 characters of the name, not the megabyte
    assert!(only.source.len() < 300, "{} bytes", only.source.len());
    assert!(only.source.contains("=?a?q?x=?a?q?x"));
    assert!(only.source.ends_with("…\""), "{}", only.source);
}

/// A report inside `levels` attached messages (`message/rfc822`), each with `cte`, the
/// report padded to about `size` bytes.
fn report_in_attached_messages(levels: usize, cte: &str, size: usize) -> Vec<u8> {
    let xml = REPORT;
    let mut entity = format!("Content-Type: text/xml\r\n\r\n{xml}{}", " ".repeat(size));
    for _ in 0..levels {
        // quoted-printable of text without `=` is the text itself: no level shrinks
        entity = format!(
            "Content-Type: message/rfc822\r\nContent-Transfer-Encoding: {cte}\r\n\r\n{entity}"
        );
    }
    format!("From: r@example.org\r\n{entity}").into_bytes()
}

/// A report of one record.
const REPORT: &str = "<feedback><report_metadata><org_name>o</org_name><email>e@o</email>\
        <report_id>r1</report_id><date_range><begin>1700000000</begin><end>1700086400</end>\
        </date_range></report_metadata><policy_published><domain>a.example</domain><p>none</p>\
        </policy_published><record><row><source_ip>192.0.2.1</source_ip><count>1</count>\
        <policy_evaluated><disposition>none</disposition><dkim>pass</dkim><spf>pass</spf>\
        </policy_evaluated></row><identifiers><header_from>a.example</header_from>\
        </identifiers><auth_results><spf><domain>a.example</domain><result>pass</result>\
        </spf></auth_results></record></feedback>";

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// RFC 9990 §8.1: every gzip member (RFC 1952 §2.2) costs a fresh decompressor, its
/// allocation and zeroing (~3.5 µs), whatever it holds (an input of 20-byte empty members:
/// ~170 ns a byte, 5.6 s of CPU for 32 MB); the members of all the gzip streams of one
/// input are bounded.
#[test]
fn gzip_members_of_one_input_are_bounded() {
    let limits = Limits::default();
    let mut many = gzip(b"").repeat(limits.max_gzip_members);
    many.extend(gzip(REPORT.as_bytes()));
    let found = extract_reports(&many, &limits);
    let [only] = found.as_slice() else {
        panic!("one entry expected, got {}", found.len());
    };
    assert!(
        matches!(
            only.report,
            Err(ReportsError::TooMany {
                what: MEMBERS,
                limit: 2000
            })
        ),
        "{:?}",
        only.report
    );
    // the budget is the input's: 6 gzip attachments of 2 members each spend 10
    let limits = Limits {
        max_gzip_members: 10,
        ..Limits::default()
    };
    let two = [gzip(b""), gzip(REPORT.as_bytes())].concat();
    let mut mbox = Vec::new();
    for _ in 0..6 {
        mbox.extend_from_slice(b"From x\nFrom: a@b\nContent-Type: application/gzip\n\n");
        mbox.extend_from_slice(&two);
        mbox.push(b'\n');
    }
    let found = extract_reports(&mbox, &limits);
    let read = found.iter().filter(|f| f.report.is_ok()).count();
    assert_eq!(read, 5, "{:?}", found.last());
    assert!(matches!(
        found.last().map(|f| &f.report),
        Some(Err(ReportsError::TooMany { what: MEMBERS, .. }))
    ));
    // a report in a few members reads
    let few = [gzip(b"<feedback>"), gzip(&REPORT.as_bytes()[10..])].concat();
    let found = extract_reports(&few, &limits);
    assert!(found.first().is_some_and(|f| f.report.is_ok()), "{found:?}");
}

/// RFC 9990 §8.1: each attached message with a transfer encoding is a decoded copy held
/// while the ones inside it are read; together they may not exceed the input's limit (8
/// levels of a 32 MB quoted-printable message held 8 copies, ~290 MB).
#[test]
fn decoded_attached_messages_held_at_once_are_bounded_by_the_input_limit() {
    let limits = Limits {
        max_input_bytes: 300_000,
        ..Limits::default()
    };
    let deep = report_in_attached_messages(8, "quoted-printable", 100_000);
    let found = extract_reports(&deep, &limits);
    let [only] = found.as_slice() else {
        panic!("one entry expected, got {}", found.len());
    };
    assert!(
        matches!(
            only.report,
            Err(ReportsError::TooLarge {
                what: HELD,
                limit: 300_000
            })
        ),
        "{:?}",
        only.report
    );
    // two levels fit; without a transfer encoding nothing is copied, so eight do
    for (levels, cte) in [
        (2, "quoted-printable"),
        (8, "7bit"),
        (8, "8bit"),
        (8, "binary"),
    ] {
        let found = extract_reports(&report_in_attached_messages(levels, cte, 100_000), &limits);
        let [only] = found.as_slice() else {
            panic!("one entry expected, got {}", found.len());
        };
        assert!(only.report.is_ok(), "{levels} {cte}: {:?}", only.report);
    }
}

/// `max_mime_parts` bounds the parts of one message (limits.rs, docs/reports.md): an
/// mbox of report mails of three parts each (the message, a text part, the attachment)
/// stopped at its 86th message, with 256 parts counted over the whole mbox.
#[test]
fn the_part_limit_is_per_message_of_an_mbox() {
    let mut mbox = Vec::new();
    for n in 0..100 {
        let xml = REPORT.replace("<report_id>r1<", &format!("<report_id>r{n}<"));
        mbox.extend_from_slice(
            format!(
                "From r@example.org Sat Jan  1 00:00:00 2000\n\
                 From: r@example.org\nContent-Type: multipart/mixed; boundary=b\n\n\
                 --b\nContent-Type: text/plain\n\nA report.\n\
                 --b\nContent-Type: text/xml\n\n{xml}\n--b--\n"
            )
            .as_bytes(),
        );
    }
    let found = extract_reports(&mbox, &Limits::default());
    let read = found.iter().filter(|f| f.report.is_ok()).count();
    assert_eq!(read, 100, "{:?}", found.last());
    // one message of more parts than the limit is still refused
    let parts = "--b\nContent-Type: text/plain\n\nx\n".repeat(300);
    let msg =
        format!("From: r@example.org\nContent-Type: multipart/mixed; boundary=b\n\n{parts}--b--\n");
    let found = extract_reports(msg.as_bytes(), &Limits::default());
    assert!(found.iter().any(|f| matches!(
        f.report,
        Err(ReportsError::TooMany {
            what: "MIME parts",
            limit: 256
        })
    )));
}

#[test]
fn a_short_attachment_name_is_labelled_whole() {
    let found = extract_reports(
        &mail_with_attachment_named("=?utf-8?q?google.com!example.com!1!2.xml.gz?="),
        &Limits::default(),
    );
    let [only] = found.as_slice() else {
        panic!("one entry expected, got {}", found.len());
    };
    assert_eq!(
        only.source,
        "message / part 1 \"google.com!example.com!1!2.xml.gz\""
    );
}

/// A report mail (the reporter's text and a gzip'd report), whole, as an attached message
/// would carry it.
fn report_mail_text() -> String {
    use base64::Engine as _;
    let gz = base64::engine::general_purpose::STANDARD.encode(gzip(REPORT.as_bytes()));
    format!(
        "From: dmarc@r.example\r\nSubject: Report Domain: a.example\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"inner\"\r\n\r\n--inner\r\n\
         Content-Type: text/plain\r\n\r\nreport\r\n--inner\r\n\
         Content-Type: application/gzip; name=\"r.xml.gz\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{gz}\r\n--inner--\r\n"
    )
}

/// The reports of `input` and the part that is neither a report nor text, if any.
fn reports_and_other(input: &[u8]) -> (Vec<ExtractedReport>, Option<OtherPart>) {
    let mut found = Vec::new();
    let other = extract_reports_each(input, &Limits::default(), &mut |r| found.push(r));
    (found, other)
}

/// RFC 9991 §3 / RFC 5965 §2: a failure report (`multipart/report;
/// report-type=feedback-report`) is not an aggregate report sent to us; the report mail in
/// its `message/rfc822` part is evidence of a failure, not read, and the message is more
/// than reports.
#[test]
fn a_failure_report_is_not_walked_into() {
    let arf = format!(
        "From: abuse@receiver.example\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=feedback-report; boundary=\"arf\"\r\n\r\n\
         --arf\r\nContent-Type: text/plain\r\n\r\nA failure report.\r\n\
         --arf\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: auth-failure\r\n\
         Version: 1\r\nAuth-Failure: dmarc\r\n\r\n\
         --arf\r\nContent-Type: message/rfc822\r\n\r\n{}\r\n--arf--\r\n",
        report_mail_text()
    );
    let (found, other) = reports_and_other(arf.as_bytes());
    assert!(found.iter().all(|f| f.report.is_err()), "{found:?}");
    let other = other.expect("a failure report is more than reports");
    assert!(
        other.what.contains("multipart/report") && other.what.contains("feedback-report"),
        "{other:?}"
    );
}

/// A person's mail with a report attached, a question and a PDF: the report is read, and
/// the PDF makes the message more than reports (it must reach the person it was for).
#[test]
fn a_mail_with_a_report_and_a_pdf_is_more_than_reports() {
    use base64::Engine as _;
    let gz = base64::engine::general_purpose::STANDARD.encode(gzip(REPORT.as_bytes()));
    let mail = format!(
        "From: ops@partner.example\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"m\"\r\n\r\n\
         --m\r\nContent-Type: text/plain\r\n\r\nWhy do these fail? See the PDF.\r\n\
         --m\r\nContent-Type: application/gzip; name=\"r.xml.gz\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{gz}\r\n\
         --m\r\nContent-Type: application/pdf; name=\"notes.pdf\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--m--\r\n"
    );
    let (found, other) = reports_and_other(mail.as_bytes());
    assert_eq!(
        found.iter().filter(|f| f.report.is_ok()).count(),
        1,
        "{found:?}"
    );
    let other = other.expect("a PDF is more than reports");
    assert!(other.what.contains("application/pdf"), "{other:?}");
    assert!(other.source.ends_with("part 3 \"notes.pdf\""), "{other:?}");
}

/// A forwarded report mail (`message/rfc822` outside a `multipart/report`): its report is
/// read, and the message is more than reports (a person forwarded it).
#[test]
fn a_forwarded_report_is_read_and_more_than_reports() {
    let fwd = format!(
        "From: a.person@partner.example\r\nMIME-Version: 1.0\r\n\
         Content-Type: message/rfc822\r\n\r\n{}",
        report_mail_text()
    );
    let (found, other) = reports_and_other(fwd.as_bytes());
    assert_eq!(
        found.iter().filter(|f| f.report.is_ok()).count(),
        1,
        "{found:?}"
    );
    assert!(
        other.is_some_and(|o| o.what.contains("message/rfc822")),
        "an attached message is more than reports"
    );
}

/// What reporters send: their text (plain, HTML, or both as alternatives) and the report.
#[test]
fn a_report_mail_with_the_reporters_text_is_only_reports() {
    let mail = report_mail_text().replace(
        "Content-Type: text/plain\r\n\r\nreport\r\n",
        "Content-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n--alt\r\n\
         Content-Type: text/plain\r\n\r\nreport\r\n--alt\r\n\
         Content-Type: text/html\r\n\r\n<p>report</p>\r\n--alt--\r\n",
    );
    let (found, other) = reports_and_other(mail.as_bytes());
    assert_eq!(
        found.iter().filter(|f| f.report.is_ok()).count(),
        1,
        "{found:?}"
    );
    assert_eq!(other, None);
}

/// RFC 2045 §5.1: comments and white space may stand around the type and subtype tokens,
/// and a field may be folded anywhere white space may be: a failure report written so is
/// still a `multipart/report`, not walked into.
#[test]
fn a_failure_report_type_with_comments_or_folds_is_recognized() {
    for ctype in [
        "multipart/report (failure) ; report-type=feedback-report; boundary=\"arf\"",
        "multipart/\r\n report; report-type=feedback-report; boundary=\"arf\"",
        "Multipart (a comment) / (another (nested)) Report ; report-type=feedback-report; boundary=\"arf\"",
    ] {
        let arf = format!(
            "From: abuse@receiver.example\r\nMIME-Version: 1.0\r\n\
             Content-Type: {ctype}\r\n\r\n\
             --arf\r\nContent-Type: text/plain\r\n\r\nA failure report.\r\n\
             --arf\r\nContent-Type: message/rfc822\r\n\r\n{}\r\n--arf--\r\n",
            report_mail_text()
        );
        let (found, other) = reports_and_other(arf.as_bytes());
        assert!(
            found.iter().all(|f| f.report.is_err()),
            "{ctype}: {found:?}"
        );
        assert!(
            other.is_some_and(|o| o.what.contains("multipart/report")),
            "{ctype}"
        );
    }
}

/// A text part is the reporter's text only when shown inline: an attachment (by its
/// disposition or a file name) is something a person sent (a PDF without a type or
/// labelled text/plain, a contract.txt), and the message is more than reports.
#[test]
fn an_attached_text_or_untyped_part_is_more_than_reports() {
    for part in [
        "Content-Disposition: attachment; filename=\"scan.pdf\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n",
        "Content-Type: text/plain; name=\"scan.pdf\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n",
        "Content-Type: text/plain\r\nContent-Disposition: attachment; filename=\"contract.txt\"\r\n\
         \r\nThe contract.\r\n",
        "Content-Type: text/plain\r\nContent-Disposition: Attachment\r\n\r\nNotes.\r\n",
    ] {
        let mail = report_mail_text().replace("--inner--", &format!("--inner\r\n{part}--inner--"));
        let (found, other) = reports_and_other(mail.as_bytes());
        assert_eq!(
            found.iter().filter(|f| f.report.is_ok()).count(),
            1,
            "{part}: {found:?}"
        );
        assert!(
            other.is_some(),
            "{part}: an attachment is more than reports"
        );
    }
    // the reporter's inline text, with a disposition saying so, is not
    let inline = report_mail_text().replace(
        "Content-Type: text/plain\r\n\r\nreport",
        "Content-Type: text/plain\r\nContent-Disposition: inline\r\n\r\nreport",
    );
    assert_eq!(reports_and_other(inline.as_bytes()).1, None);
}
