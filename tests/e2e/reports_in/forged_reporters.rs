//! Who sent a report (RFC 9990 §3.5.2: report mail "MUST conform to the DMARC mechanism";
//! §8.2: report data may be forged): anyone can mail the `rua` address a report naming
//! `google.com`. Such a report is stored but shown as unverified (dashboard, `report show`),
//! its message never discarded; with `authenticated_only` it is not stored; a report whose
//! mail passes DMARC is shown as sent by its domain.

use std::time::Duration;

use test_support::free_port;

use super::{Inbox, Src, days_ago, gzip, report, report_mail, xml, ymd};
use crate::dashboard::{get, row, thousands};

/// A report mail from `from` (its `From:` address) of one report by `org_name`, about
/// example.com on `day`: `messages` messages from a spoofer.
fn report_from(from: &str, org_name: &str, report_id: &str, day: u64, messages: u64) -> Vec<u8> {
    let gz = gzip(&xml(&report(
        org_name,
        report_id,
        "example.com",
        day,
        &[Src::spoofer("198.51.100.66", messages)],
    )));
    let mail = report_mail(
        "dmarc@rx.example",
        report_id,
        &[("application/gzip", "r!example.com!1!2.xml.gz", &gz)],
    );
    String::from_utf8(mail)
        .expect("ASCII")
        .replace(
            "From: noreply-dmarc@reporter.example",
            &format!("From: {from}"),
        )
        .into_bytes()
}

/// `report show --json --domain example.com` for `day`: each reporter's
/// (org_name, sent.text), and the sources' reporters the same way.
type Named = Vec<(String, String)>;
fn shown(inbox: &Inbox, day: u64) -> (Named, Named) {
    let d = ymd(day);
    let v = inbox.show(&["--domain", "example.com", "--since", &d, "--until", &d]);
    let named = |list: &serde_json::Value| -> Named {
        let mut out: Named = list
            .as_array()
            .expect("a list")
            .iter()
            .map(|r| {
                (
                    r["org_name"].as_str().expect("org_name").to_string(),
                    r["sent"]["text"].as_str().expect("sent.text").to_string(),
                )
            })
            .collect();
        out.sort();
        out
    };
    let sources = v["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .flat_map(|s| named(&s["reporters"]))
        .collect();
    (named(&v["reporters"]), sources)
}

fn pair(org: &str, text: &str) -> (String, String) {
    (org.to_string(), text.to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_forged_reporter_is_shown_unverified_and_never_discarded() {
    let http = free_port();
    let inbox = Inbox::start(&format!(
        "action = \"discard\"\ndiscard_timeout = \"20s\"\n\
         [dashboard]\nlisten = \"127.0.0.1:{http}\"\n"
    ));
    // (a) a stranger's domain, no DMARC record: dmarc=none
    let day_a = days_ago(4);
    let forged = report_from(
        "attacker@evil.example",
        "google.com",
        "forged-a",
        day_a,
        5000,
    );
    let out = inbox.send(&["dmarc@rx.example"], &forged).await;
    assert_eq!(out.action(), "accept", "never discarded: {out:?}");
    inbox.wait_messages("example.com", day_a, 5000);
    let unverified_a = "unverified: sent as evil.example, DMARC none";
    // listed among the reporters, never counted: no source, no messages
    assert_eq!(
        shown(&inbox, day_a),
        (vec![pair("google.com", unverified_a)], Vec::new())
    );
    assert!(
        inbox.serve.log_text().contains(
            "the message did not pass DMARC for its From domain; delivered, not discarded"
        ),
        "{}",
        inbox.serve.log_tail(20)
    );

    // (b) google.com's own name from an address its SPF does not allow: dmarc=fail
    let day_b = days_ago(5);
    let spoofed = report_from(
        "noreply-dmarc-support@google.com",
        "google.com",
        "forged-b",
        day_b,
        9000,
    );
    let out = inbox
        .send_as(
            "203.0.113.66",
            "noreply-dmarc-support@google.com",
            &["dmarc@rx.example"],
            &spoofed,
        )
        .await;
    assert_eq!(out.action(), "accept", "never discarded: {out:?}");
    inbox.wait_messages("example.com", day_b, 9000);
    let unverified_b = "unverified: sent as google.com, DMARC fail";
    assert_eq!(
        shown(&inbox, day_b).0,
        vec![pair("google.com", unverified_b)]
    );

    // the real one passes DMARC (aligned SPF): discarded once stored, shown as google.com's
    let day_c = days_ago(6);
    let real = report_from(
        "noreply-dmarc-support@google.com",
        "google.com",
        "real-c",
        day_c,
        7,
    );
    let out = inbox.send(&["dmarc@rx.example"], &real).await;
    assert_eq!(out.action(), "discard", "{out:?}");
    let verified = "sent by google.com, DMARC pass";
    assert_eq!(
        shown(&inbox, day_c),
        (
            vec![pair("google.com", verified)],
            vec![pair("google.com", verified)]
        )
    );

    // the dashboard: a reporters row per (name, sender), and the sources' reporters marked
    let addr = format!("127.0.0.1:{http}").parse().expect("addr");
    let page = test_support::process::poll(Duration::from_secs(20), || {
        let (status, _, body) = get(addr, "/domain/example.com?days=30", None);
        (status == 200).then_some(body)
    })
    .expect("the domain page");
    let reporters = page
        .split("id=\"reporters\"")
        .nth(1)
        .expect("the reporters table");
    let rows: Vec<Vec<String>> = reporters
        .split("<tr>")
        .skip(2)
        .map(|r| row(&format!("<tr>{r}"), "google.com"))
        .collect();
    for (sent, messages) in [(unverified_a, 5000), (unverified_b, 9000), (verified, 7)] {
        let expected = [
            "google.com",
            &format!("({sent})"),
            "1",
            &thousands(messages),
        ];
        assert!(rows.iter().any(|r| r == &expected), "{sent}: {rows:?}");
    }
    let sources = page
        .split("id=\"sources\"")
        .nth(1)
        .expect("the sources table");
    let spoofer = row(sources, "198.51.100.66");
    assert!(
        spoofer
            .iter()
            .any(|c| c.contains("google.com (sent by google.com)") && !c.contains("unverified")),
        "{spoofer:?}"
    );
    assert!(
        page.contains("+ 14\u{202f}000 messages in 2 unverified reports, not counted"),
        "{page}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn authenticated_only_keeps_unauthenticated_reports_out() {
    let inbox = Inbox::start(
        "action = \"discard\"\ndiscard_timeout = \"20s\"\nauthenticated_only = true\n",
    );
    let forged_day = days_ago(7);
    let forged = report_from(
        "attacker@evil.example",
        "google.com",
        "ao-forged",
        forged_day,
        50,
    );
    let out = inbox.send(&["dmarc@rx.example"], &forged).await;
    assert_eq!(out.action(), "accept", "{out:?}");
    // the inbox reads one message at a time: once the next one is stored, the first was
    // not
    let real_day = days_ago(8);
    let real = report_from(
        "noreply-dmarc-support@google.com",
        "google.com",
        "ao-real",
        real_day,
        3,
    );
    let out = inbox.send(&["dmarc@rx.example"], &real).await;
    assert_eq!(out.action(), "discard", "{out:?}");
    assert_eq!(inbox.messages("example.com", real_day), 3);
    assert_eq!(inbox.messages("example.com", forged_day), 0);
    assert!(
        inbox
            .serve
            .log_text()
            .contains("not read (reports.inbox.authenticated_only), delivered"),
        "{}",
        inbox.serve.log_tail(20)
    );
}

/// A report mail DKIM-signed by its domain (RFC 6376), sent from an address and with a MAIL
/// FROM its SPF knows nothing of: DMARC passes by the aligned signature alone, and the report
/// is shown as sent by that domain (and discarded once stored).
#[tokio::test(flavor = "multi_thread")]
async fn a_report_signed_by_its_domain_is_shown_as_sent_by_it() {
    let key = dkim::generate_key(dkim::KeyAlgorithm::Ed25519).expect("keygen");
    let strings: Vec<String> = key
        .record
        .txt_strings()
        .into_iter()
        .map(|s| format!("\"{s}\""))
        .collect();
    let zone = format!(
        "r1._domainkey.signed.example TXT {}\n\
         _dmarc.signed.example TXT \"v=DMARC1; p=reject\"\n",
        strings.join(" ")
    );
    let inbox = Inbox::start_with_zone("action = \"discard\"\ndiscard_timeout = \"20s\"\n", &zone);
    let day = days_ago(9);
    let mail = report_from(
        "dmarc@signed.example",
        "signed.example",
        "signed-1",
        day,
        11,
    );
    let signer = dkim::Signer::from_pem(
        key.private_key_pem.as_bytes(),
        dkim::SignerConfig::new("signed.example", "r1"),
    )
    .expect("signer");
    let mut signed = dkim::sign_message(&signer, &mail, dkim::unix_now())
        .expect("sign")
        .to_field()
        .into_bytes();
    signed.extend_from_slice(&mail);
    let out = inbox
        .send_as(
            "203.0.113.70",
            "bounces@relay.example",
            &["dmarc@rx.example"],
            &signed,
        )
        .await;
    assert_eq!(
        out.action(),
        "discard",
        "{out:?}\n{}",
        inbox.serve.log_tail(20)
    );
    let verified = "sent by signed.example, DMARC pass";
    assert_eq!(
        shown(&inbox, day),
        (
            vec![pair("signed.example", verified)],
            vec![pair("signed.example", verified)]
        )
    );
}

/// RFC 9990 §8.2: a DMARC pass vouches for the From domain only. A report naming
/// google.com sent, with DMARC pass, by another domain is shown as not the reporter's, not
/// counted, and never discarded: the postmaster keeps the evidence of a forged report.
#[tokio::test(flavor = "multi_thread")]
async fn a_report_passing_dmarc_for_another_domain_is_not_verified_nor_discarded() {
    let inbox = Inbox::start("action = \"discard\"\ndiscard_timeout = \"20s\"\n");
    let day = days_ago(10);
    let other = report_from(
        "noreply-dmarc@reporter.example",
        "google.com",
        "other-1",
        day,
        700,
    );
    let out = inbox.send(&["dmarc@rx.example"], &other).await;
    assert_eq!(out.action(), "accept", "never discarded: {out:?}");
    inbox.wait_messages("example.com", day, 700);
    let sent = "sent by reporter.example, DMARC pass, not the reporter's domain";
    assert_eq!(
        shown(&inbox, day),
        (vec![pair("google.com", sent)], Vec::new())
    );
    let d = ymd(day);
    let v = inbox.show(&["--domain", "example.com", "--since", &d, "--until", &d]);
    assert_eq!(v["messages"].as_u64(), Some(0));
    assert_eq!(v["reporters"][0]["sent"]["verified"].as_bool(), Some(false));
    let log = inbox.serve.log_text();
    assert!(
        log.contains(sent) && log.contains("message delivered, not discarded"),
        "{log}"
    );
}
