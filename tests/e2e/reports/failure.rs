//! Failure reports (RFC 9991) sent by `authmilter serve`: the rate limit, and what they carry
//! of the failed message.

use std::time::Duration;

use super::{Setup, for_rcpt, send, send_with_body};
use crate::postfix::mta::sink::Sink;
use test_support::free_port;

#[tokio::test(flavor = "multi_thread")]
async fn failure_reports_go_out_from_serve_within_the_rate_limit() {
    let setup = Setup::new();
    let sink = Sink::start();
    let port = free_port();
    let extra = "[reports.failure]\nenabled = true\ndomain_rate = \"2/1h\"\n";
    let toml = setup.config(port, &setup.sqlite(), sink.addr().port(), extra);
    let serve = setup.serve(&toml, port);
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
    let port = free_port();
    let extra = "[reports.failure]\nenabled = true\noriginal = \"full\"\n";
    let toml = setup.config(port, &setup.sqlite(), sink.addr().port(), extra);
    let serve = setup.serve(&toml, port);
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
