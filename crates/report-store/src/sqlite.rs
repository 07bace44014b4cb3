//! The SQLite backend: one connection owned by a dedicated thread, fed through a bounded
//! channel, so no blocking call ever runs on an async worker. SQLite has one writer at a time
//! anyway; the thread also serializes this process's reads, which are few (the sender and
//! `report status`).
//!
//! Settings: WAL (readers in other processes, e.g. `authmilter report status` while `serve`
//! runs, never block the writer), `synchronous = FULL` (a committed transaction survives a
//! power loss, not only a crash of the process: the sender commits "sending" before it talks
//! SMTP, and that mark must never be lost, or a report could go out twice), a 10-second busy
//! timeout for the rare moments two processes write, foreign keys on. Every operation is one
//! `BEGIN IMMEDIATE` transaction.

use std::path::Path;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};

use crate::Durability;
use crate::error::StoreError;
use crate::schema::{MIGRATIONS, VERSION_TABLE, latest_version};
use crate::sql::{Dialect, Results, Row, Stmt, StmtStream, Value, expand_types};

/// One operation for a store thread; `None` when the file it should run on cannot be opened.
type Job = Box<dyn FnOnce(Option<&mut Connection>) + Send>;

/// An open SQLite store (cheap to clone; all clones share the worker threads).
#[derive(Debug, Clone)]
pub struct SqliteBackend {
    jobs: mpsc::Sender<Job>,
    /// A second, read-only connection for the dashboard and `report show`: with WAL its
    /// reads see a consistent snapshot and never wait for, nor hold up, the writer.
    reads: mpsc::Sender<Job>,
}

impl SqliteBackend {
    /// Opens (creating when missing) the database file and starts its worker threads.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let jobs = start_thread(path, "report-store", false).await?;
        let reads = start_thread(path, "report-store-reads", true).await?;
        Ok(SqliteBackend { jobs, reads })
    }

    async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        call_on(&self.jobs, f).await
    }

    /// Runs `stmts` in one transaction; returns each statement's rows.
    pub async fn transaction(
        &self,
        stmts: StmtStream,
        durability: Durability,
    ) -> Result<Results, StoreError> {
        self.call(move |conn| match durability {
            Durability::Flushed => run(conn, stmts, TransactionBehavior::Immediate),
            Durability::Relaxed => {
                // WAL + NORMAL: the commit is written to the WAL without an fsync
                conn.pragma_update(None, "synchronous", "NORMAL")?;
                let result = run(conn, stmts, TransactionBehavior::Immediate);
                conn.pragma_update(None, "synchronous", "FULL")?;
                result
            }
        })
        .await
    }

    /// Runs read-only `stmts` in one snapshot on the read connection. A read whose caller has
    /// gone by the time its turn comes (a page request cut off at its time limit) is not run:
    /// abandoned reads would otherwise keep the read connection busy for those still waiting.
    pub async fn read(&self, stmts: Vec<Stmt>) -> Result<Results, StoreError> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            if tx.is_closed() {
                return;
            }
            let _ = tx.send(conn.map_or(Err(StoreError::Replaced), |conn| {
                run(
                    conn,
                    crate::sql::stream(stmts),
                    TransactionBehavior::Deferred,
                )
            }));
        });
        self.reads.send(job).await.map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Applies the missing migrations; returns the schema version.
    pub async fn migrate(&self, now: i64) -> Result<i64, StoreError> {
        self.call(move |conn| migrate(conn, now)).await
    }

    /// `PRAGMA integrity_check` (for tests and `report status`): `ok` or the problems.
    pub async fn integrity_check(&self) -> Result<String, StoreError> {
        self.call(|conn| {
            Ok(conn.query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0))?)
        })
        .await
    }
}

/// Starts a thread owning one connection to `path`, fed through a bounded channel.
async fn start_thread(
    path: &Path,
    name: &str,
    read_only: bool,
) -> Result<mpsc::Sender<Job>, StoreError> {
    let (jobs, mut rx) = mpsc::channel::<Job>(64);
    let (ready_tx, ready_rx) = oneshot::channel();
    let p = path.to_path_buf();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let mut conn = match connect(&p, read_only) {
                Ok(c) => {
                    let _ = ready_tx.send(Ok(()));
                    c
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            // the files the connection has open: an operator's `rm`, or a restore by `mv`,
            // leaves it writing into an inode nothing else reads, and a connection opened on
            // the new file would pair it with the old file's -wal (SQLite's "How To Corrupt",
            // §1.4): each job first checks that the paths still name the files open, and
            // once they do not, no job runs (the callers keep their data, bounded) until a
            // restart opens the store again
            let wal = wal_path(&p);
            let opened = file_identity(&p);
            let mut opened_wal = file_identity(&wal);
            let mut replaced = false;
            while let Some(job) = rx.blocking_recv() {
                if !replaced {
                    let wal_now = file_identity(&wal);
                    if opened_wal.is_none() {
                        opened_wal = wal_now;
                    }
                    if file_identity(&p) != opened || (opened_wal.is_some() && wal_now != opened_wal) {
                        replaced = true;
                        tracing::error!(
                            store = %p.display(),
                            "reports store: the database file or its -wal was removed or replaced while it is open; nothing is read or written until a restart opens the file now at the path (to restore a backup: stop serve, remove the -wal and -shm files, put the backup in place, start serve)"
                        );
                    }
                }
                job((!replaced).then_some(&mut conn));
            }
        })
        .map_err(|e| StoreError::Location {
            location: format!("sqlite:{}", path.display()),
            why: format!("cannot start the store thread: {e}"),
        })?;
    ready_rx.await.map_err(|_| StoreError::Closed)??;
    Ok(jobs)
}

async fn call_on<T: Send + 'static>(
    jobs: &mpsc::Sender<Job>,
    f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let (tx, rx) = oneshot::channel();
    let job: Job = Box::new(move |conn| {
        let _ = tx.send(conn.map_or(Err(StoreError::Replaced), f));
    });
    jobs.send(job).await.map_err(|_| StoreError::Closed)?;
    rx.await.map_err(|_| StoreError::Closed)?
}

/// Applies the missing migrations on `conn`; returns the schema version.
fn migrate(conn: &mut Connection, now: i64) -> Result<i64, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute(VERSION_TABLE, [])?;
    let found: i64 = tx.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_version",
        [],
        |r| r.get(0),
    )?;
    if found > latest_version() {
        return Err(StoreError::SchemaTooNew {
            found,
            known: latest_version(),
        });
    }
    for m in MIGRATIONS.iter().filter(|m| m.version > found) {
        for s in m.statements {
            tx.execute(&expand(s), [])?;
        }
        tx.execute(
            "INSERT INTO schema_version (version, applied_at, description) VALUES (?1, ?2, ?3)",
            rusqlite::params![m.version, now, m.description],
        )?;
    }
    tx.commit()?;
    Ok(latest_version())
}

/// The file at `path` as (device, inode), `None` when there is none.
fn file_identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// The write-ahead log beside the database file at `path`.
fn wal_path(path: &Path) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push("-wal");
    std::path::PathBuf::from(name)
}

/// SQLite's spelling of the shared SQL's placeholders.
const DIALECT: Dialect<'static> = Dialect {
    id: "INTEGER PRIMARY KEY AUTOINCREMENT",
    blob: "BLOB",
    queue_lock: "1",
    lock_wait: "1",
};

fn expand(sql: &str) -> String {
    expand_types(sql, &DIALECT)
}

fn connect(path: &Path, read_only: bool) -> Result<Connection, StoreError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.exists()
    {
        return Err(StoreError::Location {
            location: format!("sqlite:{}", path.display()),
            why: format!("the directory {} does not exist", dir.display()),
        });
    }
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    // switching a new file to WAL takes an exclusive lock and answers SQLITE_BUSY at once,
    // without the busy handler, while another process creates or migrates the same store
    // (three `report import` started together): tried again for up to the busy timeout
    let mut tries = 0;
    let mode: String = loop {
        match conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)) {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy && tries < 100 =>
            {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            other => break other?,
        }
    };
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Location {
            location: format!("sqlite:{}", path.display()),
            why: format!("cannot switch to WAL (journal_mode is {mode})"),
        });
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    if read_only {
        conn.pragma_update(None, "query_only", "ON")?;
    }
    Ok(conn)
}

fn run(
    conn: &mut Connection,
    stmts: StmtStream,
    behavior: TransactionBehavior,
) -> Result<Results, StoreError> {
    let tx = conn.transaction_with_behavior(behavior)?;
    let mut results = Vec::with_capacity(stmts.size_hint().0);
    for s in stmts {
        // an error drops `tx`, which rolls the transaction back
        let s = s?;
        let mut prepared = tx.prepare_cached(&expand(&s.sql))?;
        let columns = prepared.column_count();
        let mut out = Vec::new();
        for binding in s.bindings(&results) {
            let params = rusqlite::params_from_iter(binding.iter().map(to_sqlite));
            let mut rows = prepared.query(params)?;
            while let Some(r) = rows.next()? {
                let mut row = Vec::with_capacity(columns);
                for i in 0..columns {
                    row.push(from_sqlite(r.get_ref(i)?)?);
                }
                out.push(Row(row));
            }
        }
        results.push(out);
    }
    tx.commit()?;
    Ok(results)
}

fn to_sqlite(v: &Value) -> rusqlite::types::Value {
    match v {
        Value::Null => rusqlite::types::Value::Null,
        Value::Int(i) => rusqlite::types::Value::Integer(*i),
        Value::Text(t) => rusqlite::types::Value::Text(t.clone()),
        Value::Blob(b) => rusqlite::types::Value::Blob(b.clone()),
    }
}

fn from_sqlite(v: ValueRef<'_>) -> Result<Value, StoreError> {
    Ok(match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Text(t) => Value::Text(
            String::from_utf8(t.to_vec())
                .map_err(|_| StoreError::Corrupt("text column is not UTF-8".into()))?,
        ),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
        ValueRef::Real(r) => return Err(StoreError::Corrupt(format!("unexpected real {r}"))),
    })
}
