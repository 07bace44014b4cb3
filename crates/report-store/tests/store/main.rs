//! The store on both backends: each subject runs on SQLite (always) and on a throwaway
//! PostgreSQL cluster (AUTHMILTER_E2E=1), plus concurrency checks of the claims.
//!
//! One module per subject: opening (migrations, refusals), recording and due periods, the
//! aggregate-report jobs and sends (claims, retries, status, retention), the failure-report
//! queue, received reports, and many claimers at once.

use report_store::{PeriodKey, RecordStats, Store, StoreLocation};
use reports::vocabulary::{
    AlignmentMode, DiscoveryMethod, Disposition, DkimResult, DmarcResult, Mode, Psd, SpfResult,
    SpfScope,
};
use reports::{
    DkimObservation, Observation, PublishedPolicy, ReportAddress, SpfObservation, vocabulary,
};

const DAY: u64 = 86_400;
/// 2026-11-02 00:00:00 UTC
const T0: u64 = 1_793_577_600;

/// Runs each `subject(&StoreLocation)` twice: as `$sqlite` on a SQLite file in a temporary
/// directory, and as `$postgres` on a database of a throwaway PostgreSQL cluster (ignored
/// unless AUTHMILTER_E2E=1).
macro_rules! on_both_backends {
    ($($subject:ident => $sqlite:ident, $postgres:ident;)+) => {$(
        #[tokio::test]
        async fn $sqlite() {
            let dir = tempfile::tempdir().unwrap();
            $subject(&crate::sqlite_location(&dir)).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        #[ignore = "needs AUTHMILTER_E2E=1"]
        async fn $postgres() {
            let Some(pg) = crate::postgres() else { return };
            let url = pg.create_database("store").unwrap();
            $subject(&url.parse().unwrap()).await;
        }
    )+};
}

mod concurrency;
mod failure_queue;
mod moved;
mod opening;
mod received;
mod recording;
mod sending;
mod unresponsive;

/// A SQLite store file in `dir`.
fn sqlite_location(dir: &tempfile::TempDir) -> StoreLocation {
    format!("sqlite:{}", dir.path().join("reports.db").display())
        .parse()
        .unwrap()
}

/// A throwaway PostgreSQL cluster, or `None` (with a note) when AUTHMILTER_E2E is unset.
fn postgres() -> Option<test_support::postgres::TestPostgres> {
    if !test_support::e2e_enabled() {
        eprintln!("skipped: needs AUTHMILTER_E2E=1 (a throwaway PostgreSQL cluster)");
        return None;
    }
    Some(test_support::postgres::TestPostgres::start().expect("start PostgreSQL"))
}

fn observation(time: u64, domain: &str, ip: &str, pass: bool, rua: bool) -> Observation {
    Observation {
        time,
        source_ip: ip.parse().unwrap(),
        header_from: domain.into(),
        envelope_from: domain.into(),
        envelope_to: vec!["rx.example".into()],
        policy_domain: Some(domain.into()),
        result: if pass {
            DmarcResult::Pass
        } else {
            DmarcResult::Fail
        },
        disposition: Disposition::None,
        requested_policy: Some(Disposition::Reject),
        overrides: Vec::new(),
        spf: Some(SpfObservation {
            domain: domain.into(),
            scope: SpfScope::MailFrom,
            result: SpfResult::Pass,
            aligned: pass,
        }),
        dkim: vec![DkimObservation {
            domain: domain.into(),
            selector: "s1".into(),
            result: if pass {
                DkimResult::Pass
            } else {
                DkimResult::Fail
            },
            aligned: true,
            human_result: None,
            failure: None,
        }],
        published: Some(PublishedPolicy {
            p: Disposition::Reject,
            sp: None,
            np: None,
            adkim: AlignmentMode::Relaxed,
            aspf: AlignmentMode::Relaxed,
            testing: false,
            pct: 100,
            psd: Psd::Unknown,
            fo: vec![vocabulary::FailureOption::All],
            rua: if rua {
                vec![ReportAddress {
                    uri: format!("mailto:dmarc@{domain}"),
                    max_size: None,
                }]
            } else {
                Vec::new()
            },
            ruf: Vec::new(),
            discovery_method: DiscoveryMethod::TreeWalk,
            errors: Vec::new(),
        }),
        mode: Mode::Rfc9989,
    }
}

fn key(domain: &str, begin: u64) -> PeriodKey {
    PeriodKey {
        policy_domain: domain.into(),
        period_begin: begin,
    }
}

/// Records the observations most subjects start from, in two batches; returns what the
/// first batch (16 observations) recorded. Afterwards: a.example has 14 messages in two rows
/// on day T0 and one message the day after, b.example one on day T0, and norua.example (no
/// rua: kept, never due) one on day T0.
async fn record_fixture(store: &Store) -> RecordStats {
    let mut batch = Vec::new();
    for i in 0..10 {
        batch.push(observation(
            T0 + 100 + i,
            "a.example",
            "192.0.2.1",
            true,
            true,
        ));
    }
    for i in 0..3 {
        batch.push(observation(
            T0 + 200 + i,
            "a.example",
            "192.0.2.9",
            false,
            true,
        ));
    }
    batch.push(observation(
        T0 + DAY + 5,
        "a.example",
        "192.0.2.1",
        true,
        true,
    ));
    batch.push(observation(
        T0 + 50,
        "b.example",
        "198.51.100.1",
        true,
        true,
    ));
    // no rua: kept (record_all) but never due
    batch.push(observation(
        T0 + 60,
        "norua.example",
        "198.51.100.2",
        true,
        false,
    ));
    let stats = store.record(&batch).await.unwrap();
    // a second batch adds to the same rows
    store
        .record(&[observation(T0 + 300, "a.example", "192.0.2.1", true, true)])
        .await
        .unwrap();
    stats
}
