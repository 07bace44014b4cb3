//! Claims and `!size` in a pass: a lease counts from the moment of its claim (the pass's
//! clock), and a size limit is checked against the message as submitted, per address.

use report_store::{PeriodKey, SendState};
use reports::ReportAddress;

use super::tests::{
    DAY, T0, app_and_store, attempts_made, closed_relay, observation, pass_the_next_day,
    queue_failure_reports, record_each,
};
use super::*;
use crate::reports::schedule::failure_pass;

/// A claim's lease counts from the moment of the claim, not from the start of the pass: a
/// pass that spent minutes on a slow relay claimed later jobs with leases already expired,
/// and another node (or `report send`) then took them over and called a send whose relay had
/// answered 451 `uncertain`, never retried. Here the pass started 100 s ago by its clock, and
/// another sender's lease ran out 50 s ago: the pass takes the job over.
#[tokio::test]
async fn a_claim_late_in_a_pass_gets_its_whole_lease() {
    let dir = tempfile::tempdir().unwrap();
    let zone = "a.example MX 10 mx.a.example\n";
    let (app, store) = app_and_store(dir.path(), &closed_relay(), zone).await;
    record_each(&store, &["a.example"]).await;
    let start = T0 + DAY + 3600;
    let lease = app.config.reports.claim_timeout.get().as_secs();
    let key = PeriodKey {
        policy_domain: "a.example".into(),
        period_begin: T0,
    };
    store
        .claim_job(&key, "n2/2", start + 50 - lease, lease)
        .await
        .unwrap();
    let opts = PassOptions {
        immediate: true,
        ..PassOptions::default()
    };
    let clock = PassClock::started_ago(start, std::time::Duration::from_secs(100));
    let summary = aggregate_pass(&app, &store, "n1/1", clock, &opts)
        .await
        .unwrap();
    assert_eq!((summary.reports, summary.busy), (1, 0), "{summary:?}");
    assert_eq!(attempts_made(&store).await, 1);
}

/// The failure report queue likewise: its claims are made at the clock's time, one report at
/// a time (a hundred claimed under one lease outlived it behind a slow relay), so the claim
/// 100 s into a pass sees that another sender's claim expired 50 s ago.
#[tokio::test]
async fn failure_report_claims_are_made_at_the_time_of_the_claim() {
    let dir = tempfile::tempdir().unwrap();
    let (app, store) = app_and_store(dir.path(), &closed_relay(), "").await;
    queue_failure_reports(&store, 1).await;
    let lease = app.config.reports.claim_timeout.get().as_secs();
    let taken = store
        .claim_failure_reports("n2/2", T0 + 50 - lease, lease, 1)
        .await
        .unwrap();
    assert_eq!(taken.len(), 1);
    let clock = PassClock::started_ago(T0, std::time::Duration::from_secs(100));
    failure_pass(&app, &store, "n1/1", clock, None)
        .await
        .unwrap();
    let rows = store
        .read(vec![report_store::sql::Stmt::new(
            "SELECT state FROM failure_reports",
            Vec::new(),
        )])
        .await
        .unwrap();
    assert_eq!(rows[0][0].text(0).unwrap(), "uncertain");
}

/// A key of `rx.example` that signs reports from `dmarc@rx.example` (the `[[dkim.key]]` table).
fn signing_key(dir: &std::path::Path) -> String {
    use std::os::unix::fs::PermissionsExt;
    let key = dkim::generate_key(dkim::KeyAlgorithm::Ed25519).unwrap();
    let path = dir.join("k.pem");
    std::fs::write(&path, key.private_key_pem.as_bytes()).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    format!(
        "[[dkim.key]]\ndomain = \"rx.example\"\nselector = \"s1\"\npath = \"{}\"\n",
        path.display()
    )
}

/// `!size` is about the message as submitted (RFC 7489 §7.2.1, "the whole message" in the
/// docs): the DKIM signature added after the check took a report past the limit. Here the
/// limit lies between the unsigned and the signed size: the destination is skipped.
#[tokio::test]
async fn the_size_limit_counts_the_signature() {
    let dir = tempfile::tempdir().unwrap();
    let extra = format!("{}{}", closed_relay(), signing_key(dir.path()));
    let (app, store) = app_and_store(dir.path(), &extra, "a.example MX 10 mx.a.example\n").await;
    let mut o = observation("mailto:r@a.example");
    // `!size` is RFC 7489's; RFC 9989 §4.8 has reporters ignore it
    o.mode = reports::vocabulary::Mode::Rfc7489;
    store.record(std::slice::from_ref(&o)).await.unwrap();
    // the signed size, from a dry run
    let out = dir.path().join("dry");
    std::fs::create_dir_all(&out).unwrap();
    let opts = PassOptions {
        immediate: true,
        dry_run: Some(out.clone()),
        ..PassOptions::default()
    };
    let clock = PassClock::starting_at(T0 + DAY + 3600);
    let summary = aggregate_pass(&app, &store, "n1/1", clock, &opts)
        .await
        .unwrap();
    let signed = std::fs::read(&summary.written[0]).unwrap();
    assert!(signed.starts_with(b"DKIM-Signature:"));
    // a limit the unsigned message fits (the signature is over 40 bytes) but the signed not
    let limit = signed.len() as u64 - 40;
    o.published.as_mut().unwrap().rua[0].max_size = Some(limit);
    o.time += 1;
    store.record(std::slice::from_ref(&o)).await.unwrap();
    pass_the_next_day(&app, &store).await;
    let status = store.status(T0).await.unwrap();
    let send = &status.periods[0].sends[0];
    assert_eq!(
        (send.state, send.attempts),
        (SendState::Skipped, 0),
        "{send:?}"
    );
    assert!(
        send.last_error
            .as_deref()
            .unwrap_or_default()
            .contains("!size")
    );
}

/// `rua=mailto:r@x!1k,mailto:r@x`: the address is reached by a URI without a limit, so it
/// gets the report (the limited URI alone must not take it, RFC 7489 §7.2.1); one shared send
/// row made the limited URI's skip settle it, and nothing was sent.
#[tokio::test]
async fn an_address_listed_with_and_without_a_limit_gets_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let (app, store) = app_and_store(
        dir.path(),
        &closed_relay(),
        "a.example MX 10 mx.a.example\n",
    )
    .await;
    let mut o = observation("mailto:r@a.example");
    let p = o.published.as_mut().unwrap();
    p.rua[0].max_size = Some(1024);
    p.rua.push(ReportAddress {
        uri: "mailto:R@a.example".into(),
        max_size: None,
    });
    store.record(&[o]).await.unwrap();
    pass_the_next_day(&app, &store).await;
    let status = store.status(T0).await.unwrap();
    let sends = &status.periods[0].sends;
    assert_eq!(sends.len(), 1, "{sends:?}");
    assert_eq!(
        (sends[0].state, sends[0].attempts),
        (SendState::Pending, 1),
        "{sends:?}"
    );
}
