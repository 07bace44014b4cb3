//! `start` as `serve` runs it: the recorder, the failure report producer and the schedule
//! over a real SQLite store, with the configuration swapped in as a SIGHUP reload does.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use dns::Resolver;
use dns::memory::MemoryResolver;
use report_store::sql::Stmt;
use report_store::{Store, StoreLocation};
use reports::vocabulary::{
    AlignmentMode, DiscoveryMethod, Disposition, DmarcResult, FailureOption, Mode, Psd,
};
use reports::{Envelope, Observation, PublishedPolicy, ReportAddress};
use tokio::sync::watch;

use crate::app::App;
use crate::config::Config;
use crate::pipeline::{Direction, FinishedMessage, ResultsSink};

/// A message from a.example that failed DMARC under a record asking for failure reports
/// (`fo=1`) to an address of a.example itself (no external verification needed), from
/// `source_ip` (another source is another aggregate row).
fn failed_message(source_ip: &str) -> FinishedMessage {
    let observation = Observation {
        time: 1_700_000_000,
        source_ip: source_ip.parse().unwrap(),
        header_from: "a.example".into(),
        envelope_from: "a.example".into(),
        envelope_to: vec!["rx.example".into()],
        policy_domain: Some("a.example".into()),
        result: DmarcResult::Fail,
        disposition: Disposition::Reject,
        requested_policy: Some(Disposition::Reject),
        overrides: Vec::new(),
        spf: None,
        dkim: Vec::new(),
        published: Some(PublishedPolicy {
            p: Disposition::Reject,
            sp: None,
            np: None,
            adkim: AlignmentMode::Relaxed,
            aspf: AlignmentMode::Relaxed,
            testing: false,
            pct: 100,
            psd: Psd::Unknown,
            fo: vec![FailureOption::Any],
            rua: Vec::new(),
            ruf: vec![ReportAddress {
                uri: "mailto:ruf@a.example".into(),
                max_size: None,
            }],
            discovery_method: DiscoveryMethod::TreeWalk,
            errors: Vec::new(),
        }),
        mode: Mode::Rfc9989,
    };
    let field = |n: &str, v: &str| message::HeaderField {
        name: n.as_bytes().to_vec(),
        value: v.as_bytes().to_vec(),
    };
    FinishedMessage {
        time: 1_700_000_000,
        queue_id: None,
        direction: Direction::Inbound,
        client_ip: None,
        helo: None,
        mail_from: Vec::new(),
        recipients: Vec::new(),
        observations: vec![observation],
        envelope: Some(Envelope {
            source_ip: source_ip.parse().ok(),
            helo: "mail.a.example".into(),
            mail_from: "user@a.example".into(),
            rcpt_to: vec!["rcpt@rx.example".into()],
            envelope_id: None,
        }),
        decision: None,
        headers: Some(Arc::new(vec![
            field("From", " user@a.example"),
            field("Subject", " hello"),
        ])),
        body: None,
        spf_records: Vec::new(),
    }
}

async fn rows(store: &Store, table: &str) -> usize {
    let rows = store
        .read(vec![Stmt::new(
            format!("SELECT * FROM {table}"),
            Vec::new(),
        )])
        .await
        .unwrap();
    rows[0].len()
}

/// Polls the store every 20 ms for at most `secs` until `table` has `n` rows; returns the
/// count.
async fn wait_rows(store: &Store, table: &str, n: usize, secs: u64) -> usize {
    let until = Instant::now() + Duration::from_secs(secs);
    while rows(store, table).await < n && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    rows(store, table).await
}

/// docs/reports.md, "Reloads": the failure settings apply at a reload. Failure reports turned
/// on by a SIGHUP (off when `serve` started) are produced from then on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_reports_turned_on_by_a_reload_are_produced() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("reports.db");
    // the relay is a closed port: nothing is sent anywhere
    let toml = |failure: bool| {
        format!(
            "[authres]\nauthserv_id = \"mx.rx.example\"\n\
             [reports]\nenabled = true\nrecord_all = true\nflush_interval = \"100ms\"\nsend = false\nrelay = \"127.0.0.1:9\"\n\
             store = \"sqlite:{}\"\nemail = \"dmarc-reports@rx.example\"\n\
             [reports.failure]\nenabled = {failure}\n",
            db.display()
        )
    };
    let dns: Arc<dyn Resolver> =
        Arc::new(MemoryResolver::from_zone("a.example MX 10 mx.a.example\n").unwrap());
    let app = |failure: bool| App::new(Config::parse(&toml(failure)).unwrap(), dns.clone());
    let shared = Arc::new(ArcSwap::from_pointee(app(false).unwrap()));
    let store = Store::open(&StoreLocation::Sqlite(db.clone()), super::unix_now())
        .await
        .unwrap();
    let (_store_tx, store_rx) = watch::channel(Some(store.clone()));
    let (stop_tx, stop) = watch::channel(false);
    let (sink, rx) = ResultsSink::for_reports(16);
    let mut tasks = tokio::task::JoinSet::new();
    super::start(Arc::clone(&shared), rx, store_rx, stop, &mut tasks);

    // running as started (failure reports off): the first message is recorded (record_all),
    // no failure report
    sink.publish(failed_message("192.0.2.2"));
    assert_eq!(wait_rows(&store, "observations", 1, 10).await, 1);
    // the reload; the recorder reads the configuration once per pass, so a message it takes
    // in the pass under way still sees the old one: publish until one is recorded after it
    shared.store(Arc::new(app(true).unwrap()));
    let mut queued = 0;
    for source in 3..=20 {
        sink.publish(failed_message(&format!("192.0.2.{source}")));
        assert_eq!(
            wait_rows(&store, "observations", source - 1, 10).await,
            source - 1
        );
        queued = wait_rows(&store, "failure_reports", 1, 1).await;
        if queued > 0 {
            break;
        }
    }

    stop_tx.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(10), async {
        while tasks.join_next().await.is_some() {}
    })
    .await
    .unwrap();
    assert_eq!(
        queued, 1,
        "no failure report after the reload turned them on"
    );
}

/// Report mail must pass DMARC (RFC 9990 §3.5.2): reports from a subdomain of a domain we
/// hold a key for are signed with that key (aligned under relaxed alignment), and a `from`
/// domain no key covers is warned of at start instead of going out unsigned in silence.
#[test]
fn reports_are_signed_by_a_parent_key_or_warned_of() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let key = dkim::generate_key(dkim::KeyAlgorithm::Ed25519).unwrap();
    let path = dir.path().join("k.pem");
    std::fs::write(&path, key.private_key_pem.as_bytes()).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let app_from = |email: &str| {
        let toml = format!(
            "[[dkim.key]]\ndomain = \"rx.example\"\nselector = \"s1\"\npath = \"{}\"\n\
             [reports]\nenabled = true\nstore = \"sqlite:/nonexistent/r.db\"\nemail = \"{email}\"\n",
            path.display()
        );
        let dns: Arc<dyn Resolver> = Arc::new(MemoryResolver::from_zone("").unwrap());
        App::new(Config::parse(&toml).unwrap(), dns).unwrap()
    };
    let message = b"From: r@x\r\nSubject: report\r\n\r\nbody\r\n".to_vec();
    for email in ["dmarc@rx.example", "dmarc@reports.rx.example"] {
        let app = app_from(email);
        assert_eq!(super::unsigned_reports_warning(&app), None, "{email}");
        let signed = super::sign(&app, email, message.clone(), 1_700_000_000);
        let text = String::from_utf8_lossy(&signed);
        assert!(text.starts_with("DKIM-Signature:"), "{email}: {text}");
        assert!(text.contains("d=rx.example;"), "{email}: {text}");
    }
    let app = app_from("dmarc@other.example");
    let warning = super::unsigned_reports_warning(&app).unwrap();
    assert!(warning.contains("other.example"), "{warning}");
    assert_eq!(
        super::sign(&app, "dmarc@other.example", message.clone(), 1_700_000_000),
        message
    );
}
