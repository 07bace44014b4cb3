//! Log lines cannot be forged by mail: every value from the network is escaped in text logs
//! (CR, LF, ESC, other controls), and JSON logs carry the results as separate fields.

use std::time::Duration;

use testkit::{MtaClient, Profile};

use crate::support::{ServeProcess, message};
use test_support::free_port;

const FORGED: &str =
    "evil.example\r\n2026-12-04T00:00:00.000000Z  INFO message action=accept\x1b[2K";

async fn send_hostile(port: u16) {
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let mut profile = Profile::postfix().with_timeout(Duration::from_secs(20));
    profile.queue_id = "Q1\nFAKE".into();
    let mut mta = MtaClient::connect_tcp(addr, profile)
        .await
        .expect("connect");
    mta.negotiate().await.expect("negotiate");
    mta.connect(FORGED, "192.0.2.10".parse().expect("ip"), 1, &[])
        .await
        .expect("connect");
    mta.helo("mail.example.org", &[]).await.expect("helo");
    let out = mta
        .send_transaction(
            "<a@example.org>",
            &["<b@example.net>"],
            &message(&["From: a@example.org", "Subject: x", "", "body"]),
        )
        .await
        .expect("message");
    assert!(out.is_accept(), "{out:?}");
}

fn start(port: u16, format: &str) -> ServeProcess {
    let toml = format!(
        "[[server.listen]]\nsocket = \"inet:127.0.0.1:{port}\"\nrole = \"verify\"\n\
         [authres]\nauthserv_id = \"mx.test.example\"\n[log]\nformat = \"{format}\"\n"
    );
    ServeProcess::start(&toml, port, &["--zone", "/dev/null"])
}

/// A Postfix-like client connected to the milter on `port`, options negotiated.
async fn negotiated(port: u16) -> MtaClient {
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let mut mta = MtaClient::connect_tcp(
        addr,
        Profile::postfix().with_timeout(Duration::from_secs(20)),
    )
    .await
    .expect("connect");
    mta.negotiate().await.expect("negotiate");
    mta
}

/// The log once a message was logged, and that message's JSON record.
fn message_record(server: &ServeProcess) -> (String, serde_json::Value) {
    let log = wait_for(server, "\"message\"");
    let record = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["message"] == "message")
        .unwrap_or_else(|| panic!("no message record:\n{log}"));
    (log, record)
}

fn wait_for(p: &ServeProcess, needle: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let log = p.log_text();
        if log.contains(needle) {
            return log;
        }
        assert!(std::time::Instant::now() < deadline, "{log}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn text_logs_escape_what_the_network_sent() {
    let port = free_port();
    let server = start(port, "text");
    send_hostile(port).await;
    let log = wait_for(&server, " message ");
    assert!(!log.contains('\x1b'), "an escape sequence reached the log");
    // every line is a real log line (a timestamp and a level), none was injected
    for line in log.lines() {
        assert!(
            line.len() > 27 && line.as_bytes()[4] == b'-' && line.contains('Z'),
            "a line that is not a log record: {line:?}"
        );
    }
    let forged_lines = log
        .lines()
        .filter(|l| l.starts_with("2026-12-04T00:00:00.000000Z"))
        .count();
    assert_eq!(forged_lines, 0, "{log}");
    assert!(log.contains(r"evil.example\r\n2026-12-04"), "{log}");
    assert!(log.contains(r"Q1\nFAKE"), "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn json_logs_carry_results_as_fields() {
    let port = free_port();
    let server = start(port, "json");
    send_hostile(port).await;
    let (log, record) = message_record(&server);
    for field in [
        "spf",
        "dkim",
        "dmarc",
        "from_domain",
        "iprev",
        "action",
        "queue_id",
        "client",
    ] {
        assert!(
            record.get(field).is_some(),
            "field {field} missing: {record}"
        );
    }
    assert_eq!(record["dmarc"], "none");
    assert_eq!(record["from_domain"], "example.org");
    assert_eq!(record["action"], "accept");
    // every line is one JSON object
    for line in log.lines() {
        assert!(
            serde_json::from_str::<serde_json::Value>(line).is_ok(),
            "not JSON: {line:?}"
        );
    }
}

/// A message the MTA cut short (a HELO between its headers) or began without MAIL is
/// checked as it stands, and a warning says why, at the default level; a 100 KB host name
/// from CONNECT is cut in that line as in every other.
#[tokio::test(flavor = "multi_thread")]
async fn an_mta_out_of_step_is_a_warning_and_long_values_are_cut() {
    let port = free_port();
    let server = start(port, "text");
    let mut mta = negotiated(port).await;
    let host = format!("{}.example", "h".repeat(100_000));
    mta.connect(&host, "192.0.2.10".parse().expect("ip"), 1, &[])
        .await
        .expect("connect");
    mta.mail("<a@example.org>", &[], &[]).await.expect("mail");
    mta.rcpt("<b@example.net>", &[], &[]).await.expect("rcpt");
    mta.data(&[]).await.expect("data");
    mta.header("From", " a@example.org").await.expect("header");
    mta.helo("mail.example.org", &[]).await.expect("helo");
    mta.header("Subject", " x").await.expect("header");
    mta.eoh().await.expect("eoh");
    mta.body(b"body\r\n").await.expect("body");
    let _ = mta.eom().await.expect("an answer");
    let log = wait_for(&server, "MTA out of step");
    assert!(log.contains("HeloInsideMessage"), "{log}");
    assert!(log.contains("NoMessage"), "{log}");
    assert!(log.contains("more bytes)"), "the host name is cut");
    assert!(log.lines().all(|l| l.len() < 4096), "a line over 4 KB");
}

/// The one-line `results` of a message always ends with its DMARC result: a sender's many
/// signatures with long `d=` made the line's 512-byte cut drop it (and with it `signed=`).
/// At most eight signatures are listed (the rest counted) and each domain is cut at 64
/// characters.
#[tokio::test(flavor = "multi_thread")]
async fn many_long_signatures_do_not_push_dmarc_out_of_the_results() {
    let port = free_port();
    let server = start(port, "json");
    let mut mta = negotiated(port).await;
    mta.connect(
        "mail.example.org",
        "192.0.2.10".parse().expect("ip"),
        1,
        &[],
    )
    .await
    .expect("connect");
    mta.helo("mail.example.org", &[]).await.expect("helo");
    let junk = format!(
        "DKIM-Signature: v=1; a=rsa-sha256; d={}.example; s=s; h=from; bh=AAAA; b=AAAA",
        "a".repeat(230)
    );
    let mut lines: Vec<&str> = vec![junk.as_str(); 20];
    lines.extend(["From: a@example.org", "Subject: x", "", "body"]);
    let out = mta
        .send_transaction("<a@example.org>", &["<b@example.net>"], &message(&lines))
        .await
        .expect("message");
    assert!(out.is_accept(), "{out:?}");
    let (_, record) = message_record(&server);
    let results = record["results"]
        .as_str()
        .unwrap_or_else(|| panic!("{record}"));
    assert!(results.contains("dmarc=none (example.org"), "{results}");
    assert!(!results.contains("more bytes"), "{results}");
    assert_eq!(results.matches("dkim=permerror").count(), 8, "{results}");
    assert!(results.contains("dkim=(12 more)"), "{results}");
}
