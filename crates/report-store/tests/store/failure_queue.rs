//! The failure-report queue: queued within rate limits, claimed once, a claim whose holder
//! died becomes uncertain.

use report_store::{FailureLimits, NewFailureReport, Queued, SendEnd, Store, StoreLocation};

use crate::{DAY, T0};

/// Queued within limits, claimed once, message dropped when settled.
async fn failure_reports_are_limited_and_claimed_once(loc: &StoreLocation) {
    let store = Store::open(loc, T0).await.unwrap();
    let now = T0 + DAY + 3600;
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
    // the same check before a report is built
    for (domain, dest, want) in [
        ("a.example", "h@a.example", false),
        ("b.example", "f@a.example", false),
        ("b.example", "h@a.example", true),
    ] {
        assert_eq!(
            store
                .failure_report_allowed(domain, dest, now, limits)
                .await
                .unwrap(),
            want,
            "{domain} {dest}"
        );
    }
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
}

on_both_backends! {
    failure_reports_are_limited_and_claimed_once =>
        sqlite_failure_reports_are_limited_and_claimed_once,
        postgres_failure_reports_are_limited_and_claimed_once;
}

/// A sender whose lease ran out while it was still submitting (a slow relay, 100 claimed
/// reports × smtp_timeout) gets its row marked `uncertain` and its message dropped by the next
/// claimer. Its late answer "not sent, retry" must not put the message-less row back to
/// `pending`: the next claim would submit an empty message.
async fn a_late_retry_never_requeues_a_dropped_message(loc: &StoreLocation) {
    let store = Store::open(loc, T0).await.unwrap();
    let now = T0 + DAY;
    let limits = FailureLimits {
        per_domain: (10, 3600),
        per_destination: (10, 3600),
    };
    let report = NewFailureReport {
        policy_domain: "a.example".into(),
        destination: "f@a.example".into(),
        uri: "mailto:f@a.example".into(),
        kind: "dmarc".into(),
        message: b"Subject: x\r\n\r\nbody\r\n".to_vec(),
    };
    let Queued::Yes(id) = store
        .queue_failure_report(&report, now, limits)
        .await
        .unwrap()
    else {
        panic!("not queued");
    };
    let claimed = store
        .claim_failure_reports("n1", now, 600, 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    // n1 is still talking to the relay when n2 comes along after the lease
    assert!(
        store
            .claim_failure_reports("n2", now + 601, 600, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // n1's submission ends: certainly not sent (a 4xx)
    store
        .end_failure_report(
            id,
            "n1",
            now + 700,
            SendEnd::Retry {
                error: "451 try later".into(),
                next_attempt: now + 1000,
            },
        )
        .await
        .unwrap();
    for r in store
        .claim_failure_reports("n3", now + 2000, 600, 10)
        .await
        .unwrap()
    {
        assert!(
            !r.message.is_empty(),
            "an empty message claimed for sending"
        );
    }
    // certainly not sent, and its message is gone: failed, not pending
    let status = store.status(T0).await.unwrap();
    assert_eq!(status.failure_reports.get("pending"), None);
    assert_eq!(status.failure_reports.get("failed"), Some(&1));
}

on_both_backends! {
    a_late_retry_never_requeues_a_dropped_message =>
        sqlite_a_late_retry_never_requeues_a_dropped_message,
        postgres_a_late_retry_never_requeues_a_dropped_message;
}
