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
