//! The crate's error type.

/// Errors of the report store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store location (`sqlite:/path`, `postgres://…`) cannot be used.
    #[error("bad report store location {location:?}: {why}")]
    Location {
        /// The location as given (passwords removed).
        location: String,
        /// What is wrong.
        why: String,
    },
    /// SQLite failed.
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL failed (connection, query, or transaction).
    #[error("PostgreSQL: {0}")]
    Postgres(String),
    /// The database holds a schema newer than this program knows.
    #[error(
        "the report store has schema version {found}, newer than this program's {known}; upgrade authmilter"
    )]
    SchemaTooNew {
        /// The version in the database.
        found: i64,
        /// The newest version this program has.
        known: i64,
    },
    /// The database holds an older schema and was opened only to read (`report show`):
    /// upgrading is left to a writer.
    #[error(
        "the report store has schema version {found}, older than this program's {known}; run `authmilter report status` (or start `serve`) to upgrade it first"
    )]
    SchemaTooOld {
        /// The version in the database.
        found: i64,
        /// The newest version this program has.
        known: i64,
    },
    /// A stored value cannot be read back (a corrupt row or a foreign writer).
    #[error("unreadable stored value: {0}")]
    Corrupt(String),
    /// The store's worker thread is gone (it panicked or the store was closed).
    #[error("the report store is closed")]
    Closed,
    /// The SQLite file (or its write-ahead log) was removed or replaced while open.
    #[error("the report store's file was removed or replaced while open; restart to open it again")]
    Replaced,
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        // the Display of tokio_postgres::Error is terse ("db error"): add the server's message
        match e.as_db_error() {
            Some(db) => StoreError::Postgres(format!("{}: {}", db.code().code(), db.message())),
            None => StoreError::Postgres(with_causes(&e)),
        }
    }
}

/// The error's message followed by its causes: tokio-postgres keeps the TLS, I/O and parse
/// details in the source chain, not in its Display.
pub(crate) fn with_causes(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        msg.push_str(": ");
        msg.push_str(&cause.to_string());
        source = cause.source();
    }
    msg
}
