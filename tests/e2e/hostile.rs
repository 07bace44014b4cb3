//! The hostile-mail suite: spoofing forms after the "Composition Kills" attack classes (Chen et
//! al., USENIX Security 2020) and DNS faults at every point DMARC depends on, each run through
//! `authmilter eval` (the message parsed from a file) AND through the milter (header fields sent
//! the way the MTA splits them), in RFC 9989 and RFC 7489 mode, asserting the same decision
//! and the expected one. The header split the MTA does was checked against Postfix 3.7
//! (`tests/e2e/postfix.rs`, `message` crate docs).
//!
//! Every case names its class. The count is pinned.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use authmilter::app::App;
use authmilter::config::{Config, SocketSpec};
use authmilter::pipeline::ResultsSink;
use authmilter::server::Server;
use authmilter::services::Services;
use dns::memory::MemoryResolver;
use testkit::{MtaClient, Profile};

use crate::support::{LISTEN_VERIFY, binary};

mod cases;

use cases::{Case, Expect, Mode, Run};

/// The attacker's mail server: SPF pass for evil.example only.
pub const CLIENT: &str = "198.51.100.7";

/// DNS every case starts from: bank.example (the victim, p=reject) and evil.example (the
/// attacker's own domain, authenticated by SPF, p=none).
pub const BASE_ZONE: &str = "\
bank.example TXT \"v=spf1 ip4:192.0.2.99 -all\"
_dmarc.bank.example TXT \"v=DMARC1; p=reject\"
evil.example TXT \"v=spf1 ip4:198.51.100.7 -all\"
_dmarc.evil.example TXT \"v=DMARC1; p=none\"
7.100.51.198.in-addr.arpa PTR mail.evil.example
mail.evil.example A 198.51.100.7
mail.evil.example TXT \"v=spf1 ip4:198.51.100.7 -all\"
";

/// What one run decided, in the terms both paths share.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Observed {
    action: String,
    /// Our Authentication-Results on one line ("" when none was added).
    authres: String,
    /// Incoming headers deleted.
    deleted: usize,
}

impl Observed {
    /// The `dmarc=` result of our Authentication-Results ("" when absent).
    fn dmarc(&self) -> String {
        authres::parse(self.authres.as_bytes())
            .ok()
            .and_then(|ar| ar.by_method("dmarc").next().map(|m| m.result.clone()))
            .unwrap_or_default()
    }
}

fn config(case: &Case, mode: Mode) -> String {
    let enforce = if case.dmarc.contains("enforce") {
        ""
    } else {
        "enforce = true\n"
    };
    format!(
        "[authres]\nauthserv_id = \"mx.test.example\"\n[dmarc]\n{enforce}mode = \"{}\"\n{}\n{}",
        mode.as_str(),
        case.dmarc,
        case.config
    )
}

fn run_eval(case: &Case, mode: Mode, zone: &str) -> Observed {
    let dir = tempfile::tempdir().expect("tempdir");
    let msg = dir.path().join("message.eml");
    let zonefile = dir.path().join("zone");
    let cfg = dir.path().join("milter.toml");
    std::fs::write(&msg, &case.raw).expect("message");
    std::fs::write(&zonefile, zone).expect("zone");
    std::fs::write(&cfg, config(case, mode)).expect("config");
    let out = std::process::Command::new(binary())
        .args([
            "eval",
            msg.to_str().expect("path"),
            "--ip",
            CLIENT,
            "--helo",
            &case.helo,
            "--mail-from",
            &case.mail_from,
            "--rcpt",
            "user@mx.test.example",
            "--role",
            "verify",
            "--zone",
            zonefile.to_str().expect("path"),
            "-c",
            cfg.to_str().expect("path"),
            "--json",
        ])
        .output()
        .expect("run eval");
    assert!(
        out.status.success(),
        "{}: eval failed: {}",
        case.name,
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("eval JSON");
    Observed {
        action: json["action"].as_str().unwrap_or("?").to_string(),
        authres: one_line(json["authentication_results"].as_str().unwrap_or("")),
        deleted: json["headers_removed"].as_array().map_or(0, Vec::len),
    }
}

async fn run_milter(case: &Case, mode: Mode, zone: &str) -> Observed {
    let toml = format!("{LISTEN_VERIFY}{}", config(case, mode));
    let config = Config::parse(&toml).expect("config");
    let dns = Arc::new(MemoryResolver::from_zone(zone).expect("zone"));
    let app = Arc::new(App::new(config, dns).expect("app"));
    let (sink, mut published) = ResultsSink::bounded(4);
    let services = Services::with_sink(sink);
    let server = Server::bind_shared(Arc::new(ArcSwap::new(app)), services)
        .await
        .expect("bind");
    let addr = match server.local_addrs().first() {
        Some(SocketSpec::Inet { host, port }) => {
            std::net::SocketAddr::new(host.parse().expect("ip"), *port)
        }
        other => panic!("{other:?}"),
    };
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async move {
        let _ = stop_rx.await;
    }));
    let mut mta = MtaClient::connect_tcp(
        addr,
        Profile::postfix().with_timeout(Duration::from_secs(20)),
    )
    .await
    .expect("connect");
    mta.negotiate().await.expect("negotiate");
    mta.connect("mail.evil.example", CLIENT.parse().expect("ip"), 40000, &[])
        .await
        .expect("connect");
    mta.helo(&case.helo, &[]).await.expect("helo");
    mta.mail(&format!("<{}>", case.mail_from), &[], &[])
        .await
        .expect("mail");
    mta.rcpt("<user@mx.test.example>", &[], &[])
        .await
        .expect("rcpt");
    // the header fields as Postfix splits and passes the message (its CRs, the fields its
    // cleanup drops), the lines of a folded field joined with a bare LF as the MTA sends them
    let msg = message::parse_as_postfix_passes(&case.raw);
    mta.data(&[]).await.expect("data");
    for h in &msg.headers {
        let mut value = Vec::with_capacity(h.value.len());
        for (i, &b) in h.value.iter().enumerate() {
            if !(b == b'\r' && h.value.get(i + 1) == Some(&b'\n')) {
                value.push(b);
            }
        }
        send_header(&mut mta, &h.name, &value).await;
    }
    mta.eoh().await.expect("eoh");
    mta.body(&msg.body).await.expect("body");
    let out = mta.eom().await.expect("eom");
    // what the milter decided, as published (the A-R is decided even for a rejected message)
    let record = tokio::time::timeout(Duration::from_secs(10), published.recv())
        .await
        .expect("published")
        .expect("sink open");
    let decided = record
        .decision
        .as_deref()
        .expect("the sink keeps decisions")
        .authentication_results()
        .map(|h| one_line(&h.value))
        .unwrap_or_default();
    if out.is_accept() {
        // and what went on the wire is that same header
        let sent = out
            .added_header("Authentication-Results")
            .map(|v| one_line(&String::from_utf8_lossy(v)))
            .unwrap_or_default();
        assert_eq!(
            sent, decided,
            "{}: the A-R sent is the A-R decided",
            case.name
        );
    }
    let _ = stop_tx.send(());
    let _ = tokio::time::timeout(Duration::from_secs(30), task).await;
    Observed {
        action: out.action().to_string(),
        authres: decided,
        deleted: out.deleted_headers().len(),
    }
}

/// A folded header value on one line.
fn one_line(v: &str) -> String {
    v.replace("\n\t", " ").replace('\n', "")
}

/// One HEADER command. A value with a NUL inside goes out as the raw packet
/// `name NUL value NUL` (the test client refuses to encode it): what a hostile or broken MTA
/// could send, and what the milter must see whole.
pub(crate) async fn send_header(mta: &mut testkit::MtaClient, name: &[u8], value: &[u8]) {
    if !value.contains(&0) {
        mta.header(name, value).await.expect("header");
        return;
    }
    let value = if mta.leadspc() {
        value
    } else {
        value.strip_prefix(b" ").unwrap_or(value)
    };
    let mut payload = vec![b'L'];
    payload.extend_from_slice(name);
    payload.push(0);
    payload.extend_from_slice(value);
    payload.push(0);
    let mut frame = u32::try_from(payload.len())
        .expect("small")
        .to_be_bytes()
        .to_vec();
    frame.extend_from_slice(&payload);
    mta.send_raw(&frame).await.expect("raw header");
    let no_reply = mta
        .negotiated()
        .is_some_and(|n| n.protocol.contains(milter_proto::ProtocolFlags::NR_HDR));
    if !no_reply {
        let r = mta
            .read_reply(std::time::Duration::from_secs(10))
            .await
            .expect("header reply");
        assert_eq!(r, milter_proto::Response::Continue);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_mail_gets_the_same_safe_decision_from_eval_and_the_milter() {
    let cases = cases::all();
    assert_eq!(cases.len(), 87, "the suite's size is pinned");
    let mut classes: BTreeMap<&str, usize> = BTreeMap::new();
    let mut runs = 0usize;
    let mut failures = Vec::new();
    for case in &cases {
        *classes.entry(case.class).or_default() += 1;
        let zone = format!("{BASE_ZONE}{}", case.zone);
        for run in &case.runs {
            let Run { mode, expect } = run;
            let eval = run_eval(case, *mode, &zone);
            let milter = run_milter(case, *mode, &zone).await;
            runs += 1;
            let label = format!("[{}] {} ({})", case.class, case.name, mode.as_str());
            if eval != milter {
                failures.push(format!(
                    "{label}: eval and milter disagree\n  eval:   {eval:?}\n  milter: {milter:?}"
                ));
                continue;
            }
            if let Some(why) = mismatch(&milter, expect) {
                failures.push(format!("{label}: {why}\n  got: {milter:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(runs, cases.iter().map(|c| c.runs.len()).sum::<usize>());
    // every class of the issue is covered
    for class in [
        "from-spelling",
        "header-block",
        "control-character",
        "no-author-domain",
        "encoded-word",
        "comment-quote",
        "dkim-length",
        "alignment",
        "authres-injection",
        "temperror",
        "forged-authres",
    ] {
        assert!(
            classes.get(class).copied().unwrap_or(0) >= 2,
            "class {class}: {classes:?}"
        );
    }
}

fn mismatch(o: &Observed, e: &Expect) -> Option<String> {
    if o.action != e.action {
        return Some(format!("action {} (expected {})", o.action, e.action));
    }
    let dmarc = o.dmarc();
    if let Some(want) = e.dmarc
        && dmarc != want
    {
        return Some(format!("dmarc={dmarc} (expected {want})"));
    }
    if dmarc == "pass" && !e.pass_ok {
        return Some("dmarc=pass for a message that must never pass".into());
    }
    if let Some(d) = e.deleted
        && o.deleted != d
    {
        return Some(format!("{} headers deleted (expected {d})", o.deleted));
    }
    if e.single_dmarc {
        let ar = authres::parse(o.authres.as_bytes()).ok()?;
        let n = ar.by_method("dmarc").count();
        if n != 1 || ar.results.iter().any(|r| r.method.contains(';')) {
            return Some(format!("injected methods in {:?}", o.authres));
        }
    }
    None
}
