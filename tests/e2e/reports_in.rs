//! Reports in, through the milter: `authmilter serve` with `[reports.inbox]`, driven by the
//! fake MTA over loopback. A message to the report address is read and stored (gzip, zip,
//! text/xml attachments, nested multiparts), then delivered or discarded as configured;
//! discard happens only once the reports are stored; what cannot be read is delivered and
//! logged; other mail is never captured. The helpers the other reports-in tests share (report
//! XML, report mails, the vendored samples, a serve with an inbox) live in its two modules.

use std::time::{Duration, Instant};

// The reports and report mails the tests send, and the vendored samples.
mod synthetic_reports;
// A serve with [reports.inbox] and what its store holds.
mod inbox;
// Who sent a report: forged reporters shown unverified, never discarded.
mod forged_reporters;

pub(crate) use inbox::{Inbox, stored_messages, wait_stored_messages};
pub(crate) use synthetic_reports::{
    DAY, Src, days_ago, gzip, read_sample, report, report_mail, sample, xml, ymd, zip,
};

#[tokio::test(flavor = "multi_thread")]
async fn deliver_reads_reports_in_the_background_and_never_captures_other_mail() {
    let inbox = Inbox::start("action = \"deliver\"\nmax_size = 262144\n");
    let day = days_ago(1);
    let fb = report(
        "reporter.example",
        "deliver-1",
        "example.com",
        day,
        &[
            Src::good("192.0.2.1", 40, "example.com"),
            Src::spoofer("198.51.100.7", 2),
        ],
    );
    let gz = gzip(&xml(&fb));
    let msg = report_mail(
        "dmarc@rx.example",
        "deliver-1",
        &[(
            "application/gzip",
            "reporter.example!example.com!1!2.xml.gz",
            &gz,
        )],
    );
    let out = inbox.send(&["DMARC@rx.example"], &msg).await;
    assert_eq!(out.action(), "accept", "delivered: {out:?}");
    inbox.wait_messages("example.com", day, 42);

    // a vendored real report mail: zip attachment (mail-auth 100.eml, stalw.art)
    let out = inbox
        .send(&["dmarc@rx.example"], &read_sample("mail-auth/100.eml"))
        .await;
    assert_eq!(out.action(), "accept");
    let d100 = 1_669_507_200; // 2022-11-27, the report's day
    let deadline = Instant::now() + Duration::from_secs(20);
    while inbox.messages("stalw.art", d100) == 0 {
        assert!(Instant::now() < deadline, "{}", inbox.serve.log_tail(30));
        std::thread::sleep(Duration::from_millis(100));
    }

    // over max_size: delivered untouched, unread, logged
    let big = report_mail(
        "dmarc@rx.example",
        "too-big",
        &[(
            "text/xml",
            "big.xml",
            &read_sample("dmarc-reports/good.com!example.com!1337270400!1337356799.xml"),
        )],
    );
    let out = inbox.send(&["dmarc@rx.example"], &big).await;
    assert_eq!(out.action(), "accept");
    assert!(
        inbox.serve.log_text().contains(
            "message not read (larger than reports.inbox.max_size (262144 bytes)); delivered untouched"
        ),
        "{}",
        inbox.serve.log_tail(20)
    );
    assert_eq!(inbox.messages("example.com", 1_337_212_800), 0);

    // mail to anyone else is not captured, even with a report attached
    let other = report_mail(
        "bob@rx.example",
        "not-for-inbox",
        &[("text/xml", "r.xml", &read_sample("mail-auth/003.xml"))],
    );
    let before = inbox.serve.log_text().matches("reports inbox").count();
    let out = inbox.send(&["bob@rx.example"], &other).await;
    assert_eq!(out.action(), "accept");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        inbox.serve.log_text().matches("reports inbox").count(),
        before
    );
    assert_eq!(inbox.messages("stalw.art", 1_667_347_200), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn discard_only_once_stored_and_unreadable_reports_are_delivered() {
    let inbox = Inbox::start("action = \"discard\"\ndiscard_timeout = \"20s\"\n");
    let day = days_ago(2);

    // each kind of attachment: discarded, and in the store the moment the milter answered
    let plain = xml(&report(
        "reporter.example",
        "xml-1",
        "example.com",
        day,
        &[Src::good("192.0.2.1", 5, "example.com")],
    ));
    let zipped = zip(
        "reporter.example!example.com!1!2.xml",
        &xml(&report(
            "reporter.example",
            "zip-1",
            "example.com",
            day,
            &[Src::good("192.0.2.2", 7, "example.com")],
        )),
    );
    for (marker, parts, total) in [
        (
            "text-xml",
            vec![("text/xml", "r.xml", plain.as_slice())],
            5u64,
        ),
        (
            "zip",
            vec![("application/zip", "r.zip", zipped.as_slice())],
            12,
        ),
    ] {
        let out = inbox
            .send(
                &["dmarc@rx.example"],
                &report_mail("dmarc@rx.example", marker, &parts),
            )
            .await;
        assert_eq!(out.action(), "discard", "{marker}: {out:?}");
        assert_eq!(inbox.messages("example.com", day), total, "{marker}");
    }
    // vendored report mails: gzip in multipart/mixed (101), nested multiparts (102), gzip as
    // application/octet-stream named .xml.gz (104)
    for eml in ["101", "102", "104"] {
        let out = inbox
            .send(
                &["dmarc@rx.example"],
                &read_sample(&format!("mail-auth/{eml}.eml")),
            )
            .await;
        assert_eq!(out.action(), "discard", "{eml}.eml");
    }
    let stalwart = inbox.show(&["--since", "2022-09-01", "--until", "2022-11-30"]);
    let reports: u64 = stalwart["domains"]
        .as_array()
        .expect("domains")
        .iter()
        .map(|d| d["reports"].as_u64().expect("reports"))
        .sum();
    assert_eq!(reports, 3, "{stalwart:#}");
    // the same report again: already stored, so discarding loses nothing
    let out = inbox
        .send(&["dmarc@rx.example"], &read_sample("mail-auth/101.eml"))
        .await;
    assert_eq!(out.action(), "discard");

    // a broken attachment: delivered untouched, the reason in the log
    let mut broken = gzip(&plain);
    broken.truncate(broken.len() / 2);
    let out = inbox
        .send(
            &["dmarc@rx.example"],
            &report_mail(
                "dmarc@rx.example",
                "broken",
                &[("application/gzip", "broken.xml.gz", &broken)],
            ),
        )
        .await;
    assert_eq!(out.action(), "accept", "{out:?}");
    let log = inbox.serve.log_text();
    assert!(
        log.contains("cannot read a report") && log.contains("gzip"),
        "{log}"
    );
    assert!(
        log.contains("message delivered, not discarded: no report could be read"),
        "{log}"
    );

    // one good and one broken report: the good one is stored, the message delivered
    let good = xml(&report(
        "reporter.example",
        "mixed-1",
        "example.com",
        day,
        &[Src::spoofer("198.51.100.9", 3)],
    ));
    let out = inbox
        .send(
            &["dmarc@rx.example"],
            &report_mail(
                "dmarc@rx.example",
                "mixed",
                &[
                    ("text/xml", "good.xml", &good),
                    ("text/xml", "bad.xml", b"<feedback><report_metadata>"),
                ],
            ),
        )
        .await;
    assert_eq!(out.action(), "accept");
    assert_eq!(inbox.messages("example.com", day), 15);
    assert!(
        inbox
            .serve
            .log_text()
            .contains("a part could not be read (1 stored, 0 already stored, 1 unreadable)")
    );

    // another recipient besides the report address: delivered to all, the report stored
    let other = xml(&report(
        "reporter.example",
        "two-rcpts",
        "example.com",
        day,
        &[Src::good("192.0.2.3", 1, "example.com")],
    ));
    let out = inbox
        .send(
            &["dmarc@rx.example", "bob@rx.example"],
            &report_mail("dmarc@rx.example", "two", &[("text/xml", "r.xml", &other)]),
        )
        .await;
    assert_eq!(out.action(), "accept");
    inbox.wait_messages("example.com", day, 16);

    // no report at all: delivered
    let out = inbox
        .send(
            &["dmarc@rx.example"],
            &crate::support::message(&[
                "From: someone@elsewhere.example",
                "To: dmarc@rx.example",
                "Subject: question about your DMARC policy",
                "",
                "Hello, why do you reject my mail?",
            ]),
        )
        .await;
    assert_eq!(out.action(), "accept");
    // not from an authenticated sender: delivered without waiting for the reading
    let logged = test_support::process::poll(Duration::from_secs(20), || {
        inbox
            .serve
            .log_text()
            .contains("no report attachment found")
            .then_some(())
    });
    assert!(logged.is_some(), "{}", inbox.serve.log_tail(20));
}

/// Hostile report mail (anyone can write to the `rua` address): with `domains` set, a report
/// about a domain that is not ours is not stored and its message is delivered, not
/// discarded; a forged report sent first with a real report's Report-ID does not hide the
/// real one (RFC 9990 §3.5.1, §3.5.4), both are kept and a warning names the reused ID.
#[tokio::test(flavor = "multi_thread")]
async fn reports_about_other_domains_and_reused_report_ids() {
    let inbox = Inbox::start(
        "action = \"discard\"\ndiscard_timeout = \"20s\"\ndomains = [\"example.com\"]\n",
    );
    let day = days_ago(3);
    let send = |id: &str, domain: &str, rows: &[Src]| {
        let body = xml(&report("reporter.example", id, domain, day, rows));
        report_mail(
            "dmarc@rx.example",
            id,
            &[("text/xml", "r.xml", body.as_slice())],
        )
    };
    // about someone else's domain: delivered, not stored, logged
    let out = inbox
        .send(
            &["dmarc@rx.example"],
            &send(
                "foreign-1",
                "paypal.example",
                &[Src::spoofer("198.51.100.1", 9)],
            ),
        )
        .await;
    assert_eq!(out.action(), "accept", "{out:?}");
    assert_eq!(inbox.messages("paypal.example", day), 0);
    let log = inbox.serve.log_text();
    assert!(
        log.contains("report about a domain reports.inbox.domains does not list; not stored")
            && log.contains("message delivered, not discarded: a report is about a domain reports.inbox.domains does not list"),
        "{}",
        inbox.serve.log_tail(20)
    );
    // a subdomain of ours is ours
    let out = inbox
        .send(
            &["dmarc@rx.example"],
            &send(
                "sub-1",
                "mail.example.com",
                &[Src::good("192.0.2.4", 2, "mail.example.com")],
            ),
        )
        .await;
    assert_eq!(out.action(), "discard", "{out:?}");
    assert_eq!(inbox.messages("mail.example.com", day), 2);

    // a forgery with the real report's Report-ID arrives first; then the real report
    let forged = send(
        "rid-7",
        "example.com",
        &[Src::good("203.0.113.66", 1000, "example.com")],
    );
    let real = send("rid-7", "example.com", &[Src::spoofer("198.51.100.7", 5)]);
    assert_eq!(
        inbox.send(&["dmarc@rx.example"], &forged).await.action(),
        "discard"
    );
    assert_eq!(
        inbox.send(&["dmarc@rx.example"], &real).await.action(),
        "discard"
    );
    assert_eq!(inbox.messages("example.com", day), 1005, "both kept");
    assert!(
        inbox.serve.log_text().contains(
            "a report with this Report-ID but other contents was stored before; both are kept"
        ),
        "{}",
        inbox.serve.log_tail(20)
    );
    // each of them again: a duplicate, nothing counted twice
    for again in [&forged, &real] {
        assert_eq!(
            inbox.send(&["dmarc@rx.example"], again).await.action(),
            "discard"
        );
    }
    assert_eq!(inbox.messages("example.com", day), 1005);
}

/// Anyone can mail the `rua` address, so the inbox reads within its own bounds (RFC 9990
/// §8.1): a report of more than `max_records` records is not stored, the reason is logged and
/// the message delivered, not discarded (for `report import`); one within it is stored.
#[tokio::test(flavor = "multi_thread")]
async fn a_report_over_the_inbox_record_limit_is_delivered_unread() {
    let inbox = Inbox::start("action = \"discard\"\ndiscard_timeout = \"20s\"\nmax_records = 2\n");
    let day = days_ago(2);
    let rows = [
        Src::good("192.0.2.1", 5, "example.com"),
        Src::good("192.0.2.2", 7, "example.com"),
        Src::spoofer("198.51.100.9", 3),
    ];
    let three = xml(&report(
        "reporter.example",
        "big-1",
        "example.com",
        day,
        &rows,
    ));
    let out = inbox
        .send(
            &["dmarc@rx.example"],
            &report_mail("dmarc@rx.example", "big", &[("text/xml", "r.xml", &three)]),
        )
        .await;
    assert_eq!(out.action(), "accept", "{out:?}");
    let log = inbox.serve.log_text();
    assert!(log.contains("more than 2 records"), "{log}");
    assert_eq!(inbox.messages("example.com", day), 0);

    let two = xml(&report(
        "reporter.example",
        "small-1",
        "example.com",
        day,
        rows.get(..2).unwrap_or_default(),
    ));
    let out = inbox
        .send(
            &["dmarc@rx.example"],
            &report_mail("dmarc@rx.example", "small", &[("text/xml", "r.xml", &two)]),
        )
        .await;
    assert_eq!(out.action(), "discard", "{out:?}");
    assert_eq!(inbox.messages("example.com", day), 12);
}

/// Looking up the names of a report's sources never holds up storing the next report: a
/// report whose sources' PTR lookups hang (anyone can mail one, each new `report_id` again)
/// kept the inbox's one worker 15–20 s a message, so a few a minute filled its queue and real
/// reports were delivered unread.
#[tokio::test(flavor = "multi_thread")]
async fn hanging_name_lookups_do_not_hold_up_the_next_report() {
    let (inbox, _silent) = Inbox::start_with_silent_dns("action = \"deliver\"\n");
    let day = days_ago(1);
    let send = |id: &'static str, rows: Vec<Src>| {
        let fb = report("reporter.example", id, "example.com", day, &rows);
        report_mail("dmarc@rx.example", id, &[("text/xml", "r.xml", &xml(&fb))])
    };
    let first = send(
        "hang-1",
        vec![
            Src::spoofer("198.51.100.7", 1),
            Src::spoofer("198.51.100.8", 1),
        ],
    );
    assert_eq!(
        inbox.send(&["dmarc@rx.example"], &first).await.action(),
        "accept"
    );
    inbox.wait_messages("example.com", day, 2);
    // the first report's name lookups now wait for a nameserver that never answers (15 s)
    let second = send("hang-2", vec![Src::good("192.0.2.1", 3, "example.com")]);
    assert_eq!(
        inbox.send(&["dmarc@rx.example"], &second).await.action(),
        "accept"
    );
    wait_stored_messages(
        &inbox.config,
        "example.com",
        day,
        5,
        Duration::from_secs(8),
        || inbox.serve.log_tail(30),
    );
}

/// docs/reports.md "Reports in": `discard` drops only a message of nothing but reports and
/// the reporter's text. An RFC 9991 failure report (`multipart/report`) whose
/// `message/rfc822` part holds a report mail is delivered, and the report inside, evidence of
/// a failure, is not stored as if its reporter had sent it to us; a person's mail with a
/// report and a PDF is delivered, its report stored.
#[tokio::test(flavor = "multi_thread")]
async fn discard_delivers_a_failure_report_and_a_mail_with_more_than_reports() {
    let inbox = Inbox::start("action = \"discard\"\ndiscard_timeout = \"20s\"\n");
    let day = days_ago(3);
    let inner = gzip(&xml(&report(
        "inner.example",
        "arf-inner-1",
        "example.com",
        day,
        &[Src::spoofer("203.0.113.5", 4)],
    )));
    let embedded = String::from_utf8(report_mail(
        "dmarc@rx.example",
        "arf-inner-1",
        &[(
            "application/gzip",
            "inner.example!example.com!1!2.xml.gz",
            &inner,
        )],
    ))
    .expect("ASCII");
    let arf = format!(
        "From: noreply-dmarc@reporter.example\r\nTo: dmarc@rx.example\r\n\
         Subject: DMARC failure report for example.com\r\nMessage-ID: <arf-1@reporter.example>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=feedback-report; boundary=\"arfb\"\r\n\r\n\
         --arfb\r\nContent-Type: text/plain\r\n\r\nAn authentication failure report.\r\n\
         --arfb\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: auth-failure\r\n\
         Version: 1\r\nAuth-Failure: dmarc\r\nSource-IP: 203.0.113.5\r\n\r\n\
         --arfb\r\nContent-Type: message/rfc822\r\n\r\n{embedded}\r\n--arfb--\r\n"
    );
    let out = inbox.send(&["dmarc@rx.example"], arf.as_bytes()).await;
    assert_eq!(
        out.action(),
        "accept",
        "a failure report is delivered: {out:?}"
    );

    let with_pdf = report_mail(
        "dmarc@rx.example",
        "with-pdf",
        &[
            (
                "application/gzip",
                "reporter.example!example.com!1!2.xml.gz",
                &gzip(&xml(&report(
                    "reporter.example",
                    "with-pdf-1",
                    "example.com",
                    day,
                    &[Src::good("192.0.2.1", 6, "example.com")],
                ))),
            ),
            ("application/pdf", "notes.pdf", b"%PDF-1.4\n"),
        ],
    );
    let out = inbox.send(&["dmarc@rx.example"], &with_pdf).await;
    assert_eq!(
        out.action(),
        "accept",
        "a mail with a PDF is delivered: {out:?}"
    );
    // the report beside the PDF is stored; the one inside the failure report is not
    inbox.wait_messages("example.com", day, 6);
    let log = inbox.serve.log_text();
    assert!(
        log.contains("message delivered, not discarded: the message is more than reports")
            && log.contains("multipart/report (report-type=feedback-report)")
            && log.contains("a part of type application/pdf"),
        "{log}"
    );
}
