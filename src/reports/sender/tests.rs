//! The aggregate pass against a real SQLite store and an in-memory DNS (no SMTP needed: the
//! cases here end before anything is submitted).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use dns::Resolver;
use dns::memory::MemoryResolver;
use report_store::{NewSend, PeriodKey, SendState, Store, StoreLocation};
use reports::vocabulary::{
    AlignmentMode, DiscoveryMethod, Disposition, DmarcResult, FailureOption, Mode, Psd,
};
use reports::{Observation, PublishedPolicy, ReportAddress};

use super::*;
use crate::config::Config;
use crate::reports::schedule::failure_pass;

pub(super) const DAY: u64 = 86_400;
/// 2026-11-02 00:00:00 UTC
pub(super) const T0: u64 = 1_793_577_600;

pub(super) fn observation(rua: &str) -> Observation {
    observation_of("a.example", rua)
}

pub(super) fn observation_of(domain: &str, rua: &str) -> Observation {
    Observation {
        time: T0 + 100,
        source_ip: "192.0.2.1".parse().unwrap(),
        header_from: domain.into(),
        envelope_from: domain.into(),
        envelope_to: vec!["rx.example".into()],
        policy_domain: Some(domain.into()),
        result: DmarcResult::Pass,
        disposition: Disposition::None,
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
            fo: vec![FailureOption::All],
            rua: vec![ReportAddress {
                uri: rua.into(),
                max_size: None,
            }],
            ruf: Vec::new(),
            discovery_method: DiscoveryMethod::TreeWalk,
            errors: Vec::new(),
        }),
        mode: Mode::Rfc9989,
    }
}

/// The app of `[reports]` settings `extra` over `zone`, and its SQLite store in `dir`.
pub(super) async fn app_and_store(dir: &std::path::Path, extra: &str, zone: &str) -> (App, Store) {
    let db = dir.join("reports.db");
    let toml = format!(
        "[authres]\nauthserv_id = \"mx.rx.example\"\n\
         [reports]\nenabled = true\nstore = \"sqlite:{}\"\nemail = \"dmarc@rx.example\"\n{extra}",
        db.display()
    );
    let dns: Arc<dyn Resolver> = Arc::new(MemoryResolver::from_zone(zone).unwrap());
    let app = App::new(Config::parse(&toml).unwrap(), dns).unwrap();
    let store = Store::open(&StoreLocation::Sqlite(db), T0).await.unwrap();
    (app, store)
}

/// Records one observation of each domain in `domains`, its `rua` `mailto:dmarc@<domain>`.
pub(super) async fn record_each(store: &Store, domains: &[&str]) {
    let batch: Vec<Observation> = domains
        .iter()
        .map(|d| observation_of(d, &format!("mailto:dmarc@{d}")))
        .collect();
    store.record(&batch).await.unwrap();
}

/// [`pass_the_next_day`] as a dry run: its mails written into `out`, nothing sent or changed.
pub(super) async fn dry_run_the_next_day(app: &App, store: &Store, out: &Path) -> PassSummary {
    std::fs::create_dir_all(out).unwrap();
    next_day_pass(app, store, Some(out.to_path_buf())).await
}

/// An aggregate pass an hour into the day after `T0`'s period, sending at once.
pub(super) async fn pass_the_next_day(app: &App, store: &Store) -> PassSummary {
    next_day_pass(app, store, None).await
}

/// An aggregate pass an hour into the day after `T0`'s period, at once, a dry run into
/// `dry_run` if given.
async fn next_day_pass(app: &App, store: &Store, dry_run: Option<PathBuf>) -> PassSummary {
    let opts = PassOptions {
        immediate: true,
        dry_run,
        ..PassOptions::default()
    };
    let clock = PassClock::starting_at(T0 + DAY + 3600);
    aggregate_pass(app, store, "n1/1", clock, &opts)
        .await
        .unwrap()
}

/// Delivery attempts made for the reports of the period beginning at `T0`, in all.
pub(super) async fn attempts_made(store: &Store) -> u64 {
    let status = store.status(T0).await.unwrap();
    status
        .periods
        .iter()
        .flat_map(|p| p.sends.iter())
        .map(|s| s.attempts)
        .sum()
}

/// Reports still due two days after `T0` (none lost, none given up).
async fn still_due(store: &Store) -> usize {
    store
        .due_periods(T0 + DAY, T0 + 3 * DAY, 10)
        .await
        .unwrap()
        .len()
}

/// A relay setting naming a local port nothing listens on.
pub(super) fn closed_relay() -> String {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    format!("relay = \"127.0.0.1:{port}\"\n")
}

/// Queues `n` failure reports of a.example at `T0`, to f0@a.example, f1@a.example, …
pub(super) async fn queue_failure_reports(store: &Store, n: usize) {
    let limits = report_store::FailureLimits {
        per_domain: (10, 3600),
        per_destination: (10, 3600),
    };
    for i in 0..n {
        let r = report_store::NewFailureReport {
            policy_domain: "a.example".into(),
            destination: format!("f{i}@a.example"),
            uri: format!("mailto:f{i}@a.example"),
            kind: "dmarc".into(),
            message: b"Subject: x\r\n\r\nbody\r\n".to_vec(),
        };
        store.queue_failure_report(&r, T0, limits).await.unwrap();
    }
}

/// A store in `dir` with one observation of a.example whose rua destination
/// r@reports.other.example an earlier pass verified and left pending (the relay said 451),
/// and the app of `[reports] extra` settings over `zone`.
async fn left_pending(dir: &std::path::Path, extra: &str, zone: &str) -> (App, Store) {
    let (app, store) = app_and_store(dir, extra, zone).await;
    let uri = "mailto:r@reports.other.example";
    store.record(&[observation(uri)]).await.unwrap();
    let key = PeriodKey {
        policy_domain: "a.example".into(),
        period_begin: T0,
    };
    store
        .add_sends(
            &key,
            "id",
            &[NewSend {
                destination: "r@reports.other.example".into(),
                uri: uri.into(),
                state: SendState::Pending,
                note: Some("451 try later".into()),
            }],
            T0 + DAY,
        )
        .await
        .unwrap();
    (app, store)
}

/// A destination that an earlier pass left pending (its relay answered 4xx), whose
/// verification record then stays unanswerable (SERVFAIL: a lame delegation). The job gives
/// up after `max_attempts` passes like any other temporary DNS trouble, instead of being
/// retried every pass for as long as the data is kept.
#[tokio::test]
async fn a_pending_destination_whose_dns_stays_broken_is_given_up() {
    let dir = tempfile::tempdir().unwrap();
    let (app, store) = left_pending(
        dir.path(),
        "max_attempts = 3\n",
        "a.example._report._dmarc.reports.other.example TXT SERVFAIL\n\
         reports.other.example MX 10 mx.other.example\n",
    )
    .await;
    let opts = PassOptions {
        immediate: true,
        ..PassOptions::default()
    };
    let mut now = T0 + DAY + 3600;
    for _ in 0..10 {
        aggregate_pass(&app, &store, "n1/1", PassClock::starting_at(now), &opts)
            .await
            .unwrap();
        now += 7 * 3600; // past any backoff
    }
    let status = store.status(T0).await.unwrap();
    let period = status
        .periods
        .iter()
        .find(|p| p.policy_domain == "a.example")
        .unwrap();
    let job = period.job.as_ref().unwrap();
    assert_eq!(job.state, "done", "{job:?}");
    assert!(job.attempts <= 3, "{job:?}");
    assert_eq!(period.sends.len(), 1);
    assert_eq!(
        period.sends[0].state,
        SendState::Failed,
        "{:?}",
        period.sends[0]
    );
}

/// A destination an earlier pass left pending whose verification record is gone now
/// (RFC 9990 §4: no record, the URI MUST be ignored) is settled as skipped, and the job ends.
#[tokio::test]
async fn a_pending_destination_no_longer_authorized_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let (app, store) = left_pending(
        dir.path(),
        "",
        "reports.other.example MX 10 mx.other.example\n",
    )
    .await;
    pass_the_next_day(&app, &store).await;
    let status = store.status(T0).await.unwrap();
    let period = status
        .periods
        .iter()
        .find(|p| p.policy_domain == "a.example")
        .unwrap();
    assert_eq!(period.job.as_ref().unwrap().state, "done", "{period:?}");
    assert_eq!(
        period.sends[0].state,
        SendState::Skipped,
        "{:?}",
        period.sends[0]
    );
    assert!(
        period.sends[0]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("not authorized")),
        "{:?}",
        period.sends[0]
    );
}

/// When the relay cannot be reached (down, or its port closed), a pass stops submitting at
/// the first failed connection instead of trying every destination of every report in turn
/// (with a blackholed relay, each costs `smtp_timeout`, and the failure reports and the purge
/// wait behind the pass).
#[tokio::test]
async fn an_unreachable_relay_stops_the_pass() {
    let dir = tempfile::tempdir().unwrap();
    let zone = "a.example MX 10 mx.a.example\nb.example MX 10 mx.b.example\n\
                c.example MX 10 mx.c.example\n";
    let (app, store) = app_and_store(dir.path(), &closed_relay(), zone).await;
    record_each(&store, &["a.example", "b.example", "c.example"]).await;
    let summary = pass_the_next_day(&app, &store).await;
    assert_eq!(summary.sent, 0);
    assert_eq!(attempts_made(&store).await, 1);
    // nothing is lost: every report is still due
    assert_eq!(still_due(&store).await, 3);
}

/// The failure report queue likewise: after the first refused connection the other reports
/// are not claimed: they stay queued, untried (no attempt counted) and due.
#[tokio::test]
async fn an_unreachable_relay_stops_the_failure_pass() {
    let dir = tempfile::tempdir().unwrap();
    let (app, store) = app_and_store(dir.path(), &closed_relay(), "").await;
    queue_failure_reports(&store, 3).await;
    assert_eq!(
        failure_pass(&app, &store, "n1/1", PassClock::starting_at(T0), None)
            .await
            .unwrap(),
        0
    );
    let rows = store
        .read(vec![report_store::sql::Stmt::new(
            "SELECT state, last_error FROM failure_reports ORDER BY id",
            Vec::new(),
        )])
        .await
        .unwrap();
    let states: Vec<(String, bool)> = rows[0]
        .iter()
        .map(|r| (r.text(0).unwrap(), r.opt_text(1).unwrap().is_none()))
        .collect();
    let pending = |untried| ("pending".to_string(), untried);
    assert_eq!(states, [pending(false), pending(true), pending(true)]);
}

/// Each `rua` URI of an external host may be replaced by the host's own list (RFC 9990 §4
/// step 9), so ten URIs could become a hundred addresses, each a copy of the report in
/// memory. A report goes to at most `MAX_REPORT_URIS` distinct addresses (RFC 9990 §3.5 "up
/// to the Receiver's limits"); the others are skipped with the reason.
#[tokio::test]
async fn a_report_goes_to_a_bounded_number_of_addresses() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("reports.db");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let toml = format!(
        "[authres]\nauthserv_id = \"mx.rx.example\"\n\
         [reports]\nenabled = true\nstore = \"sqlite:{}\"\nemail = \"dmarc@rx.example\"\n\
         relay = \"127.0.0.1:{port}\"\n",
        db.display()
    );
    let list = |host: &str| -> String {
        (0..10)
            .map(|i| format!("mailto:r{i}@{host}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let zone = format!(
        "h1.example MX 10 mx.h1.example\nh2.example MX 10 mx.h2.example\n\
         a.example._report._dmarc.h1.example TXT \"v=DMARC1; rua={}\"\n\
         a.example._report._dmarc.h2.example TXT \"v=DMARC1; rua={}\"\n",
        list("h1.example"),
        list("h2.example")
    );
    let dns: Arc<dyn Resolver> = Arc::new(MemoryResolver::from_zone(&zone).unwrap());
    let app = App::new(Config::parse(&toml).unwrap(), dns).unwrap();
    let store = Store::open(&StoreLocation::Sqlite(db.clone()), T0)
        .await
        .unwrap();
    let mut o = observation("mailto:x@h1.example");
    o.published.as_mut().unwrap().rua.push(ReportAddress {
        uri: "mailto:x@h2.example".into(),
        max_size: None,
    });
    store.record(&[o]).await.unwrap();
    pass_the_next_day(&app, &store).await;
    let status = store.status(T0).await.unwrap();
    let sends = &status.periods[0].sends;
    let skipped = sends
        .iter()
        .filter(|s| s.state == SendState::Skipped)
        .count();
    assert_eq!(sends.len(), 20);
    assert_eq!(skipped, 10, "{sends:#?}");
}

/// A third party's list that alone fills the bound (an external host replacing its URI by
/// ten of its own) does not crowd out the other URIs of the policy: every listed URI gets its
/// first address before any gets a second (RFC 9990 §3.5: delivery MUST be attempted to
/// every remaining URI, up to the receiver's limit).
#[tokio::test]
async fn a_third_partys_list_does_not_crowd_out_the_other_uris() {
    let dir = tempfile::tempdir().unwrap();
    let list: Vec<String> = (0..10).map(|i| format!("mailto:r{i}@h1.example")).collect();
    let zone = format!(
        "h1.example MX 10 mx.h1.example\na.example MX 10 mx.a.example\n\
         a.example._report._dmarc.h1.example TXT \"v=DMARC1; rua={}\"\n",
        list.join(",")
    );
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let (app, store) = app_and_store(
        dir.path(),
        &format!("relay = \"127.0.0.1:{port}\"\n"),
        &zone,
    )
    .await;
    let mut o = observation("mailto:x@h1.example");
    for uri in ["mailto:dmarc@a.example", "mailto:y@h1.example"] {
        o.published.as_mut().unwrap().rua.push(ReportAddress {
            uri: uri.into(),
            max_size: None,
        });
    }
    store.record(&[o]).await.unwrap();
    // the dry run and the send skip the same: one address (r9, reached by two URIs), once
    let dry = dry_run_the_next_day(&app, &store, &dir.path().join("dry")).await;
    assert_eq!((dry.written.len(), dry.skipped), (10, 1));
    let sent = pass_the_next_day(&app, &store).await;
    assert_eq!(sent.skipped, 1);
    let status = store.status(T0).await.unwrap();
    let sends = &status.periods[0].sends;
    let pending = |d: &str| {
        sends
            .iter()
            .any(|s| s.destination == d && s.state != SendState::Skipped)
    };
    assert!(pending("dmarc@a.example"), "{sends:#?}");
    assert!(pending("r0@h1.example"), "{sends:#?}");
    let skipped = sends
        .iter()
        .filter(|s| s.state == SendState::Skipped)
        .count();
    assert_eq!((sends.len(), skipped), (11, 1), "{sends:#?}");
}

/// A relay that accepts connections but never greets (its process limit reached, a listen
/// queue nobody serves) takes no report either: the pass stops after the first greeting
/// that does not come, as for a refused connection, instead of each destination of each
/// report waiting `smtp_timeout` for it (10,000 reports a pass: a week at 60 s), with the
/// failure reports waiting behind.
#[tokio::test]
async fn a_relay_that_never_greets_stops_the_pass() {
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((conn, _)) = listener.accept().await {
            held.push(conn);
        }
    });
    let zone = "a.example MX 10 mx.a.example\nb.example MX 10 mx.b.example\n\
                c.example MX 10 mx.c.example\n";
    let relay = format!("relay = \"127.0.0.1:{port}\"\nsmtp_timeout = \"1s\"\n");
    let (app, store) = app_and_store(dir.path(), &relay, zone).await;
    record_each(&store, &["a.example", "b.example", "c.example"]).await;
    let summary = pass_the_next_day(&app, &store).await;
    silent.abort();
    assert_eq!(summary.sent, 0);
    assert_eq!(attempts_made(&store).await, 1);
    assert_eq!(still_due(&store).await, 3);
}

/// A destination organization whose DNS times out costs each question `[dns] timeout` ×
/// `attempts` (10 s by default), and anyone may publish a thousand policy domains whose
/// `rua` URIs name hosts under it: once a destination check there hit a temporary error,
/// the other destinations under the same organizational domain wait for the next pass
/// without asking again (RFC 9990 §4: a temporary failure is no authorization either way).
#[tokio::test]
async fn a_destination_organization_whose_dns_fails_is_asked_once_a_pass() {
    let dir = tempfile::tempdir().unwrap();
    let mut zone = String::new();
    let mut batch = Vec::new();
    for i in 0..5 {
        let d = format!("d{i}.example");
        zone.push_str(&format!(
            "d{i}.example._report._dmarc.h{i}.slow.example TXT TIMEOUT\n"
        ));
        batch.push(observation_of(&d, &format!("mailto:r@h{i}.slow.example")));
    }
    let db = dir.path().join("reports.db");
    let toml = format!(
        "[authres]\nauthserv_id = \"mx.rx.example\"\n\
         [reports]\nenabled = true\nstore = \"sqlite:{}\"\nemail = \"dmarc@rx.example\"\n{}",
        db.display(),
        closed_relay()
    );
    let dns = Arc::new(MemoryResolver::from_zone(&zone).unwrap());
    let resolver: Arc<dyn Resolver> = dns.clone();
    let app = App::new(Config::parse(&toml).unwrap(), resolver).unwrap();
    let store = Store::open(&StoreLocation::Sqlite(db), T0).await.unwrap();
    store.record(&batch).await.unwrap();
    let summary = pass_the_next_day(&app, &store).await;
    assert_eq!((summary.reports, summary.deferred), (5, 5));
    // the first destination's checks (its organization's tree walk, RFC 9989 §4.10.2, and
    // its verification record) are all the DNS asked: the other four wait untouched
    let queries = dns.queries();
    let verifications = queries
        .iter()
        .filter(|(_, n)| n.contains("._report._dmarc."))
        .count();
    assert_eq!(verifications, 1, "{queries:?}");
    assert!(
        queries
            .iter()
            .all(|(_, n)| !(1..5).any(|i| n.contains(&format!("h{i}.slow")))),
        "{queries:?}"
    );
}

/// A relay that greets at once and answers every command after `delay`, accepting every
/// message; `accepted` is told of each connection.
async fn slow_relay(
    delay: std::time::Duration,
    accepted: tokio::sync::mpsc::UnboundedSender<()>,
) -> (u16, tokio::task::JoinHandle<()>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            let _ = accepted.send(());
            tokio::spawn(async move {
                let (r, mut w) = conn.into_split();
                let mut lines = BufReader::new(r).lines();
                let _ = w.write_all(b"220 slow.example\r\n").await;
                let mut in_data = false;
                while let Ok(Some(line)) = lines.next_line().await {
                    let reply: &[u8] = if in_data {
                        if line != "." {
                            continue;
                        }
                        in_data = false;
                        b"250 queued\r\n"
                    } else {
                        match line.get(..4).map(str::to_ascii_uppercase).as_deref() {
                            Some("DATA") => {
                                in_data = true;
                                b"354 go on\r\n"
                            }
                            Some("QUIT") => b"221 bye\r\n",
                            _ => b"250 ok\r\n",
                        }
                    };
                    tokio::time::sleep(delay).await;
                    if w.write_all(reply).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    (port, task)
}

/// `serve`'s shutdown stops an aggregate pass between submissions: the submission under way
/// ends, nothing else is started, and every other report stays due for the next start (a
/// pass of 10,000 reports to a slow relay held a restart until it was over, or until the
/// service manager killed the process mid-send).
#[tokio::test]
async fn a_shutdown_stops_the_pass_between_submissions() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, mut accepted) = tokio::sync::mpsc::unbounded_channel();
    let (port, relay) = slow_relay(std::time::Duration::from_millis(100), tx).await;
    let domains = ["a.example", "b.example", "c.example", "d.example"];
    let zone: String = domains
        .iter()
        .map(|d| format!("{d} MX 10 mx.{d}\n"))
        .collect();
    let (app, store) = app_and_store(
        dir.path(),
        &format!("relay = \"127.0.0.1:{port}\"\n"),
        &zone,
    )
    .await;
    record_each(&store, &domains).await;
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let opts = PassOptions {
        immediate: true,
        stop: Some(stop),
        ..PassOptions::default()
    };
    let pass = aggregate_pass(
        &app,
        &store,
        "n1/1",
        PassClock::starting_at(T0 + DAY + 3600),
        &opts,
    );
    let shutdown = async {
        accepted.recv().await;
        stop_tx.send(true).unwrap();
    };
    let (summary, ()) = tokio::join!(pass, shutdown);
    let summary = summary.unwrap();
    relay.abort();
    assert_eq!((summary.reports, summary.sent), (1, 1), "{summary:?}");
    assert_eq!(attempts_made(&store).await, 1);
    assert_eq!(still_due(&store).await, 3);
}

/// The failure report queue likewise: once the shutdown is under way no report is claimed;
/// they stay queued, untried and due at once.
#[tokio::test]
async fn a_shutdown_hands_the_claimed_failure_reports_back() {
    let dir = tempfile::tempdir().unwrap();
    let (app, store) = app_and_store(dir.path(), &closed_relay(), "").await;
    queue_failure_reports(&store, 3).await;
    let (_stop_tx, stop) = tokio::sync::watch::channel(true);
    let sent = failure_pass(
        &app,
        &store,
        "n1/1",
        PassClock::starting_at(T0),
        Some(&stop),
    )
    .await;
    assert_eq!(sent.unwrap(), 0);
    let rows = store
        .read(vec![report_store::sql::Stmt::new(
            "SELECT state, attempts, last_error, next_attempt FROM failure_reports",
            Vec::new(),
        )])
        .await
        .unwrap();
    assert_eq!(rows[0].len(), 3);
    for r in &rows[0] {
        assert_eq!(r.text(0).unwrap(), "pending");
        assert_eq!(r.int(1).unwrap(), 0);
        assert_eq!(r.opt_text(2).unwrap(), None);
        assert!(r.int(3).unwrap() <= T0 as i64);
    }
    // and the next pass, with no shutdown, takes them again
    let claimed = store
        .claim_failure_reports("n1/1", T0, 60, 100)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 3);
}

/// `report send --dry-run` writes the mails the real send would submit: a destination's
/// `!size` (RFC 7489 mode) is checked on the signed message there too (RFC 7489 §7.2.1), so a
/// report that fits only unsigned is skipped, not written.
#[tokio::test]
async fn a_dry_run_skips_what_the_signed_size_limit_would() {
    use std::os::unix::fs::PermissionsExt;
    let keys = tempfile::tempdir().unwrap();
    let key = dkim::generate_key(dkim::KeyAlgorithm::Ed25519).unwrap();
    let path = keys.path().join("k.pem");
    std::fs::write(&path, key.private_key_pem.as_bytes()).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let run = |max_size: Option<u64>| {
        let path = path.clone();
        async move {
            let dir = tempfile::tempdir().unwrap();
            // a table after `[reports]`: the report mail is signed with this key
            let dkim_key = format!(
                "[[dkim.key]]\ndomain = \"rx.example\"\nselector = \"s1\"\npath = \"{}\"\n",
                path.display()
            );
            let (app, store) =
                app_and_store(dir.path(), &dkim_key, "a.example MX 10 mx.a.example\n").await;
            let mut o = observation("mailto:dmarc@a.example");
            o.mode = Mode::Rfc7489;
            if let Some(p) = o.published.as_mut() {
                p.discovery_method = DiscoveryMethod::Psl;
                p.rua[0].max_size = max_size;
            }
            store.record(&[o]).await.unwrap();
            let summary = dry_run_the_next_day(&app, &store, &dir.path().join("dry")).await;
            let sizes: Vec<u64> = summary
                .written
                .iter()
                .map(|p| std::fs::metadata(p).unwrap().len())
                .collect();
            (sizes, summary.skipped)
        }
    };
    let (sizes, skipped) = run(None).await;
    assert_eq!((sizes.len(), skipped), (1, 0));
    let signed = sizes[0];
    // the signature adds far more than 20 bytes: the unsigned report fits this limit
    let (sizes, skipped) = run(Some(signed - 20)).await;
    assert_eq!((sizes, skipped), (vec![], 1));
    let (sizes, skipped) = run(Some(signed + 200)).await;
    assert_eq!((sizes.len(), skipped), (1, 0));
}
