//! Received reports in the store (tests/received.rs has the dashboard's queries over them).

use report_store::{Store, StoreLocation};

use crate::{DAY, T0};

/// Unique by (org_name, report_id), records stored with them.
async fn a_received_report_is_stored_once(loc: &StoreLocation) {
    let store = Store::open(loc, T0).await.unwrap();
    let now = T0 + DAY + 3600;
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
}

on_both_backends! {
    a_received_report_is_stored_once =>
        sqlite_a_received_report_is_stored_once,
        postgres_a_received_report_is_stored_once;
}
