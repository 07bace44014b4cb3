//! The DMARC report store (docs/reports.md, "The store"): what the milter records, the
//! aggregate report jobs and their sends, the failure report queue, and the reports other
//! receivers send us. SQLite on one node, PostgreSQL when several MX nodes share one
//! database; one schema, versioned migrations run when the store opens.
//!
//! Runtime model: an async API for tokio. SQLite runs on a dedicated thread that owns the
//! connection (no blocking call on an async worker); PostgreSQL uses tokio-postgres. Every
//! operation is one transaction, written once as SQL both backends accept ([`sql`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), report_store::StoreError> {
//! use report_store::{Store, StoreLocation};
//! let store = Store::open(&"sqlite:/var/lib/authmilter/reports.db".parse()?, 0).await?;
//! let status = store.status(0).await?;
//! println!("{} periods", status.periods.len());
//! # Ok(()) }
//! ```

#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod conn_string;
mod error;
mod failure_queue;
mod jobs;
mod location;
mod outbound;
mod postgres;
mod provenance;
mod received;
mod record;
pub mod schema;
pub mod sql;
mod sqlite;
mod status;
mod summary;
mod tls;

use std::sync::Arc;

pub use error::StoreError;
pub use failure_queue::{FailureLimits, FailureReport, NewFailureReport, Queued};
pub use jobs::{Claim, JobEnd, NewSend, PeriodKey, SendEnd, SendRow, SendState};
pub use location::{StoreLocation, redact};
pub use outbound::OutboundDomain;
pub use postgres::FAILURE_QUEUE_LOCK;
pub use provenance::{CarrierDmarc, Provenance};
pub use received::{ReceivedInsert, report_day};
pub use record::{PeriodRows, RecordStats};
pub use status::{JobStatus, PeriodStatus, PurgeStats, Status};
pub use summary::{
    DayResults, DomainOverview, DomainSummary, ReporterName, ReporterSummary, SelectorSummary,
    SourceSummary, Span, Unverified,
};
pub use tls::{RootSource, SslMode, TlsSettings};

use crate::postgres::PostgresBackend;
use crate::sql::{Results, Stmt, StmtStream};
use crate::sqlite::SqliteBackend;

/// The report store (cheap to clone).
#[derive(Debug, Clone)]
pub struct Store {
    backend: Backend,
    location: StoreLocation,
}

#[derive(Debug, Clone)]
enum Backend {
    Sqlite(SqliteBackend),
    Postgres(Arc<PostgresBackend>),
}

/// When a committed transaction is safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Durability {
    /// On disk when the commit returns (SQLite `synchronous = FULL`; PostgreSQL's default
    /// `synchronous_commit`): survives a power loss. Claims and send states need this.
    Flushed,
    /// Survives a crash of our process at once, a power loss (or a PostgreSQL server crash)
    /// once the next flushed commit or checkpoint has run (SQLite `synchronous = NORMAL` in
    /// WAL mode; PostgreSQL `synchronous_commit = off`); the database stays consistent either
    /// way. For recording observations: no fsync per batch, so a slow disk never holds the
    /// recorder up (the records in memory are lost on a power loss anyway).
    Relaxed,
}

/// Unix seconds as the store keeps them.
fn secs(t: u64) -> i64 {
    i64::try_from(t).unwrap_or(i64::MAX)
}

impl Store {
    /// Opens the store at `location` and brings its schema up to date (`now`: Unix seconds,
    /// recorded with each applied migration).
    pub async fn open(location: &StoreLocation, now: u64) -> Result<Store, StoreError> {
        let store = Store::connect(location).await?;
        store.migrate(now).await?;
        Ok(store)
    }

    /// Opens the store at `location` to read it (`report show`): an older schema is not
    /// upgraded ([`StoreError::SchemaTooOld`]), so that reading never writes; a store with
    /// no schema yet (new) is created as [`Store::open`] does.
    pub async fn open_for_reading(location: &StoreLocation, now: u64) -> Result<Store, StoreError> {
        let store = Store::connect(location).await?;
        let known = schema::latest_version();
        // no version table: a new store
        let found = store.schema_version().await.unwrap_or(0);
        if found > 0 && found < known {
            return Err(StoreError::SchemaTooOld { found, known });
        }
        store.migrate(now).await?;
        Ok(store)
    }

    /// Connects to the store at `location`, its schema as it is.
    async fn connect(location: &StoreLocation) -> Result<Store, StoreError> {
        let backend = match location {
            StoreLocation::Sqlite(path) => Backend::Sqlite(SqliteBackend::open(path).await?),
            StoreLocation::Postgres(conn) => {
                Backend::Postgres(Arc::new(PostgresBackend::open(conn).await?))
            }
        };
        Ok(Store {
            backend,
            location: location.clone(),
        })
    }

    /// Where the store is.
    pub fn location(&self) -> &StoreLocation {
        &self.location
    }

    async fn migrate(&self, now: u64) -> Result<i64, StoreError> {
        match &self.backend {
            Backend::Sqlite(b) => b.migrate(secs(now)).await,
            Backend::Postgres(b) => b.migrate(secs(now)).await,
        }
    }

    /// Runs statements in one transaction (the building block of every operation); it is
    /// durable when this returns (flushed to disk).
    pub async fn transaction(&self, stmts: Vec<Stmt>) -> Result<Results, StoreError> {
        self.transaction_with(stmts, Durability::Flushed).await
    }

    async fn transaction_with(
        &self,
        stmts: Vec<Stmt>,
        durability: Durability,
    ) -> Result<Results, StoreError> {
        self.transaction_streamed(sql::stream(stmts), durability)
            .await
    }

    /// Runs statements made as the transaction goes in one transaction ([`sql::StmtStream`]).
    async fn transaction_streamed(
        &self,
        stmts: StmtStream,
        durability: Durability,
    ) -> Result<Results, StoreError> {
        match &self.backend {
            Backend::Sqlite(b) => b.transaction(stmts, durability).await,
            Backend::Postgres(b) => b.transaction(stmts, durability).await,
        }
    }

    /// Runs read-only statements in one consistent snapshot (the dashboard, `report show`).
    /// On SQLite they run on a connection of their own, so a long read never holds up the
    /// writer; on PostgreSQL in one transaction like any other.
    pub async fn read(&self, stmts: Vec<Stmt>) -> Result<Results, StoreError> {
        match &self.backend {
            Backend::Sqlite(b) => b.read(stmts).await,
            Backend::Postgres(b) => b.transaction(sql::stream(stmts), Durability::Flushed).await,
        }
    }

    /// Runs one statement; returns its rows.
    async fn query(&self, stmt: Stmt) -> Result<Vec<sql::Row>, StoreError> {
        Ok(self
            .transaction(vec![stmt])
            .await?
            .into_iter()
            .next()
            .unwrap_or_default())
    }

    /// The schema version in the database.
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        let rows = self
            .query(Stmt::new(
                "SELECT CAST(COALESCE(MAX(version), 0) AS BIGINT) FROM schema_version",
                vec![],
            ))
            .await?;
        rows.first().map_or(Ok(0), |r| r.int(0))
    }

    /// SQLite's `PRAGMA integrity_check` (`ok` when sound); PostgreSQL checks itself: `ok`.
    pub async fn integrity_check(&self) -> Result<String, StoreError> {
        match &self.backend {
            Backend::Sqlite(b) => b.integrity_check().await,
            Backend::Postgres(_) => Ok("ok".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A statement stream that fails part-way rolls back what it ran before: a received
    /// report is stored whole or not at all although its statements are made as it goes.
    #[tokio::test]
    async fn a_streamed_transaction_that_fails_part_way_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let location = format!("sqlite:{}", dir.path().join("r.db").display())
            .parse()
            .unwrap();
        let store = Store::open(&location, 0).await.unwrap();
        let count = "SELECT COUNT(*) FROM schema_version WHERE version = 9999";
        let insert = || {
            Stmt::new(
                "INSERT INTO schema_version (version, applied_at, description)
                 VALUES (9999, 0, 'streamed')",
                vec![],
            )
        };
        let statements = vec![
            Ok(insert()),
            Ok(Stmt::new(count, vec![])),
            Err(StoreError::Corrupt("made up".into())),
        ];
        let failed = store
            .transaction_streamed(Box::new(statements.into_iter()), Durability::Flushed)
            .await;
        assert!(matches!(failed, Err(StoreError::Corrupt(_))), "{failed:?}");
        let rows = store.query(Stmt::new(count, vec![])).await.unwrap();
        assert_eq!(rows.first().map(|r| r.int(0).unwrap()), Some(0));
        // the same statements without the error commit
        let ok = store
            .transaction_streamed(sql::stream(vec![insert()]), Durability::Flushed)
            .await;
        assert!(ok.is_ok(), "{ok:?}");
        let rows = store.query(Stmt::new(count, vec![])).await.unwrap();
        assert_eq!(rows.first().map(|r| r.int(0).unwrap()), Some(1));
    }
}
