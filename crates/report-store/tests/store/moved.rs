//! A SQLite store file removed or replaced under a running process (an operator's `rm`, a
//! restore by `mv backup.db reports.db`, a deleted `-wal`): the store neither writes on into
//! an unlinked file that nothing else reads nor opens the new file beside the old file's
//! write-ahead log (which would lay the old pages over the restored ones): it refuses every
//! operation until reopened (a restart).

use report_store::{Store, StoreError};

use crate::{T0, observation};

fn remove(path: &std::path::Path, suffixes: &[&str]) {
    for suffix in suffixes {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
}

#[tokio::test]
async fn a_removed_or_replaced_file_is_refused_until_reopened() {
    let dir = tempfile::tempdir().unwrap();
    let loc = crate::sqlite_location(&dir);
    let path = dir.path().join("reports.db");
    let store = Store::open(&loc, T0).await.unwrap();
    store
        .record(&[observation(T0 + 10, "a.example", "192.0.2.1", true, true)])
        .await
        .unwrap();
    // a backup, as `sqlite3 … ".backup"` or VACUUM INTO writes it: one self-contained file
    let backup = dir.path().join("backup.db");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute("VACUUM INTO ?1", [backup.to_str().unwrap()])
        .unwrap();
    store
        .record(&[observation(T0 + 20, "a.example", "192.0.2.2", true, true)])
        .await
        .unwrap();
    // restored under the running store: refused, nothing written into either file
    std::fs::rename(&backup, &path).unwrap();
    let refused = store
        .record(&[observation(T0 + 30, "a.example", "192.0.2.3", true, true)])
        .await;
    assert!(matches!(refused, Err(StoreError::Replaced)), "{refused:?}");
    assert!(matches!(
        store.recorded_messages(T0).await,
        Err(StoreError::Replaced)
    ));
    drop(store);
    // the restore as docs/reports.md says (stopped, the old -wal and -shm removed): the
    // backup's one record, intact
    remove(&path, &["-wal", "-shm"]);
    let reopened = Store::open(&loc, T0).await.unwrap();
    assert_eq!(reopened.recorded_messages(T0).await.unwrap(), 1);
    assert_eq!(reopened.integrity_check().await.unwrap(), "ok");
    // removed while open, the -wal alone too: refused
    remove(&path, &["-wal"]);
    let refused = reopened
        .record(&[observation(T0 + 40, "a.example", "192.0.2.4", true, true)])
        .await;
    assert!(matches!(refused, Err(StoreError::Replaced)), "{refused:?}");
}
