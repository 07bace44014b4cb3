//! The store on both backends: the same suite runs on SQLite (always) and on a throwaway
//! PostgreSQL cluster (AUTHMILTER_E2E=1), plus concurrency checks of the claims.

use std::sync::Arc;

use report_store::{
    Claim, FailureLimits, JobEnd, NewFailureReport, NewSend, PeriodKey, Queued, SendEnd, SendState,
    Store, StoreLocation,
};
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

/// Everything the store does, on whichever backend.
async fn suite(loc: StoreLocation) {
    let store = Store::open(&loc, T0).await.unwrap();
    assert_eq!(store.schema_version().await.unwrap(), 2);
    // opening again runs no migration twice
    let again = Store::open(&loc, T0).await.unwrap();
    assert_eq!(again.schema_version().await.unwrap(), 2);

    // recording: identical observations share a row with a count; days are separate
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
    assert_eq!((stats.observations, stats.rows), (16, 5));
    // a second batch adds to the same rows
    store
        .record(&[observation(T0 + 300, "a.example", "192.0.2.1", true, true)])
        .await
        .unwrap();
    assert_eq!(store.recorded_messages(T0).await.unwrap(), 17);

    let a0 = key("a.example", T0);
    let rows = store.period_observations(&a0).await.unwrap();
    let counts: Vec<u64> = rows.iter().map(|(_, n)| *n).collect();
    assert_eq!(counts.iter().sum::<u64>(), 14, "{counts:?}");
    assert_eq!(rows.len(), 2);
    // the time read back is the last time seen; the rest round-trips exactly
    let (pass_row, n) = rows
        .iter()
        .find(|(o, _)| o.result == DmarcResult::Pass)
        .unwrap();
    assert_eq!((*n, pass_row.time), (11, T0 + 300));
    let mut expected = observation(T0 + 300, "a.example", "192.0.2.1", true, true);
    expected.time = pass_row.time;
    assert_eq!(pass_row, &expected);
    // the report built from the stored rows counts every message
    let refs: Vec<(&Observation, u64)> = rows.iter().map(|(o, n)| (o, *n)).collect();
    let fb = reports::build_feedback_counted(
        "a.example",
        a0.range(),
        &refs,
        &reports::ReporterInfo {
            org_name: "rx.example".into(),
            email: "dmarc@rx.example".into(),
            extra_contact_info: None,
            submitter: "rx.example".into(),
            generator: None,
            include_envelope_to: false,
        },
    )
    .unwrap();
    assert_eq!(fb.message_count(), 14);

    // due: only finished periods with rua, oldest first
    assert!(
        store
            .due_periods(T0 + DAY - 1, 100)
            .await
            .unwrap()
            .is_empty()
    );
    let due = store.due_periods(T0 + DAY, 100).await.unwrap();
    assert_eq!(due, vec![key("a.example", T0), key("b.example", T0)]);
    assert_eq!(store.due_periods(T0 + 2 * DAY, 100).await.unwrap().len(), 3);
    assert_eq!(store.due_periods(T0 + 2 * DAY, 1).await.unwrap().len(), 1);

    // claims: one holder at a time, takeover after the lease
    let now = T0 + DAY + 3600;
    assert_eq!(
        store.claim_job(&a0, "n1", now, 600).await.unwrap(),
        Claim::Claimed { attempts: 0 }
    );
    assert_eq!(
        store.claim_job(&a0, "n2", now + 1, 600).await.unwrap(),
        Claim::Busy {
            holder: "n1".into()
        }
    );
    // the holder may claim again (renew)
    assert!(matches!(
        store.claim_job(&a0, "n1", now + 2, 600).await.unwrap(),
        Claim::Claimed { .. }
    ));
    let sends = [
        NewSend {
            destination: "dmarc@a.example".into(),
            uri: "mailto:dmarc@a.example".into(),
            state: SendState::Pending,
            note: None,
        },
        NewSend {
            destination: "r@other.example".into(),
            uri: "mailto:r@other.example".into(),
            state: SendState::Pending,
            note: None,
        },
        NewSend {
            destination: "x@evil.example".into(),
            uri: "mailto:x@evil.example".into(),
            state: SendState::Skipped,
            note: Some("not authorized".into()),
        },
    ];
    store.add_sends(&a0, "rid", &sends, now).await.unwrap();
    // adding again changes nothing
    store.add_sends(&a0, "rid", &sends, now).await.unwrap();
    assert_eq!(store.sends(&a0).await.unwrap().len(), 3);
    // a skipped destination can never be begun
    assert!(
        store
            .begin_send(&a0, "x@evil.example", "n1", now)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .begin_send(&a0, "dmarc@a.example", "n1", now)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .begin_send(&a0, "dmarc@a.example", "n2", now)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store.sends_to_since("dmarc@a.example", now).await.unwrap(),
        1
    );
    assert!(
        store
            .end_send(
                &a0,
                "dmarc@a.example",
                "n1",
                now + 1,
                SendEnd::Sent {
                    message_id: "<m1@rx.example>".into(),
                    size: 1234
                }
            )
            .await
            .unwrap()
    );
    // another node cannot end someone else's send
    assert!(
        !store
            .end_send(
                &a0,
                "r@other.example",
                "n2",
                now + 1,
                SendEnd::Failed { error: "x".into() }
            )
            .await
            .unwrap()
    );
    // r@other: begun, then n1 "dies" while submitting
    assert!(
        store
            .begin_send(&a0, "r@other.example", "n1", now + 2)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        store.claim_job(&a0, "n2", now + 100, 600).await.unwrap(),
        Claim::Busy {
            holder: "n1".into()
        }
    );
    assert_eq!(
        store
            .claim_job(&a0, "n2", now + 2 + 700, 600)
            .await
            .unwrap(),
        Claim::Claimed { attempts: 0 }
    );
    let rows = store.sends(&a0).await.unwrap();
    let state = |d: &str| rows.iter().find(|r| r.destination == d).unwrap().state;
    assert_eq!(state("dmarc@a.example"), SendState::Sent);
    assert_eq!(state("r@other.example"), SendState::Uncertain);
    assert_eq!(state("x@evil.example"), SendState::Skipped);
    assert!(
        store
            .begin_send(&a0, "r@other.example", "n2", now + 800)
            .await
            .unwrap()
            .is_none()
    );
    let sent = rows
        .iter()
        .find(|r| r.destination == "dmarc@a.example")
        .unwrap();
    assert_eq!(sent.message_id.as_deref(), Some("<m1@rx.example>"));
    assert_eq!((sent.size, sent.sent_at), (Some(1234), Some(now + 1)));
    // n1 comes back with the answer: the 250 it got is recorded after all
    assert!(
        store
            .end_send(
                &a0,
                "r@other.example",
                "n1",
                now + 900,
                SendEnd::Sent {
                    message_id: "<m2@rx.example>".into(),
                    size: 1
                }
            )
            .await
            .unwrap()
    );
    assert!(
        store
            .finish_job(
                &a0,
                "n2",
                now + 900,
                JobEnd::Done {
                    report_id: Some("rid".into()),
                    messages: 14,
                    error: None
                }
            )
            .await
            .unwrap()
    );
    assert_eq!(
        store.claim_job(&a0, "n3", now + 10_000, 600).await.unwrap(),
        Claim::Finished
    );
    assert_eq!(
        store.due_periods(T0 + DAY, 100).await.unwrap(),
        vec![key("b.example", T0)]
    );

    // retry: a definite failure goes back to pending until its time; a job retry waits
    let b0 = key("b.example", T0);
    assert!(matches!(
        store.claim_job(&b0, "n1", now, 600).await.unwrap(),
        Claim::Claimed { .. }
    ));
    store
        .add_sends(
            &b0,
            "rid-b",
            &[NewSend {
                destination: "dmarc@b.example".into(),
                uri: "mailto:dmarc@b.example".into(),
                state: SendState::Pending,
                note: None,
            }],
            now,
        )
        .await
        .unwrap();
    assert!(
        store
            .begin_send(&b0, "dmarc@b.example", "n1", now)
            .await
            .unwrap()
            .is_some()
    );
    store
        .end_send(
            &b0,
            "dmarc@b.example",
            "n1",
            now,
            SendEnd::Retry {
                error: "421 try later".into(),
                next_attempt: now + 300,
            },
        )
        .await
        .unwrap();
    assert!(
        store
            .begin_send(&b0, "dmarc@b.example", "n1", now + 299)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .finish_job(
                &b0,
                "n1",
                now,
                JobEnd::Retry {
                    error: "pending sends".into(),
                    not_before: now + 300
                }
            )
            .await
            .unwrap()
    );
    assert_eq!(
        store.claim_job(&b0, "n2", now + 10, 600).await.unwrap(),
        Claim::Busy {
            holder: String::new()
        }
    );
    assert_eq!(
        store.claim_job(&b0, "n2", now + 300, 600).await.unwrap(),
        Claim::Claimed { attempts: 1 }
    );
    assert!(
        store
            .begin_send(&b0, "dmarc@b.example", "n2", now + 300)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .settle_pending(&b0, "dmarc@b.example", SendState::Skipped, "x", 0, now)
            .await
            .map(|changed| !changed)
            .unwrap(),
        "only pending rows can be settled"
    );

    // status
    let status = store.status(T0).await.unwrap();
    assert_eq!(status.schema_version, 2);
    assert_eq!(status.periods.len(), 3);
    assert_eq!(status.unreported_messages, 1);
    let pa = status
        .periods
        .iter()
        .find(|p| p.policy_domain == "a.example" && p.period_begin == T0)
        .unwrap();
    assert_eq!((pa.messages, pa.rows), (14, 2));
    assert_eq!(pa.job.as_ref().unwrap().state, "done");
    assert_eq!(pa.sends.len(), 3);

    // failure reports: queued within limits, claimed once, message dropped when settled
    let limits = FailureLimits {
        per_domain: (3, 3600),
        per_destination: (2, 3600),
    };
    let fr = |dest: &str| NewFailureReport {
        policy_domain: "a.example".into(),
        destination: dest.into(),
        uri: format!("mailto:{dest}"),
        kind: "dmarc".into(),
        message: b"Subject: x\r\n\r\nbody\r\n".to_vec(),
    };
    assert!(matches!(
        store
            .queue_failure_report(&fr("f@a.example"), now, limits)
            .await
            .unwrap(),
        Queued::Yes(_)
    ));
    assert!(matches!(
        store
            .queue_failure_report(&fr("f@a.example"), now, limits)
            .await
            .unwrap(),
        Queued::Yes(_)
    ));
    assert_eq!(
        store
            .queue_failure_report(&fr("f@a.example"), now, limits)
            .await
            .unwrap(),
        Queued::RateLimited,
        "per destination"
    );
    assert!(matches!(
        store
            .queue_failure_report(&fr("g@a.example"), now, limits)
            .await
            .unwrap(),
        Queued::Yes(_)
    ));
    assert_eq!(
        store
            .queue_failure_report(&fr("h@a.example"), now, limits)
            .await
            .unwrap(),
        Queued::RateLimited,
        "per domain"
    );
    // after the window it may queue again
    assert!(matches!(
        store
            .queue_failure_report(&fr("h@a.example"), now + 3601, limits)
            .await
            .unwrap(),
        Queued::Yes(_)
    ));
    let claimed = store
        .claim_failure_reports("n1", now, 600, 2)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2);
    assert_eq!(claimed[0].message, b"Subject: x\r\n\r\nbody\r\n");
    let more = store
        .claim_failure_reports("n2", now, 600, 10)
        .await
        .unwrap();
    assert_eq!(more.len(), 2, "the other two, never the claimed ones");
    assert!(
        store
            .end_failure_report(
                claimed[0].id,
                "n1",
                now,
                SendEnd::Sent {
                    message_id: "<f1@rx>".into(),
                    size: 1
                }
            )
            .await
            .unwrap()
    );
    // claimed[1] is left "sending": its holder died; after the lease it is uncertain
    assert!(
        store
            .claim_failure_reports("n3", now + 601, 600, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let status = store.status(T0).await.unwrap();
    assert_eq!(status.failure_reports.get("sent"), Some(&1));
    assert_eq!(status.failure_reports.get("uncertain"), Some(&3));

    // received reports: unique by (org_name, report_id), records stored with them
    // a real report mail from the reports crate's vendored samples
    let sample = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../reports/tests/data/samples/mail-auth/100.eml"
    ))
    .unwrap();
    let report = reports::extract_reports(&sample, &reports::Limits::default())
        .into_iter()
        .find_map(|r| r.report.ok())
        .unwrap();
    assert!(!report.records.is_empty());
    drop(fb);
    let records = report.records.len() as u64;
    let id = store
        .insert_received_report(&report, Some("test"), now)
        .await
        .unwrap();
    assert!(id.is_some());
    assert_eq!(
        store
            .insert_received_report(&report, None, now)
            .await
            .unwrap(),
        None,
        "a report imported twice is stored once"
    );
    assert_eq!(store.received_counts().await.unwrap(), (1, records));

    // retention
    let purged = store.purge(T0 + DAY).await.unwrap();
    assert_eq!(purged.observations, 4);
    assert_eq!(purged.jobs, 2);
    assert_eq!(store.recorded_messages(0).await.unwrap(), 1);
    assert_eq!(store.integrity_check().await.unwrap(), "ok");
}

#[tokio::test]
async fn sqlite_store() {
    let dir = tempfile::tempdir().unwrap();
    let loc: StoreLocation = format!("sqlite:{}", dir.path().join("reports.db").display())
        .parse()
        .unwrap();
    suite(loc).await;
}

#[tokio::test]
async fn sqlite_refuses_a_missing_directory_and_a_newer_schema() {
    let dir = tempfile::tempdir().unwrap();
    let missing: StoreLocation = format!("sqlite:{}/no/such/dir/r.db", dir.path().display())
        .parse()
        .unwrap();
    let err = Store::open(&missing, 0).await.unwrap_err().to_string();
    assert!(err.contains("does not exist"), "{err}");
    let loc: StoreLocation = format!("sqlite:{}", dir.path().join("r.db").display())
        .parse()
        .unwrap();
    let store = Store::open(&loc, 0).await.unwrap();
    store
        .transaction(vec![report_store::sql::Stmt::new(
            "INSERT INTO schema_version (version, applied_at, description) VALUES (99, 0, 'future')",
            vec![],
        )])
        .await
        .unwrap();
    let err = Store::open(&loc, 0).await.unwrap_err().to_string();
    assert!(err.contains("schema version 99"), "{err}");
}

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

#[tokio::test]
async fn sqlite_concurrent_claims_from_two_connections() {
    let dir = tempfile::tempdir().unwrap();
    let loc: StoreLocation = format!("sqlite:{}", dir.path().join("r.db").display())
        .parse()
        .unwrap();
    let a = Store::open(&loc, 0).await.unwrap();
    let b = Store::open(&loc, 0).await.unwrap();
    concurrent_claims(vec![a, b]).await;
}

fn postgres() -> Option<test_support::postgres::TestPostgres> {
    if !test_support::e2e_enabled() {
        eprintln!("skipped: needs AUTHMILTER_E2E=1 (a throwaway PostgreSQL cluster)");
        return None;
    }
    Some(test_support::postgres::TestPostgres::start().expect("start PostgreSQL"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs AUTHMILTER_E2E=1"]
async fn postgres_store() {
    let Some(pg) = postgres() else { return };
    let url = pg.create_database("suite").unwrap();
    // this cluster has no TLS: a connection that requires it fails, never falls back
    // (tests/tls.rs has the TLS cluster)
    let tls: StoreLocation = format!("{url}?sslmode=require").parse().unwrap();
    assert!(Store::open(&tls, T0).await.is_err());
    suite(url.parse().unwrap()).await;

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
