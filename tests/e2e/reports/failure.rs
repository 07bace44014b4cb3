//! Failure reports (RFC 9991) sent by `authmilter serve`: the rate limit, and what they carry
//! of the failed message.

use std::time::Duration;

use super::{Setup, for_rcpt, send, send_with_body};
use crate::postfix::mta::sink::Sink;
use crate::support::{ServeProcess, message as lines};
use test_support::free_port;
use testkit::{MtaClient, Profile};

#[tokio::test(flavor = "multi_thread")]
async fn failure_reports_go_out_from_serve_within_the_rate_limit() {
    let setup = Setup::new();
    let sink = Sink::start();
    let (port, serve) = serve_failure_reports(&setup, &sink, "domain_rate = \"2/1h\"\n");
    assert_eq!(send(port, "a.example", 4).await, 4);
    let first = sink.wait_for(Duration::from_secs(20), |m| {
        m.rcpts.iter().any(|r| r == "ruf@a.example")
    });
    let first = first.unwrap_or_else(|| panic!("no failure report: {}", serve.log_text()));
    std::thread::sleep(Duration::from_millis(1500));
    let got = for_rcpt(&sink.messages(), "ruf@a.example").len();
    assert_eq!(got, 2, "domain_rate = 2/1h");
    assert!(first.contains("report-type=feedback-report"));
    assert!(first.contains("Feedback-Type: auth-failure"));
    assert!(first.contains("Auth-Failure: dmarc"));
    // the aligned MAIL FROM failed SPF: the record it failed against (RFC 6591 §3.2.6)
    assert!(
        first.contains("SPF-DNS: txt : a.example : \"v=spf1 ip4:198.51.100.1 -all\""),
        "{}",
        String::from_utf8_lossy(&first.data)
    );
    assert!(first.contains("Content-Type: text/rfc822-headers"));
    assert!(
        first.contains("Subject: message "),
        "the original header is included"
    );
    assert!(!first.contains("\r\nhello\r\n"), "the body is not");
    let dkim = setup.dkim(&first.data).await;
    assert_eq!(
        dkim.first().map(|r| r.result),
        Some(dkim::DkimResult::Pass),
        "{dkim:?}"
    );
    let s = setup.status(&serve.config_path());
    assert_eq!(s["status"]["failure_reports"]["sent"], 2, "{s:#}");
}

/// `original = "full"`: the report carries the failed message whole (`message/rfc822`, RFC
/// 6591 §3.1), its body included; a message larger than the failure report's bound gets its
/// header block alone, never a cut body.
#[tokio::test(flavor = "multi_thread")]
async fn failure_reports_carry_the_whole_message_when_original_is_full() {
    let setup = Setup::new();
    let sink = Sink::start();
    let (port, serve) = serve_failure_reports(&setup, &sink, "original = \"full\"\n");
    assert_eq!(
        send_with_body(port, "a.example", 1, "hello, whole").await,
        1
    );
    let small = sink.wait_for(Duration::from_secs(20), |m| {
        m.rcpts.iter().any(|r| r == "ruf@a.example")
    });
    let small = small.unwrap_or_else(|| panic!("no failure report: {}", serve.log_text()));
    assert!(small.contains("Content-Type: message/rfc822"), "{small:?}");
    assert!(
        small.contains("Subject: message 0"),
        "the header is included"
    );
    assert!(small.contains("\r\nhello, whole\r\n"), "and the body");
    // a body past the bound (64 KiB): the header block alone
    let line = "x".repeat(900);
    let big = vec![line.as_str(); 80].join("\r\n");
    assert_eq!(send_with_body(port, "a.example", 1, &big).await, 1);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while for_rcpt(&sink.messages(), "ruf@a.example").len() < 2 {
        assert!(std::time::Instant::now() < deadline, "{}", serve.log_text());
        std::thread::sleep(Duration::from_millis(100));
    }
    let reports = sink.messages();
    let second = for_rcpt(&reports, "ruf@a.example")[1];
    assert!(
        second.contains("Content-Type: text/rfc822-headers"),
        "{second:?}"
    );
    assert!(!second.contains(&line), "no body past the bound");
}

/// `fo=d` reports each failed signature with the failure type RFC 6591 §3.3 gives it: a body
/// changed after signing is `bodyhash`, a signature whose key record has an empty `p=` is
/// `revoked`; both name the signature's domain and selector.
#[tokio::test(flavor = "multi_thread")]
async fn dkim_failure_reports_name_a_changed_body_and_a_revoked_key() {
    let setup = Setup::new();
    let sink = Sink::start();
    let (port, serve) = serve_failure_reports(&setup, &sink, "");

    let pem = std::fs::read(setup.dir.path().join("rx.pem")).expect("key");
    let raw = lines(&[
        "From: user@c.example",
        "To: someone@rx.example",
        "Subject: changed on the way",
        "Message-ID: <changed@c.example>",
        "",
        "as signed",
    ]);
    let mut signed = Vec::new();
    for selector in ["s1", "gone"] {
        let signer = dkim::Signer::from_pem(&pem, dkim::SignerConfig::new("c.example", selector))
            .expect("signer");
        let sig = dkim::sign_message(&signer, &raw, dkim::unix_now()).expect("sign");
        signed.extend_from_slice(sig.to_field().as_bytes());
    }
    let text = String::from_utf8(raw).expect("ascii");
    signed.extend_from_slice(
        text.replace("as signed", "changed after signing")
            .as_bytes(),
    );

    send_raw(port, "<user@c.example>", &signed).await;

    let texts = reports_to(&sink, "ruf@c.example", 2);
    assert_eq!(texts.len(), 2, "one per signature: {}", serve.log_text());
    let about = |selector: &str| -> &str {
        texts
            .iter()
            .find(|t| t.contains(&format!("DKIM-Selector: {selector}\r\n")))
            .unwrap_or_else(|| panic!("no report about s={selector}: {texts:?}"))
    };
    let changed = about("s1");
    assert!(changed.contains("Auth-Failure: bodyhash\r\n"), "{changed}");
    assert!(
        changed.contains("dkim=fail (bodyhash) header.d=c.example"),
        "{changed}"
    );
    assert!(changed.contains("DKIM-Domain: c.example\r\n"), "{changed}");
    let revoked = about("gone");
    assert!(revoked.contains("Auth-Failure: revoked\r\n"), "{revoked}");
    assert!(revoked.contains("DKIM-Domain: c.example\r\n"), "{revoked}");
}

/// An SPF failure report (`fo=s`) carries one `SPF-DNS` field for every record used to reach
/// the result (RFC 6591 §3.2.6): the domain's own and the include that failed it.
#[tokio::test(flavor = "multi_thread")]
async fn an_spf_failure_report_names_every_record_used() {
    let setup = Setup::new();
    let sink = Sink::start();
    let (port, serve) = serve_failure_reports(&setup, &sink, "");
    let raw = lines(&[
        "From: user@d.example",
        "To: someone@rx.example",
        "Subject: from elsewhere",
        "Message-ID: <spf@d.example>",
        "",
        "hello",
    ]);
    send_raw(port, "<user@d.example>", &raw).await;
    let texts = reports_to(&sink, "ruf@d.example", 1);
    let report = texts
        .first()
        .unwrap_or_else(|| panic!("no SPF failure report: {}", serve.log_text()));
    assert!(report.contains("Auth-Failure: spf\r\n"), "{report}");
    let dns: Vec<&str> = report
        .split("\r\n")
        .filter(|l| l.starts_with("SPF-DNS:"))
        .collect();
    assert_eq!(
        dns,
        [
            "SPF-DNS: txt : d.example : \"v=spf1 include:_spf.d.example -all\"",
            "SPF-DNS: txt : _spf.d.example : \"v=spf1 ip4:198.51.100.1 ~all\"",
        ],
        "{report}"
    );
}

/// Sends one message as Postfix would, from 192.0.2.10, and expects it accepted.
async fn send_raw(port: u16, mail_from: &str, raw: &[u8]) {
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let mut mta = MtaClient::connect_tcp(
        addr,
        Profile::postfix().with_timeout(Duration::from_secs(20)),
    )
    .await
    .expect("connect");
    mta.negotiate().await.expect("negotiate");
    let ip = "192.0.2.10".parse().expect("ip");
    mta.connect("client.example.org", ip, 40000, &[])
        .await
        .expect("connect");
    mta.helo("mail.sender.example", &[]).await.expect("helo");
    mta.mail(mail_from, &[], &[]).await.expect("mail");
    mta.rcpt("<someone@rx.example>", &[], &[])
        .await
        .expect("rcpt");
    let outcome = mta.send_message(raw).await.expect("message");
    assert!(outcome.is_accept(), "p=none: {outcome:?}");
    let _ = mta.quit().await;
}

/// The messages the sink got for `rcpt`, as text, once there are `n` (20 s at most).
fn reports_to(sink: &Sink, rcpt: &str, n: usize) -> Vec<String> {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let got: Vec<String> = for_rcpt(&sink.messages(), rcpt)
            .iter()
            .map(|m| String::from_utf8_lossy(&m.data).into_owned())
            .collect();
        if got.len() >= n || std::time::Instant::now() > deadline {
            return got;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `serve` with failure reports on (and `more` of `[reports.failure]`), relaying to `sink`.
fn serve_failure_reports(setup: &Setup, sink: &Sink, more: &str) -> (u16, ServeProcess) {
    let port = free_port();
    let extra = format!("[reports.failure]\nenabled = true\n{more}");
    let toml = setup.config(port, &setup.sqlite(), sink.addr().port(), &extra);
    let serve = setup.serve(&toml, port);
    (port, serve)
}
