//! DMARC reports end to end, the way an operator runs them: `authmilter serve` records what it
//! sees into the store, `authmilter report send` (and the schedule inside `serve`) submits the
//! reports to an SMTP relay (an in-process sink here), `authmilter report status` shows the
//! state. SQLite always; PostgreSQL with two `serve` nodes when AUTHMILTER_E2E=1.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dns::memory::MemoryResolver;
use testkit::{MtaClient, Profile};

use crate::postfix::mta::sink::{Delivered, Sink};
use crate::support::{ServeProcess, binary, message as lines, run_cli};
use test_support::free_port;

mod failure;
mod postgres;
mod shutdown;

const DAY: u64 = 86_400;

/// Keys, zone and files of one test.
struct Setup {
    dir: tempfile::TempDir,
    zone: String,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().expect("tempdir");
        let k = dkim::generate_key(dkim::KeyAlgorithm::Ed25519).expect("keygen");
        let key = dir.path().join("rx.pem");
        {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&key)
                .expect("key file");
            f.write_all(k.private_key_pem.as_bytes())
                .expect("write key");
        }
        let zone = format!(
            "_dmarc.a.example TXT \"v=DMARC1; p=reject; rua=mailto:dmarc@a.example,mailto:dmarc2@a.example; ruf=mailto:ruf@a.example; fo=1\"\n\
             a.example MX 10 mx.a.example\n\
             a.example TXT \"v=spf1 ip4:198.51.100.1 -all\"\n\
             mx.a.example A 127.0.0.1\n\
             _dmarc.b.example TXT \"v=DMARC1; p=none; rua=mailto:r@reports.other.example,mailto:x@evil.example\"\n\
             reports.other.example MX 10 mx.other.example\n\
             b.example._report._dmarc.reports.other.example TXT \"v=DMARC1\"\n\
             evil.example MX 10 mx.evil.example\n\
             s1._domainkey.rx.example TXT \"{}\"\n\
             c.example MX 10 mx.a.example\n\
             _dmarc.c.example TXT \"v=DMARC1; p=none; ruf=mailto:ruf@c.example; fo=d\"\n\
             s1._domainkey.c.example TXT \"{}\"\n\
             gone._domainkey.c.example TXT \"v=DKIM1; p=\"\n\
             d.example MX 10 mx.a.example\n\
             _dmarc.d.example TXT \"v=DMARC1; p=none; ruf=mailto:ruf@d.example; fo=s\"\n\
             d.example TXT \"v=spf1 include:_spf.d.example -all\"\n\
             _spf.d.example TXT \"v=spf1 ip4:198.51.100.1 ~all\"\n",
            k.record.text(),
            k.record.text()
        );
        std::fs::write(dir.path().join("zone"), &zone).expect("zone");
        Setup { dir, zone }
    }

    fn zone_path(&self) -> PathBuf {
        self.dir.path().join("zone")
    }

    fn sqlite(&self) -> String {
        format!("sqlite:{}", self.dir.path().join("reports.db").display())
    }

    /// A configuration for a node listening on `port`, storing into `store`, relaying to
    /// `relay`.
    fn config(&self, port: u16, store: &str, relay: u16, extra: &str) -> String {
        format!(
            "[[server.listen]]\nsocket = \"inet:127.0.0.1:{port}\"\nrole = \"verify\"\n\
             [authres]\nauthserv_id = \"mx.rx.example\"\n\
             [[dkim.key]]\ndomain = \"rx.example\"\nselector = \"s1\"\npath = \"{}\"\n\
             [reports]\nenabled = true\nstore = \"{store}\"\nemail = \"dmarc-reports@rx.example\"\n\
             org_name = \"rx.example\"\nrelay = \"127.0.0.1:{relay}\"\nhelo = \"mx.rx.example\"\n\
             batch_size = 20\nflush_interval = \"200ms\"\nclaim_timeout = \"3s\"\n{extra}",
            self.dir.path().join("rx.pem").display()
        )
    }

    fn serve(&self, toml: &str, port: u16) -> ServeProcess {
        let zone = self.zone_path();
        ServeProcess::start(toml, port, &["--zone", zone.to_str().expect("path")])
    }

    /// `authmilter report <args> -c <config> [--zone]`.
    fn report(&self, config: &Path, args: &[&str]) -> (i32, String, String) {
        let zone = self.zone_path();
        let cfg = config.to_str().expect("path");
        let mut all: Vec<&str> = vec!["report"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["-c", cfg]);
        if args.first() == Some(&"send") {
            all.extend_from_slice(&["--zone", zone.to_str().expect("path")]);
        }
        run_cli(&all, None)
    }

    fn status(&self, config: &Path) -> serde_json::Value {
        let (code, out, err) = self.report(config, &["status", "--json"]);
        assert_eq!(code, 0, "report status: {err}");
        serde_json::from_str(&out).expect("status JSON")
    }

    /// Waits until the store holds `n` recorded messages (bounded).
    fn wait_recorded(&self, config: &Path, n: u64) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let s = self.status(config);
            if recorded(&s) >= n {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "recorded {} of {n}: {s:#}",
                recorded(&s)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The DKIM results of a delivered report, verified with our own verifier.
    async fn dkim(&self, data: &[u8]) -> Vec<dkim::SignatureResult> {
        let resolver = MemoryResolver::from_zone(&self.zone).expect("zone");
        let verifier = dkim::Verifier::new(dkim::VerifyOptions::default());
        dkim::verify_message(&verifier, &resolver, data, dkim::unix_now()).await
    }
}

fn recorded(status: &serde_json::Value) -> u64 {
    status["status"]["periods"]
        .as_array()
        .map(|ps| ps.iter().filter_map(|p| p["messages"].as_u64()).sum())
        .unwrap_or(0)
}

/// A time at which today's reports are due (tomorrow 02:00 UTC).
fn tomorrow() -> u64 {
    let now = dkim::unix_now();
    now - now % DAY + DAY + 7200
}

fn today() -> String {
    let now = dkim::unix_now();
    let (y, m, d) = civil(now / DAY);
    format!("{y:04}-{m:02}-{d:02}")
}

fn civil(days: u64) -> (u64, u64, u64) {
    // days since 1970-01-01 -> (y, m, d)
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + u64::from(m <= 2), m, d)
}

/// Sends `n` messages From `user@<domain>` through the milter on `port`; returns how many the
/// milter answered.
async fn send(port: u16, domain: &str, n: usize) -> usize {
    send_with_body(port, domain, n, "hello").await
}

/// [`send`] with `body` as every message's body.
async fn send_with_body(port: u16, domain: &str, n: usize, body: &str) -> usize {
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let mut answered = 0;
    for i in 0..n {
        let Ok(mut mta) = MtaClient::connect_tcp(
            addr,
            Profile::postfix().with_timeout(Duration::from_secs(20)),
        )
        .await
        else {
            break;
        };
        if mta.negotiate().await.is_err() {
            break;
        }
        let raw = lines(&[
            &format!("From: user{i}@{domain}"),
            "To: someone@rx.example",
            &format!("Subject: message {i}"),
            &format!("Message-ID: <{i}.{domain}@test>"),
            "",
            body,
        ]);
        // by hand, not support::transaction: the milter may be killed at any step
        let ip = "192.0.2.10".parse().expect("ip");
        let steps = async {
            mta.connect("client.example.org", ip, 40000, &[]).await?;
            mta.helo("mail.sender.example", &[]).await?;
            mta.mail(&format!("<bounce@{domain}>"), &[], &[]).await?;
            mta.rcpt("<someone@rx.example>", &[], &[]).await?;
            mta.send_message(&raw).await
        };
        match steps.await {
            Ok(outcome) if outcome.is_accept() => answered += 1,
            Ok(_) => {}
            Err(_) => break,
        }
        let _ = mta.quit().await;
    }
    answered
}

fn for_rcpt<'a>(msgs: &'a [Delivered], rcpt: &str) -> Vec<&'a Delivered> {
    msgs.iter()
        .filter(|m| m.rcpts.iter().any(|r| r == rcpt))
        .collect()
}

/// The one report in a delivered report mail.
fn report_of(m: &Delivered) -> reports::Feedback {
    let found = reports::extract_reports(&m.data, &reports::Limits::default());
    assert_eq!(found.len(), 1, "one report per mail");
    let r = found.into_iter().next().expect("report");
    assert!(
        r.source.contains(".xml.gz"),
        "gzip attachment: {}",
        r.source
    );
    r.report.expect("the attachment parses")
}

#[tokio::test(flavor = "multi_thread")]
async fn recorded_by_serve_sent_once_with_dkim_and_verified_destinations() {
    let setup = Setup::new();
    let sink = Sink::start();
    let port = free_port();
    let toml = setup.config(port, &setup.sqlite(), sink.addr().port(), "");
    let serve = setup.serve(&toml, port);
    let cfg = serve.config_path();
    assert_eq!(send(port, "a.example", 3).await, 3);
    assert_eq!(send(port, "b.example", 2).await, 2);
    let status = setup.wait_recorded(&cfg, 5);
    assert_eq!(recorded(&status), 5, "{status:#}");

    // today's period has not ended: nothing is due, and --period refuses it
    let (code, out, err) = setup.report(&cfg, &["send"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("0 report(s)"), "{out}");
    let (code, _, err) = setup.report(&cfg, &["send", "--period", &today()]);
    assert_eq!(code, 2);
    assert!(err.contains("has not ended"), "{err}");

    // a dry run writes the messages and changes nothing
    let out_dir = setup.dir.path().join("dry");
    let now = tomorrow().to_string();
    let (code, out, err) = setup.report(
        &cfg,
        &[
            "send",
            "--dry-run",
            "--out",
            out_dir.to_str().expect("path"),
            "--now",
            &now,
        ],
    );
    assert_eq!(code, 0, "{err}");
    let files: Vec<_> = std::fs::read_dir(&out_dir).expect("dir").collect();
    assert_eq!(files.len(), 3, "{out}");
    assert!(sink.messages().is_empty());
    let s = setup.status(&cfg);
    assert!(s["status"]["periods"][0]["job"].is_null(), "{s:#}");

    // the real thing
    let (code, out, err) = setup.report(&cfg, &["send", "--now", &now, "--json"]);
    assert_eq!(code, 0, "{err}");
    let summary: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(summary["sent"], 3, "{summary:#} {err}");
    assert_eq!(summary["skipped"], 1, "{summary:#}");
    let got = sink.messages();
    assert_eq!(got.len(), 3, "{}", sink.transcript());
    assert!(
        for_rcpt(&got, "x@evil.example").is_empty(),
        "unauthorized destination got nothing"
    );
    for (rcpt, domain, count) in [
        ("dmarc@a.example", "a.example", 3),
        ("dmarc2@a.example", "a.example", 3),
        ("r@reports.other.example", "b.example", 2),
    ] {
        let m = for_rcpt(&got, rcpt);
        assert_eq!(m.len(), 1, "{rcpt}");
        let m = m[0];
        assert_eq!(m.mail_from, "dmarc-reports@rx.example");
        let parsed = m.message();
        let ct = parsed
            .headers
            .iter()
            .find(|h| h.is("Content-Type"))
            .expect("Content-Type");
        assert!(ct.value.starts_with("multipart/mixed"), "{}", ct.value);
        let subject = parsed
            .headers
            .iter()
            .find(|h| h.is("Subject"))
            .expect("Subject");
        assert!(
            subject
                .value
                .contains(&format!("Report Domain: {domain} Submitter: rx.example")),
            "{}",
            subject.value
        );
        assert!(m.contains("Content-Type: application/gzip"));
        assert!(m.contains(&format!("filename=\"rx.example!{domain}!")));
        let fb = report_of(m);
        assert_eq!(fb.policy.domain, domain);
        assert_eq!(fb.message_count(), count);
        assert_eq!(fb.metadata.org_name, "rx.example");
        assert_eq!(fb.metadata.email, "dmarc-reports@rx.example");
        let day = tomorrow() - 7200 - DAY;
        assert_eq!(
            (fb.metadata.date_range.begin, fb.metadata.date_range.end),
            (day, day + DAY - 1)
        );
        let dkim = setup.dkim(&m.data).await;
        assert_eq!(dkim.len(), 1, "{dkim:?}");
        assert_eq!(dkim[0].result, dkim::DkimResult::Pass, "{dkim:?}");
        assert_eq!(dkim[0].domain, "rx.example");
    }

    // again: nothing is sent twice
    let (code, out, err) = setup.report(&cfg, &["send", "--now", &now]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("0 report(s)"), "{out}");
    assert_eq!(sink.messages().len(), 3);
    let (code, text, _) = setup.report(&cfg, &["status"]);
    assert_eq!(code, 0);
    assert!(text.contains("sent      dmarc@a.example"), "{text}");
    assert!(text.contains("skipped   x@evil.example"), "{text}");
    assert!(text.contains("not authorized"), "{text}");
    drop(serve);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_while_recording_loses_at_most_the_documented_batch() {
    let setup = Setup::new();
    let port = free_port();
    let metrics_port = free_port();
    let extra = format!("queue = 50\n[metrics]\nlisten = \"127.0.0.1:{metrics_port}\"\n");
    let toml = setup.config(port, &setup.sqlite(), 9, &extra);
    let mut serve = setup.serve(&toml, port);
    let cfg = serve.config_path();
    // a steady stream of mail, killed in the middle
    let sender = tokio::spawn(async move { send(port, "a.example", 400).await });
    let deadline = Instant::now() + Duration::from_secs(60);
    while recorded(&setup.status(&cfg)) < 100 {
        assert!(Instant::now() < deadline, "recording too slow");
        std::thread::sleep(Duration::from_millis(20));
    }
    // what a full queue dropped so far (the milter never waits for the recorder: under load,
    // e.g. the whole suite running at once, records are dropped and counted, not lost to the
    // kill) and how many messages had been answered then
    let samples = crate::metrics::scrape(metrics_port);
    let sum = |prefix: &str| -> u64 {
        samples
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| *v as u64)
            .sum()
    };
    let (dropped, answered_then) = (
        sum("authmilter_results_sink_dropped_total"),
        sum("authmilter_messages_total"),
    );
    serve.kill();
    let _ = serve.wait_exit(Duration::from_secs(10));
    let answered = sender.await.expect("sender") as u64;
    assert!(answered < 400, "killed before the end ({answered})");
    let toml_copy = std::fs::read_to_string(&cfg).expect("config");
    let serve2 = setup.serve(&toml_copy, port);
    let cfg2 = serve2.config_path();
    let s = setup.status(&cfg2);
    let kept = recorded(&s);
    let after = answered.saturating_sub(answered_then);
    eprintln!(
        "SIGKILL while recording: {answered} answered, {kept} kept, {dropped} dropped by a full queue before the kill, {after} answered after that count"
    );
    // in memory at the kill: at most the queue (50) and one write's batch (a write takes
    // what is queued, so at most the queue's 50 again); besides, what the full queue dropped
    // (counted before the kill, and at most every message answered after that count)
    assert!(kept <= answered, "{kept} > {answered}");
    assert!(
        kept + 50 + 50 + dropped + after >= answered,
        "lost {} of {answered} ({dropped} dropped by a full queue, {after} answered after the count)",
        answered - kept
    );
    // the database is sound and recording goes on
    assert_eq!(send(port, "a.example", 5).await, 5);
    setup.wait_recorded(&cfg2, kept + 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_while_sending_never_sends_a_report_twice() {
    let setup = Setup::new();
    let sink = Sink::start();
    let port = free_port();
    let toml = setup.config(port, &setup.sqlite(), sink.addr().port(), "");
    let serve = setup.serve(&toml, port);
    // the config outlives the serve process (its own copy goes with it)
    let cfg = setup.dir.path().join("milter.toml");
    std::fs::write(&cfg, &toml).expect("config");
    assert_eq!(send(port, "a.example", 2).await, 2);
    setup.wait_recorded(&cfg, 2);
    drop(serve);

    // the relay takes the first report and never answers; the sender is killed waiting
    sink.hold_replies(true);
    let now = tomorrow().to_string();
    let zone = setup.zone_path();
    let mut child = Command::new(binary())
        .args([
            "report",
            "send",
            "--now",
            &now,
            "-c",
            cfg.to_str().expect("p"),
        ])
        .args(["--zone", zone.to_str().expect("path")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("report send");
    assert!(
        sink.wait_for(Duration::from_secs(20), |_| true).is_some(),
        "the first report reached the relay"
    );
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    sink.hold_replies(false);
    assert_eq!(sink.messages().len(), 1);
    let first = sink.messages()[0].rcpts.clone();

    // at once: the dead sender's claim still holds, nothing is sent
    let (code, out, err) = setup.report(&cfg, &["send", "--now", &now]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("1 held by another sender"), "{out}");
    assert_eq!(sink.messages().len(), 1);

    // after claim_timeout (3 s) another sender resumes: the report in flight at the kill is
    // uncertain and not sent again, the other destination gets its report
    let later = (tomorrow() + 10).to_string();
    let (code, out, err) = setup.report(&cfg, &["send", "--now", &later]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("1 sent"), "{out}");
    let got = sink.messages();
    assert_eq!(got.len(), 2, "{}", sink.transcript());
    for rcpt in ["dmarc@a.example", "dmarc2@a.example"] {
        assert_eq!(
            for_rcpt(&got, rcpt).len(),
            1,
            "{rcpt} got exactly one report"
        );
    }
    let s = setup.status(&cfg);
    let sends = s["status"]["periods"][0]["sends"]
        .as_array()
        .expect("sends")
        .clone();
    let state = |r: &str| {
        sends
            .iter()
            .find(|x| x["destination"] == r)
            .map(|x| x["state"].as_str().unwrap_or("").to_string())
    };
    assert_eq!(state(&first[0]).as_deref(), Some("uncertain"), "{s:#}");
    assert_eq!(s["status"]["periods"][0]["job"]["state"], "done", "{s:#}");
    // and never again
    let (_, out, _) = setup.report(&cfg, &["send", "--now", &(tomorrow() + 20).to_string()]);
    assert!(out.starts_with("0 report(s)"), "{out}");
    assert_eq!(sink.messages().len(), 2);
}

/// The schedule inside `serve` sends the reports of days that ended (here yesterday's,
/// recorded before the start) on its own; a reload that changes the store is refused for
/// that setting (logged) and recording goes on into the store opened at start.
#[tokio::test(flavor = "multi_thread")]
async fn serve_sends_due_reports_on_its_schedule_and_keeps_its_store_across_a_reload() {
    let setup = Setup::new();
    let sink = Sink::start();
    // yesterday's observations, as an earlier run of serve would have left them
    let store_loc: report_store::StoreLocation = setup.sqlite().parse().expect("location");
    let store = report_store::Store::open(&store_loc, dkim::unix_now())
        .await
        .expect("store");
    let now = dkim::unix_now();
    let yesterday = now - now % DAY - DAY + 3600;
    let record =
        dmarc::parse_record(b"v=DMARC1; p=reject; rua=mailto:dmarc@a.example").expect("record");
    let eval = dmarc::Evaluation {
        author_domain: "a.example".into(),
        result: dmarc::DmarcResult::Fail,
        org_domain: Some("a.example".into()),
        discovery: dmarc::DiscoveryMethod::TreeWalk,
        policy_domain: Some("a.example".into()),
        record_source: Some(dmarc::RecordSource::AuthorDomain),
        record: Some(record),
        policy: Some(dmarc::Policy::Reject),
        policy_source: Some(dmarc::PolicySource::P),
        author_domain_exists: None,
        disposition: dmarc::Disposition::Reject,
        sampled_out: false,
        testing: false,
        spf: None,
        dkim: Vec::new(),
        reasons: Vec::new(),
    };
    let env = reports::Envelope {
        source_ip: Some("192.0.2.77".parse().expect("ip")),
        ..Default::default()
    };
    let obs: Vec<reports::Observation> = (0..4)
        .map(|i| {
            reports::Observation::from_evaluation(
                &eval,
                &env,
                reports::AppliedPolicy::as_evaluated(&eval),
                yesterday + i,
                &[],
            )
        })
        .collect();
    store.record(&obs).await.expect("record");
    drop(store);

    let port = free_port();
    let toml = setup.config(port, &setup.sqlite(), sink.addr().port(), "send_hour = 0\n");
    let serve = setup.serve(&toml, port);
    let got = sink.wait_for(Duration::from_secs(20), |m| {
        m.rcpts.iter().any(|r| r == "dmarc@a.example")
    });
    let got = got.unwrap_or_else(|| panic!("no report from the schedule: {}", serve.log_text()));
    let fb = report_of(&got);
    assert_eq!(fb.message_count(), 4);
    assert_eq!(fb.metadata.date_range.begin, yesterday - 3600);

    // a reload that moves the store: logged, takes effect after a restart
    let other = format!("sqlite:{}", setup.dir.path().join("other.db").display());
    let moved = setup.config(port, &other, sink.addr().port(), "send_hour = 0\n");
    std::fs::write(serve.config_path(), &moved).expect("rewrite");
    let _ = Command::new("kill")
        .args(["-HUP", &serve.pid().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(15);
    while !serve.log_text().contains("take effect after a restart") {
        assert!(Instant::now() < deadline, "{}", serve.log_text());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(send(port, "a.example", 2).await, 2);
    // still recorded into the store opened at start (status reads the original file)
    let original = setup.dir.path().join("orig.toml");
    std::fs::write(&original, &toml).expect("config");
    let s = setup.wait_recorded(&original, 6);
    assert_eq!(recorded(&s), 6, "{s:#}");
    assert!(!setup.dir.path().join("other.db").exists());
}
