//! `serve`'s shutdown in the middle of an aggregate pass: SIGTERM stops the pass between
//! submissions, and what it did not send stays due (docs/reports.md, "Sending aggregate
//! reports").

use std::time::Duration;

use reports::vocabulary::{
    AlignmentMode, DiscoveryMethod, Disposition, DmarcResult, FailureOption, Mode, Psd,
};
use reports::{Observation, PublishedPolicy, ReportAddress};

use super::{DAY, Setup};
use crate::postfix::mta::sink::Sink;
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

/// A pass of six reports to a relay that takes each and never answers (each submission waits
/// `smtp_timeout`, 3 s) held a SIGTERM until every report had had its wait: 18 s and more,
/// longer than a service manager's stop timeout for a real pass. Now the submission under
/// way ends and `serve` exits; the five other reports stay due for the next start.
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_stops_an_aggregate_pass_between_submissions() {
    let setup = Setup::new();
    let mut zone = setup.zone.clone();
    let domains: Vec<String> = (1..=DOMAINS).map(|i| format!("p{i}.example")).collect();
    for d in &domains {
        zone.push_str(&format!("{d} MX 10 mx.a.example\n"));
    }
    std::fs::write(setup.zone_path(), &zone).expect("zone");
    // observations two days old: their reports are due as soon as `serve` starts
    let now = dkim::unix_now();
    let location: report_store::StoreLocation = setup.sqlite().parse().expect("location");
    {
        let store = report_store::Store::open(&location, now)
            .await
            .expect("store");
        let batch: Vec<Observation> = domains
            .iter()
            .map(|d| observation(d, now - 2 * DAY))
            .collect();
        store.record(&batch).await.expect("record");
    }
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
    let store = report_store::Store::open(&location, now)
        .await
        .expect("store");
    let due = store.due_periods(now, now, 100).await.expect("due periods");
    assert_eq!(due.len(), DOMAINS - 1, "{due:?}");
}
