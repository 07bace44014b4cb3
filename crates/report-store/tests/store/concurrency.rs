//! Many claimers at once, from several connections (and, on PostgreSQL, several nodes
//! migrating at once): each job and each send is won by exactly one.

use std::sync::Arc;

use report_store::{Claim, NewSend, SendState, Store, StoreLocation};

use crate::{DAY, T0, key, observation};

/// Many claimers at once: each job and each send is won by exactly one.
async fn concurrent_claims(stores: Vec<Store>) {
    let first = &stores[0];
    let mut batch = Vec::new();
    for d in 0..20 {
        batch.push(observation(
            T0 + 10,
            &format!("d{d}.example"),
            "192.0.2.1",
            true,
            true,
        ));
    }
    first.record(&batch).await.unwrap();
    let now = T0 + DAY + 60;
    let mut tasks = tokio::task::JoinSet::new();
    for (i, store) in stores.iter().enumerate() {
        for round in 0..2 {
            let store = store.clone();
            let holder = format!("node{i}-{round}");
            tasks.spawn(async move {
                let mut won_jobs = Vec::new();
                let mut won_sends = Vec::new();
                for d in 0..20 {
                    let k = key(&format!("d{d}.example"), T0);
                    if let Claim::Claimed { .. } =
                        store.claim_job(&k, &holder, now, 600).await.unwrap()
                    {
                        won_jobs.push(d);
                    }
                    // every claimer tries every send, claimed job or not
                    store
                        .add_sends(
                            &k,
                            "rid",
                            &[NewSend {
                                destination: format!("r@d{d}.example"),
                                uri: format!("mailto:r@d{d}.example"),
                                state: SendState::Pending,
                                note: None,
                            }],
                            now,
                        )
                        .await
                        .unwrap();
                    if store
                        .begin_send(&k, &format!("r@d{d}.example"), &holder, now)
                        .await
                        .unwrap()
                        .is_some()
                    {
                        won_sends.push(d);
                    }
                }
                (won_jobs, won_sends)
            });
        }
    }
    let mut jobs = Vec::new();
    let mut sends = Vec::new();
    while let Some(r) = tasks.join_next().await {
        let (j, s) = r.unwrap();
        jobs.extend(j);
        sends.extend(s);
    }
    jobs.sort();
    sends.sort();
    assert_eq!(
        jobs,
        (0..20).collect::<Vec<_>>(),
        "each job claimed exactly once"
    );
    assert_eq!(
        sends,
        (0..20).collect::<Vec<_>>(),
        "each send begun exactly once"
    );
}

/// Two connections to one SQLite store in a temporary directory (kept alive by the first).
async fn two_sqlite_connections() -> (tempfile::TempDir, Vec<Store>) {
    let dir = tempfile::tempdir().unwrap();
    let loc: StoreLocation = format!("sqlite:{}", dir.path().join("r.db").display())
        .parse()
        .unwrap();
    let a = Store::open(&loc, 0).await.unwrap();
    let b = Store::open(&loc, 0).await.unwrap();
    (dir, vec![a, b])
}

#[tokio::test]
async fn sqlite_concurrent_claims_from_two_connections() {
    let (_dir, stores) = two_sqlite_connections().await;
    concurrent_claims(stores).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs AUTHMILTER_E2E=1"]
async fn postgres_concurrent_migrations_and_claims_from_four_nodes() {
    let Some(pg) = crate::postgres() else { return };
    // several nodes: four connections claim the same jobs and sends at once
    let url = pg.create_database("race").unwrap();
    let loc: StoreLocation = url.parse().unwrap();
    // migrations started by several nodes at once run once
    let opened = futures_join(&loc, 4).await;
    assert_eq!(
        opened[0].schema_version().await.unwrap(),
        report_store::schema::latest_version()
    );
    concurrent_claims(opened).await;
}
async fn futures_join(loc: &StoreLocation, n: usize) -> Vec<Store> {
    let loc = Arc::new(loc.clone());
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        let loc = Arc::clone(&loc);
        set.spawn(async move { Store::open(&loc, T0).await.unwrap() });
    }
    let mut out = Vec::new();
    while let Some(s) = set.join_next().await {
        out.push(s.unwrap());
    }
    out
}

/// Failure reports queued by several nodes at once stay within the domain's and the
/// destination's limits (docs/reports.md: "counted across nodes"): each node counted the rows
/// the others had not committed yet, so N nodes could pass a limit by N − 1.
async fn concurrent_failure_reports_keep_the_limits(stores: Vec<Store>) {
    let now = T0 + DAY + 60;
    let limits = report_store::FailureLimits {
        per_domain: (10, 3600),
        per_destination: (7, 3600),
    };
    let mut tasks = tokio::task::JoinSet::new();
    for store in &stores {
        for round in 0..4 {
            let store = store.clone();
            tasks.spawn(async move {
                let mut queued = [0, 0];
                for i in 0..8 {
                    let dest = if (round + i) % 2 == 0 {
                        "f@q.example"
                    } else {
                        "g@q.example"
                    };
                    let report = report_store::NewFailureReport {
                        policy_domain: "q.example".into(),
                        destination: dest.into(),
                        uri: format!("mailto:{dest}"),
                        kind: "dmarc".into(),
                        message: b"Subject: x\r\n\r\nbody\r\n".to_vec(),
                    };
                    if let report_store::Queued::Yes(_) = store
                        .queue_failure_report(&report, now, limits)
                        .await
                        .unwrap()
                    {
                        queued[usize::from(dest.starts_with('g'))] += 1;
                    }
                }
                queued
            });
        }
    }
    let mut queued = [0, 0];
    while let Some(n) = tasks.join_next().await {
        let n = n.unwrap();
        queued = [queued[0] + n[0], queued[1] + n[1]];
    }
    assert_eq!(
        queued[0] + queued[1],
        10,
        "the domain's limit, across every node"
    );
    assert!(
        queued[0] <= 7 && queued[1] <= 7,
        "each destination's limit: {queued:?}"
    );
}

#[tokio::test]
async fn sqlite_concurrent_failure_reports_keep_the_limits() {
    let (_dir, stores) = two_sqlite_connections().await;
    concurrent_failure_reports_keep_the_limits(stores).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs AUTHMILTER_E2E=1"]
async fn postgres_concurrent_failure_reports_keep_the_limits() {
    let Some(pg) = crate::postgres() else { return };
    let url = pg.create_database("failure_race").unwrap();
    let loc: StoreLocation = url.parse().unwrap();
    concurrent_failure_reports_keep_the_limits(futures_join(&loc, 8).await).await;
}

/// A node that holds the failure-report queue's lock and then hangs (its connection idle in
/// the transaction) does not stall the others: they wait 5 s at most, then the report is not
/// queued (an error) and the store goes on serving them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs AUTHMILTER_E2E=1"]
async fn postgres_a_hung_holder_of_the_queue_lock_stalls_no_one() {
    let Some(pg) = crate::postgres() else { return };
    let url = pg.create_database("hung_lock").unwrap();
    let loc: StoreLocation = url.parse().unwrap();
    let store = Store::open(&loc, T0).await.unwrap();
    let (holder, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    holder
        .batch_execute(&format!(
            "BEGIN; SELECT pg_advisory_xact_lock({})",
            report_store::FAILURE_QUEUE_LOCK
        ))
        .await
        .unwrap();
    let report = report_store::NewFailureReport {
        policy_domain: "q.example".into(),
        destination: "f@q.example".into(),
        uri: "mailto:f@q.example".into(),
        kind: "dmarc".into(),
        message: b"Subject: x\r\n\r\nbody\r\n".to_vec(),
    };
    let limits = report_store::FailureLimits {
        per_domain: (10, 3600),
        per_destination: (10, 3600),
    };
    let queued = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        store.queue_failure_report(&report, T0 + DAY, limits),
    )
    .await
    .expect("the wait for the lock is bounded");
    assert!(queued.is_err(), "{queued:?}");
    // the same connection serves the next write at once
    assert_eq!(
        store.schema_version().await.unwrap(),
        report_store::schema::latest_version()
    );
    holder.batch_execute("ROLLBACK").await.unwrap();
    assert!(matches!(
        store
            .queue_failure_report(&report, T0 + DAY, limits)
            .await
            .unwrap(),
        report_store::Queued::Yes(_)
    ));
}
