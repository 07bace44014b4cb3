//! `authmilter eval` on a message file and the milter fed that message as Postfix feeds it
//! (`testkit`'s split: whitespace before the colon dropped, folds as bare `\n`, every body line
//! ending in CRLF) reach the same decision. The hostile table (`hostile.rs`) feeds the milter
//! the `message` crate's split of the file; these cases are about what the MTA changes on the
//! way: the obsolete `From :` spelling, LF files, fold bytes against `max_header_bytes`, a last
//! line without its line end.

use dkim::{Canonicalization, DnsKeyRecord, Signer, SignerConfig};

use crate::hostile::{BASE_ZONE as ZONE, CLIENT};
use crate::support::{LISTEN_VERIFY, Milter, binary, transaction};

const KEY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/crates/dkim/tests/data/keys/rsa2048.pem"
);
/// `raw` with a DKIM signature of bank.example (selector `s`) in front, and the key record.
fn signed(raw: &[u8], canon: Canonicalization) -> (Vec<u8>, String) {
    let pem = std::fs::read(KEY).expect("test key");
    let mut cfg = SignerConfig::new("bank.example", "s");
    cfg.header_canon = canon;
    cfg.body_canon = canon;
    let signer = Signer::from_pem(&pem, cfg).expect("signer");
    let header = dkim::sign_message(&signer, raw, dkim::unix_now()).expect("sign");
    let txt: Vec<String> = DnsKeyRecord::for_key(signer.key())
        .txt_strings()
        .into_iter()
        .map(|s| format!("\"{s}\""))
        .collect();
    let mut out = header.to_field().into_bytes();
    out.extend_from_slice(raw);
    (
        out,
        format!("s._domainkey.bank.example TXT {}\n", txt.join(" ")),
    )
}

fn config(extra: &str) -> String {
    format!("[authres]\nauthserv_id = \"mx.test.example\"\n[dmarc]\nenforce = true\n{extra}")
}

/// eval's action and dkim= result (as the milter shows it: none for a refused message).
fn run_eval(raw: &[u8], zone: &str, extra: &str) -> (String, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (msg, zonefile, cfg) = (
        dir.path().join("m.eml"),
        dir.path().join("zone"),
        dir.path().join("milter.toml"),
    );
    std::fs::write(&msg, raw).expect("message");
    std::fs::write(&zonefile, zone).expect("zone");
    std::fs::write(&cfg, config(extra)).expect("config");
    let path = |p: &std::path::Path| p.to_str().expect("path").to_string();
    let out = std::process::Command::new(binary())
        .args([
            "eval",
            &path(&msg),
            "--ip",
            CLIENT,
            "--helo",
            "mail.evil.example",
        ])
        .args([
            "--mail-from",
            "bounce@evil.example",
            "--rcpt",
            "u@mx.test.example",
        ])
        .args([
            "--role",
            "verify",
            "--zone",
            &path(&zonefile),
            "-c",
            &path(&cfg),
        ])
        .arg("--json")
        .output()
        .expect("run eval");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("eval JSON");
    let action = json["action"].as_str().unwrap_or("?").to_string();
    // the milter adds its A-R only to a message it does not refuse
    let ar = match action.as_str() {
        "accept" | "quarantine" => json["authentication_results"].as_str().unwrap_or(""),
        _ => "",
    };
    (action, dkim_result(ar))
}

/// The milter's action and dkim= result, the message sent as Postfix sends it.
async fn run_milter(raw: &[u8], zone: &str, extra: &str) -> (String, String) {
    let milter = Milter::start(&format!("{LISTEN_VERIFY}{}", config(extra)), zone).await;
    let mut mta = milter.postfix().await;
    let out = transaction(
        &mut mta,
        CLIENT,
        "mail.evil.example",
        "bounce@evil.example",
        "u@mx.test.example",
        raw,
    )
    .await;
    let ar = out
        .added_header("Authentication-Results")
        .map(|v| String::from_utf8_lossy(v).replace('\n', " "))
        .unwrap_or_default();
    let action = out.action().to_string();
    milter.stop().await;
    (action, dkim_result(&ar))
}

fn dkim_result(ar: &str) -> String {
    authres::parse(ar.as_bytes())
        .ok()
        .and_then(|a| a.by_method("dkim").next().map(|m| m.result.clone()))
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn eval_decides_as_the_milter_behind_postfix() {
    let body = b"Please wire the money today.\r\n";
    let head = |from: &str| {
        let mut m = format!(
            "Received: from mail.evil.example\r\n\tby relay\r\n{from}\r\nSubject: s\r\n\r\n"
        )
        .into_bytes();
        m.extend_from_slice(body);
        m
    };
    let lf = |m: &[u8]| {
        String::from_utf8_lossy(m)
            .replace("\r\n", "\n")
            .into_bytes()
    };
    // a header block of 1,040 bytes as stored (CRLF folds), 1,016 with the MTA's bare-LF folds
    let folded = {
        let mut v = String::from("X-Pad: p");
        for _ in 0..24 {
            v.push_str("\r\n\t012345678901234567890123456789012345678");
        }
        let mut m = format!("From: x@evil.example\r\n{v}\r\n\r\n").into_bytes();
        m.extend_from_slice(body);
        m
    };
    let mut cases: Vec<(&str, Vec<u8>, String, &str, &str)> = Vec::new();
    let mut add = |name, (raw, zone): (Vec<u8>, String), extra, action| {
        cases.push((name, raw, zone, extra, action));
    };
    // Postfix and Sendmail pass (and Postfix queues) `From:` for `From :`: a c=simple signature
    // over `From :` verifies for no one after the MTA
    add(
        "From : under a simple/simple signature",
        signed(
            &head("From : Boss <ceo@bank.example>"),
            Canonicalization::Simple,
        ),
        "",
        "reject",
    );
    add(
        "From : under a relaxed/relaxed signature",
        signed(
            &head("From : Boss <ceo@bank.example>"),
            Canonicalization::Relaxed,
        ),
        "",
        "accept",
    );
    for canon in [Canonicalization::Simple, Canonicalization::Relaxed] {
        let (raw, zone) = signed(&head("From: Boss <ceo@bank.example>"), canon);
        add(
            "a signed file with LF line ends",
            (lf(&raw), zone.clone()),
            "",
            "accept",
        );
        let cut = raw.strip_suffix(b"\r\n").unwrap_or(&raw).to_vec();
        add(
            "a signed file whose last line has no line end",
            (cut, zone),
            "",
            "accept",
        );
    }
    add(
        "folds weigh the same against max_header_bytes",
        (folded, String::new()),
        "[server]\nmax_header_bytes = 1024\n",
        "tempfail",
    );
    let mut failures = Vec::new();
    for (name, raw, zone, extra, want) in &cases {
        let zone = format!("{ZONE}{zone}");
        let eval = run_eval(raw, &zone, extra);
        let milter = run_milter(raw, &zone, extra).await;
        if eval != milter || eval.0 != *want {
            failures.push(format!(
                "{name}: eval {eval:?}, milter {milter:?}, want {want}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `eval --json` on `raw` with `args` after the file and the zone and config given; the JSON.
fn eval_json(raw: &[u8], zone: &str, toml: &str, args: &[&str]) -> serde_json::Value {
    let dir = tempfile::tempdir().expect("tempdir");
    let (msg, zonefile, cfg) = (
        dir.path().join("m.eml"),
        dir.path().join("zone"),
        dir.path().join("milter.toml"),
    );
    std::fs::write(&msg, raw).expect("message");
    std::fs::write(&zonefile, zone).expect("zone");
    std::fs::write(&cfg, toml).expect("config");
    let out = std::process::Command::new(binary())
        .arg("eval")
        .arg(&msg)
        .args(["--ip", CLIENT, "--helo", "mail.evil.example", "--json"])
        .arg("--zone")
        .arg(&zonefile)
        .arg("-c")
        .arg(&cfg)
        .args(args)
        .output()
        .expect("run eval");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("eval JSON")
}

/// `--mail-from` is read as the milter reads MAIL FROM (milter_proto `Envelope::mailbox`): the
/// brackets with blanks inside, a source route and the `""` spelling of the null sender give
/// the milter's sender, not a sender of their own.
#[test]
fn eval_reads_mail_from_as_the_milter_does() {
    let raw = b"From: a@evil.example\r\nSubject: s\r\n\r\nbody\r\n";
    let toml = config("[spf]\nreceived_spf_header = true\n");
    let received_spf = |mail_from: &str| {
        let json = eval_json(
            raw,
            ZONE,
            &toml,
            &["--mail-from", mail_from, "--rcpt", "u@mx.test.example"],
        );
        let added = json["headers_added"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        added
            .iter()
            .filter_map(|h| h.as_str())
            .find(|h| h.starts_with("Received-SPF:"))
            .map(str::to_string)
            .unwrap_or_default()
    };
    let plain = received_spf("bounce@evil.example");
    assert!(
        plain.contains("envelope-from=bounce@evil.example;")
            || plain.contains("envelope-from=\"bounce@evil.example\";"),
        "{plain}"
    );
    for spelling in [
        "< bounce@evil.example >",
        "<@relay.example:bounce@evil.example>",
        "<@a.example,@b.example:bounce@evil.example>",
    ] {
        assert_eq!(received_spf(spelling), plain, "{spelling}");
    }
    assert_eq!(received_spf("\"\""), received_spf("<>"), "the null sender");
}

/// A recipient the milter refuses at RCPT (a forged SRS address of our SRS domain, RFC 5321
/// §3.3) is refused by eval too: with every recipient refused the MTA never gets to DATA, and
/// eval says so with the milter's reply instead of a decision at end of message.
#[tokio::test(flavor = "multi_thread")]
async fn eval_refuses_at_rcpt_as_the_milter_does() {
    let dir = tempfile::tempdir().expect("tempdir");
    let secrets = dir.path().join("srs.secrets");
    std::fs::write(&secrets, "current-secret-of-the-test\n").expect("secrets");
    let extra = format!(
        "[srs]\nenabled = true\ndomain = \"fwd.test.example\"\nsecrets = \"{}\"\n",
        secrets.display()
    );
    let raw = b"From: a@evil.example\r\nSubject: s\r\n\r\nbody\r\n";
    let forged = "SRS0=zzzz=TT=bank.example=u@fwd.test.example";
    let milter = Milter::start(&format!("{LISTEN_VERIFY}{}", config(&extra)), ZONE).await;
    let mut mta = milter.postfix().await;
    mta.connect("mail.evil.example", CLIENT.parse().expect("ip"), 40000, &[])
        .await
        .expect("connect");
    mta.helo("mail.evil.example", &[]).await.expect("helo");
    let out = mta
        .send_transaction("<bounce@evil.example>", &[&format!("<{forged}>")], raw)
        .await
        .expect("transaction");
    milter.stop().await;
    let milter_reply = match &out.final_response {
        milter_proto::Response::ReplyCode(r) => authmilter::pipeline::reply_text(r),
        other => panic!("the milter refuses the recipient: {other:?}"),
    };
    let json = eval_json(
        raw,
        ZONE,
        &config(&extra),
        &[
            "--mail-from",
            "bounce@evil.example",
            "--rcpt",
            forged,
            "--role",
            "verify",
        ],
    );
    assert_eq!(json["action"], "reject", "{json}");
    assert_eq!(json["smtp_reply"], milter_reply.as_str(), "{json}");
    // one good recipient besides: the MTA goes on with it, and so does eval
    let json = eval_json(
        raw,
        ZONE,
        &config(&extra),
        &[
            "--mail-from",
            "bounce@evil.example",
            "--rcpt",
            forged,
            "--rcpt",
            "u@mx.test.example",
            "--role",
            "verify",
        ],
    );
    assert_eq!(json["action"], "accept", "{json}");
    assert_eq!(
        json["recipients_refused"][0],
        format!("{forged}: {milter_reply}").as_str(),
        "{json}"
    );
}

/// eval reads a file as Postfix hands it to the milter (what the parity review recorded from a
/// real Postfix 3.7): every CR before a line end dropped (`a\r\r\n` is the line `a`), a CR left
/// inside a line turned into a space, and Return-Path, Bcc, Resent-Bcc and Content-Length
/// removed by cleanup before any milter sees the header block.
#[test]
fn eval_reads_the_file_as_postfix_hands_it_over() {
    let head = "From: Boss <ceo@bank.example>\r\nSubject: s\r\n\r\n";
    let raw = format!("{head}Please wire the money today.\r\n");
    let (clean, zone) = signed(raw.as_bytes(), Canonicalization::Relaxed);
    let zone = format!("{ZONE}{zone}");
    assert_eq!(
        run_eval(&clean, &zone, ""),
        ("accept".into(), "pass".into())
    );
    // saved with CR CR LF line ends (a double conversion): Postfix sees the clean message
    let crcr = String::from_utf8_lossy(&clean).replace("\r\n", "\r\r\n");
    assert_eq!(
        run_eval(crcr.as_bytes(), &zone, ""),
        ("accept".into(), "pass".into())
    );
    // a lone CR inside a signed body line reaches the milter as a space: the body hash fails
    let (lone, zone_lone) = signed(
        format!("{head}Please wire\rthe money today.\r\n").as_bytes(),
        Canonicalization::Relaxed,
    );
    assert_eq!(
        run_eval(&lone, &format!("{ZONE}{zone_lone}"), "").0,
        "reject"
    );
    // a lone CR in the From display name is a space to the milter, no control character
    let unsigned = b"From: Mallory\r <x@evil.example>\r\nSubject: s\r\n\r\nhi\r\n";
    assert_eq!(run_eval(unsigned, ZONE, "").0, "accept");
    // a signature over Return-Path: Postfix drops the field, so it fails behind Postfix
    let pem = std::fs::read(KEY).expect("test key");
    let mut cfg = SignerConfig::new("bank.example", "s");
    cfg.headers = dkim::SignedHeaders::Custom {
        sign: vec!["From".into(), "Return-Path".into(), "Subject".into()],
        oversign: Vec::new(),
    };
    let signer = Signer::from_pem(&pem, cfg).expect("signer");
    let with_rp = format!("Return-Path: <ceo@bank.example>\r\n{raw}");
    let header = dkim::sign_message(&signer, with_rp.as_bytes(), dkim::unix_now()).expect("sign");
    let mut msg = header.to_field().into_bytes();
    msg.extend_from_slice(with_rp.as_bytes());
    assert_eq!(run_eval(&msg, &zone, "").0, "reject");
}

/// The milter changes a message only when it lets it through: `eval` listed the forged
/// Authentication-Results it would remove (and the headers it would add) for a message it
/// rejects, which the milter leaves as it is. Now it shows no changes for a refusal.
#[test]
fn eval_shows_no_changes_for_a_refused_message() {
    let forged = b"Authentication-Results: mx.test.example; dmarc=pass\r\n\
From: ceo@bank.example\r\nSubject: s\r\n\r\nbody\r\n";
    let toml = config("");
    let json = eval_json(forged, ZONE, &toml, &["--rcpt", "u@mx.test.example"]);
    assert_eq!(json["action"], "reject", "{json}");
    assert_eq!(json["headers_removed"], serde_json::json!([]), "{json}");
    assert_eq!(json["headers_added"], serde_json::json!([]), "{json}");
    // the same forgery of a domain without a policy is delivered, the forged field removed
    let delivered = String::from_utf8_lossy(forged).replace("bank.example", "evil.example");
    let json = eval_json(
        delivered.as_bytes(),
        ZONE,
        &toml,
        &["--rcpt", "u@mx.test.example"],
    );
    assert_eq!(json["action"], "accept", "{json}");
    assert_eq!(
        json["headers_removed"],
        serde_json::json!(["Authentication-Results #1"]),
        "{json}"
    );
}
