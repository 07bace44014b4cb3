//! A SQLite store file removed or replaced under a running process (an operator's `rm`, a
//! restore by `mv backup.db reports.db`): the store follows the path, never writes on into
//! an unlinked file that nothing else reads.

use report_store::Store;

use crate::{T0, observation};

fn remove_database(path: &std::path::Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
}

#[tokio::test]
async fn a_removed_or_replaced_file_is_followed() {
    let dir = tempfile::tempdir().unwrap();
    let loc = crate::sqlite_location(&dir);
    let path = dir.path().join("reports.db");
    let store = Store::open(&loc, T0).await.unwrap();
    store
        .record(&[observation(T0 + 10, "a.example", "192.0.2.1", true, true)])
        .await
        .unwrap();
    // removed: the next write makes a new store at the path, schema and all
    remove_database(&path);
    store
        .record(&[observation(T0 + 20, "a.example", "192.0.2.2", true, true)])
        .await
        .unwrap();
    assert!(path.exists());
    let fresh = Store::open(&loc, T0).await.unwrap();
    assert_eq!(fresh.recorded_messages(T0).await.unwrap(), 1);
    drop(fresh);
    // replaced by another store (a restore): the writes go into the one at the path
    let other = dir.path().join("restored.db");
    let restored = Store::open(&format!("sqlite:{}", other.display()).parse().unwrap(), T0)
        .await
        .unwrap();
    restored
        .record(&[observation(T0 + 30, "b.example", "192.0.2.3", true, true)])
        .await
        .unwrap();
    drop(restored);
    // a backup as `sqlite3 … ".backup"` or VACUUM INTO writes it: one self-contained file
    let backup = dir.path().join("backup.db");
    rusqlite::Connection::open(&other)
        .unwrap()
        .execute("VACUUM INTO ?1", [backup.to_str().unwrap()])
        .unwrap();
    remove_database(&path);
    std::fs::rename(&backup, &path).unwrap();
    store
        .record(&[observation(T0 + 40, "b.example", "192.0.2.4", true, true)])
        .await
        .unwrap();
    assert_eq!(store.recorded_messages(T0).await.unwrap(), 2);
    let reopened = Store::open(&loc, T0).await.unwrap();
    assert_eq!(reopened.recorded_messages(T0).await.unwrap(), 2);
}
