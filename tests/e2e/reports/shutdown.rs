//! A shutdown in the middle of an aggregate pass, `serve`'s (SIGTERM) and `report send`'s
//! (Ctrl-C): the pass stops between submissions, and what it did not send stays due
//! (docs/reports.md, "Sending aggregate reports").

use std::process::{Command, Stdio};
use std::time::Duration;

use reports::vocabulary::{
    AlignmentMode, DiscoveryMethod, Disposition, DmarcResult, FailureOption, Mode, Psd,
};
use reports::{Observation, PublishedPolicy, ReportAddress};

use super::{DAY, Setup, for_rcpt};
use crate::postfix::mta::sink::Sink;
use crate::support::binary;
use test_support::free_port;

/// Policy domains with a report due when `serve` starts.
const DOMAINS: usize = 6;

fn observation(domain: &str, time: u64) -> Observation {
    Observation {
        time,
        source_ip: "192.0.2.1".parse().expect("ip"),
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
                uri: format!("mailto:dmarc@{domain}"),
                max_size: None,
            }],
            ruf: Vec::new(),
            discovery_method: DiscoveryMethod::TreeWalk,
            errors: Vec::new(),
        }),
        mode: Mode::Rfc9989,
    }
}

/// Setup whose store holds observations of [`DOMAINS`] policy domains from two days ago (their
/// reports are due at once), each with its own `rua` address and an MX for it in the zone.
async fn reports_due(setup: &Setup) -> (Vec<String>, u64) {
    let mut zone = setup.zone.clone();
    let domains: Vec<String> = (1..=DOMAINS).map(|i| format!("p{i}.example")).collect();
    for d in &domains {
        zone.push_str(&format!("{d} MX 10 mx.a.example\n"));
    }
    std::fs::write(setup.zone_path(), &zone).expect("zone");
    let now = dkim::unix_now();
    let store = store(setup, now).await;
    let batch: Vec<Observation> = domains
        .iter()
        .map(|d| observation(d, now - 2 * DAY))
        .collect();
    store.record(&batch).await.expect("record");
    (domains, now)
}

async fn store(setup: &Setup, now: u64) -> report_store::Store {
    let location: report_store::StoreLocation = setup.sqlite().parse().expect("location");
    report_store::Store::open(&location, now)
        .await
        .expect("store")
}

/// A pass of six reports to a relay that takes each and never answers (each submission waits
/// `smtp_timeout`, 3 s) held a SIGTERM until every report had had its wait: 18 s and more,
/// longer than a service manager's stop timeout for a real pass. Now the submission under
/// way ends and `serve` exits; the five other reports stay due for the next start.
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_stops_an_aggregate_pass_between_submissions() {
    let setup = Setup::new();
    let (_, now) = reports_due(&setup).await;
    let sink = Sink::start();
    sink.hold_replies(true);
    let port = free_port();
    let extra = "send_hour = 0\nsmtp_timeout = \"3s\"\n";
    let toml = setup.config(port, &setup.sqlite(), sink.addr().port(), extra);
    let mut serve = setup.serve(&toml, port);
    assert!(
        sink.wait_for(Duration::from_secs(20), |_| true).is_some(),
        "the pass at start reached the relay: {}",
        serve.log_tail(20)
    );
    serve.terminate();
    let code = serve.wait_exit(Duration::from_secs(12));
    sink.hold_replies(false);
    assert_eq!(
        code,
        Some(0),
        "serve did not stop within 12 s of SIGTERM: {}",
        serve.log_tail(20)
    );
    assert_eq!(sink.messages().len(), 1, "{}", sink.transcript());
    let due = store(&setup, now)
        .await
        .due_periods(now, now, 100)
        .await
        .expect("due periods");
    assert_eq!(due.len(), DOMAINS - 1, "{due:?}");
}

/// Ctrl-C during `report send` killed it wherever it was: a report whose DATA the relay had
/// taken was left "sending", then uncertain, and never sent again. Now the submission under
/// way is answered and recorded, the command exits 130, and the next run sends the rest:
/// every domain's report reaches its address exactly once.
#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_stops_report_send_after_the_submission_under_way() {
    let setup = Setup::new();
    let (domains, _) = reports_due(&setup).await;
    let sink = Sink::start();
    sink.hold_replies(true);
    let cfg = setup.dir.path().join("milter.toml");
    let toml = setup.config(free_port(), &setup.sqlite(), sink.addr().port(), "");
    std::fs::write(&cfg, toml).expect("config");
    let zone = setup.zone_path();
    let send = || {
        let mut c = Command::new(binary());
        c.args(["report", "send", "-c", cfg.to_str().expect("path")])
            .args(["--zone", zone.to_str().expect("path")]);
        c
    };
    let mut child = send()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("report send");
    assert!(
        sink.wait_for(Duration::from_secs(20), |_| true).is_some(),
        "the first report reached the relay"
    );
    test_support::process::signal(&child.id().to_string(), "INT");
    // the relay answers the report under way only after the interrupt
    std::thread::sleep(Duration::from_millis(300));
    sink.hold_replies(false);
    let exited =
        test_support::process::poll(Duration::from_secs(15), || child.try_wait().ok().flatten());
    if exited.is_none() {
        test_support::process::stop_child(&mut child, Duration::from_secs(1));
    }
    let out = child.wait_with_output().expect("output");
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{said}");
    assert!(said.contains("1 report(s): 1 sent"), "{said}");
    assert_eq!(sink.messages().len(), 1, "{}", sink.transcript());
    // the next run sends the others; none twice
    let out = send().output().expect("report send");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("5 sent"), "{said}");
    let got = sink.messages();
    assert_eq!(got.len(), DOMAINS, "{}", sink.transcript());
    for d in &domains {
        assert_eq!(for_rcpt(&got, &format!("dmarc@{d}")).len(), 1, "{d}");
    }
}

/// A store that cannot take the records held at the stop (here another process holds it
/// locked; a hung PostgreSQL or a frozen file system alike) threw them away with `lost=0`
/// after waiting out its busy timeout twice. Now the last write gets 5 s, the records it does
/// not take are logged and counted lost, and the stop is not held up.
#[tokio::test(flavor = "multi_thread")]
async fn records_a_locked_store_does_not_take_at_the_stop_are_counted_lost() {
    let setup = Setup::new();
    let port = free_port();
    let toml = setup.config(port, &setup.sqlite(), 9, "");
    let mut serve = setup.serve(&toml, port);
    assert_eq!(super::send(port, "a.example", 1).await, 1);
    setup.wait_recorded(&serve.config_path(), 1);
    let lock = rusqlite::Connection::open(setup.dir.path().join("reports.db")).expect("open");
    lock.execute_batch("BEGIN EXCLUSIVE").expect("lock");
    assert_eq!(super::send(port, "a.example", 3).await, 3);
    // the recorder's write is waiting for the lock now
    std::thread::sleep(Duration::from_millis(800));
    serve.terminate();
    let code = serve.wait_exit(Duration::from_secs(30));
    drop(lock);
    assert_eq!(code, Some(0), "{}", serve.log_tail(20));
    let log = serve.log_text();
    assert!(
        log.contains("records not confirmed written at the stop"),
        "{log}"
    );
    assert!(log.contains("lost=3"), "{log}");
}

/// A relay that takes the connection and never answers held a SIGTERM for the whole
/// `smtp_timeout` of the submission under way (60 s by default, past a service manager's
/// stop timeout): the background work now gets 10 s after the connections are done, then is
/// stopped with a warning.
#[tokio::test(flavor = "multi_thread")]
async fn a_relay_that_never_answers_cannot_hold_the_stop() {
    let setup = Setup::new();
    let _ = reports_due(&setup).await;
    let sink = Sink::start();
    sink.hold_replies(true);
    let port = free_port();
    let extra = "send_hour = 0\nsmtp_timeout = \"60s\"\n";
    let toml = setup.config(port, &setup.sqlite(), sink.addr().port(), extra);
    let mut serve = setup.serve(&toml, port);
    assert!(
        sink.wait_for(Duration::from_secs(20), |_| true).is_some(),
        "the pass at start reached the relay: {}",
        serve.log_tail(20)
    );
    serve.terminate();
    let code = serve.wait_exit(Duration::from_secs(30));
    sink.hold_replies(false);
    assert_eq!(code, Some(0), "{}", serve.log_tail(20));
    assert!(
        serve.log_text().contains("shutdown: background work"),
        "{}",
        serve.log_tail(20)
    );
}
