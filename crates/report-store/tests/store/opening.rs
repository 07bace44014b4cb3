//! Opening a store: migrations run once, and what the store refuses to open.

use report_store::{Store, StoreLocation};

use crate::T0;

async fn opening_again_runs_no_migration_twice(loc: &StoreLocation) {
    let store = Store::open(loc, T0).await.unwrap();
    assert_eq!(store.schema_version().await.unwrap(), 4);
    let again = Store::open(loc, T0).await.unwrap();
    assert_eq!(again.schema_version().await.unwrap(), 4);
}

on_both_backends! {
    opening_again_runs_no_migration_twice =>
        sqlite_opening_again_runs_no_migration_twice,
        postgres_opening_again_runs_no_migration_twice;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs AUTHMILTER_E2E=1"]
async fn postgres_without_tls_refuses_a_connection_that_requires_it() {
    let Some(pg) = crate::postgres() else { return };
    let url = pg.create_database("suite").unwrap();
    // this cluster has no TLS: a connection that requires it fails, never falls back
    // (tests/tls.rs has the TLS cluster)
    let tls: StoreLocation = format!("{url}?sslmode=require").parse().unwrap();
    assert!(Store::open(&tls, T0).await.is_err());
}
