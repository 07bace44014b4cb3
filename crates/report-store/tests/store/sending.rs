//! The aggregate-report jobs of due periods: claims with leases, sends begun and ended
//! exactly once, retries, the status they leave and what retention removes.

use report_store::{Claim, JobEnd, NewSend, SendEnd, SendState, Store, StoreLocation};

use crate::{DAY, T0, key, record_fixture};

/// When the jobs are worked: an hour into the day after the recorded one.
const NOW: u64 = T0 + DAY + 3600;

/// The job of a.example's period: claims are held by one node at a time and taken over after
/// the lease; each destination is sent at most once, a skipped one never; a send whose
/// holder died is uncertain, yet the answer it comes back with is still recorded.
async fn claim_and_send_once(store: &Store) {
    // one holder at a time, takeover after the lease
    let now = NOW;
    let a0 = key("a.example", T0);
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
        store
            .due_periods(T0 + DAY, now + 10_000, 100)
            .await
            .unwrap(),
        vec![key("b.example", T0)]
    );
}

/// b.example's job: a definite failure goes back to pending until its time; a job retry waits.
async fn retry_after_a_failure(store: &Store) {
    let now = NOW;
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
}

async fn aggregate_sends_happen_exactly_once(loc: &StoreLocation) {
    let store = Store::open(loc, T0).await.unwrap();
    record_fixture(&store).await;
    claim_and_send_once(&store).await;
}

async fn a_retry_waits_for_its_time(loc: &StoreLocation) {
    let store = Store::open(loc, T0).await.unwrap();
    record_fixture(&store).await;
    retry_after_a_failure(&store).await;
}

/// The status after both jobs, then retention removes the finished periods.
async fn status_and_retention(loc: &StoreLocation) {
    let store = Store::open(loc, T0).await.unwrap();
    record_fixture(&store).await;
    claim_and_send_once(&store).await;
    retry_after_a_failure(&store).await;

    // status
    let status = store.status(T0).await.unwrap();
    assert_eq!(status.schema_version, 4);
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

    // retention
    let purged = store.purge(T0 + DAY).await.unwrap();
    assert_eq!(purged.observations, 4);
    assert_eq!(purged.jobs, 2);
    assert_eq!(store.recorded_messages(0).await.unwrap(), 1);
    assert_eq!(store.integrity_check().await.unwrap(), "ok");
}

on_both_backends! {
    aggregate_sends_happen_exactly_once =>
        sqlite_aggregate_sends_happen_exactly_once,
        postgres_aggregate_sends_happen_exactly_once;
    a_retry_waits_for_its_time =>
        sqlite_a_retry_waits_for_its_time,
        postgres_a_retry_waits_for_its_time;
    status_and_retention =>
        sqlite_status_and_retention,
        postgres_status_and_retention;
}
