//! The PostgreSQL backend, for several MX nodes sharing one database: one connection per
//! process (opened again when it breaks), each operation one transaction at the default
//! READ COMMITTED isolation. The claims the sender relies on are single conditional
//! `UPDATE`/`INSERT … ON CONFLICT` statements, which PostgreSQL re-checks under the row lock,
//! so two nodes never both win one (docs/reports.md, "Exactly once").
//!
//! TLS: libpq's `sslmode` (disable, prefer, require, verify-ca, verify-full) and
//! `sslrootcert`, over rustls ([`crate::tls`], docs/reports.md "PostgreSQL over TLS").

use std::borrow::Cow;
use std::collections::HashMap;

use tokio::sync::Mutex;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use tokio_postgres::{Client, Statement};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::Durability;
use crate::error::StoreError;
use crate::location::postgres_config;
use crate::schema::{MIGRATIONS, VERSION_TABLE, latest_version};
use crate::sql::{Dialect, Results, Row, StmtStream, Value, expand_types, postgres_placeholders};
use crate::tls::{SslMode, TlsSettings};

/// The advisory lock key that serializes migrations between nodes ("authmilter" in ASCII,
/// folded into an i64).
const MIGRATION_LOCK: i64 = 0x6175_7468_6d69_6c74;

/// An open PostgreSQL store.
pub struct PostgresBackend {
    config: tokio_postgres::Config,
    tls: TlsSettings,
    connector: MakeRustlsConnect,
    client: Mutex<Option<Client>>,
}

impl std::fmt::Debug for PostgresBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresBackend")
            .field("config", &self.config)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

impl PostgresBackend {
    /// Connects (the connection string was checked when the location was parsed).
    pub async fn open(conn_str: &str) -> Result<Self, StoreError> {
        let (mut config, tls) = postgres_config(conn_str)?;
        // an unreachable server (a partition, a dropped SYN) is a store error in seconds,
        // not a connection attempt held for the kernel's minutes; a server that vanished
        // mid-connection is noticed by TCP keepalives (both unless the URL says otherwise)
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(std::time::Duration::from_secs(10));
        }
        if !conn_str.contains("keepalives_idle") {
            config.keepalives_idle(std::time::Duration::from_secs(60));
        }
        let connector = tls.connector().map_err(|why| StoreError::Location {
            location: crate::location::redact(conn_str),
            why,
        })?;
        let backend = PostgresBackend {
            config,
            tls,
            connector,
            client: Mutex::new(None),
        };
        {
            let mut guard = backend.client.lock().await;
            backend.connected(&mut guard).await?;
        }
        Ok(backend)
    }

    async fn connected<'a>(
        &self,
        slot: &'a mut Option<Client>,
    ) -> Result<&'a mut Client, StoreError> {
        if slot.as_ref().is_none_or(Client::is_closed) {
            // the driver's connect_timeout covers the TCP connect only: a server that takes
            // the connection and never finishes the startup (a frozen postmaster) is bounded
            // here, by the same time
            let limit = self
                .config
                .get_connect_timeout()
                .copied()
                .unwrap_or(std::time::Duration::from_secs(10));
            let (client, connection) =
                tokio::time::timeout(limit, self.config.connect(self.connector.clone()))
                    .await
                    .map_err(|_| {
                        StoreError::Postgres(format!(
                            "the server did not complete the connection within {}s",
                            limit.as_secs()
                        ))
                    })?
                    .map_err(|e| self.explain(e))?;
            tokio::spawn(async move {
                // ends when the client is dropped or the server goes away; the next
                // operation notices and connects again
                let _ = connection.await;
            });
            *slot = Some(client);
        }
        slot.as_mut().ok_or(StoreError::Closed)
    }

    /// The driver's error, with a hint when `sslmode=disable` met a server that accepts only
    /// TLS (its pg_hba.conf has a `hostssl` line for us but no `host` line).
    fn explain(&self, e: tokio_postgres::Error) -> StoreError {
        let e = StoreError::from(e);
        match e {
            StoreError::Postgres(msg)
                if self.tls.mode == SslMode::Disable && msg.contains("no encryption") =>
            {
                StoreError::Postgres(format!(
                    "{msg} (sslmode=disable, but the server accepts this connection only over TLS: use sslmode=verify-full)"
                ))
            }
            other => other,
        }
    }

    /// Runs `stmts` in one transaction; returns each statement's rows.
    pub async fn transaction(
        &self,
        stmts: StmtStream,
        durability: Durability,
    ) -> Result<Results, StoreError> {
        let mut guard = self.client.lock().await;
        let client = self.connected(&mut guard).await?;
        let result = run(client, stmts, durability).await;
        if result.is_err() && client.is_closed() {
            *guard = None;
        }
        result
    }

    /// Applies the missing migrations under an advisory lock; returns the schema version.
    pub async fn migrate(&self, now: i64) -> Result<i64, StoreError> {
        let mut guard = self.client.lock().await;
        let client = self.connected(&mut guard).await?;
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await?;
        tx.batch_execute(VERSION_TABLE).await?;
        let found: i64 = tx
            .query_one(
                "SELECT COALESCE(MAX(version), 0)::BIGINT FROM schema_version",
                &[],
            )
            .await?
            .try_get(0)?;
        if found > latest_version() {
            return Err(StoreError::SchemaTooNew {
                found,
                known: latest_version(),
            });
        }
        for m in MIGRATIONS.iter().filter(|m| m.version > found) {
            for s in m.statements {
                tx.batch_execute(&expand(s)).await?;
            }
            tx.execute(
                "INSERT INTO schema_version (version, applied_at, description) VALUES ($1, $2, $3)",
                &[&m.version, &now, &m.description],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(latest_version())
    }
}

/// The advisory lock key that serializes queueing failure reports between nodes, so each
/// counts the others' rows against the rate limits ("authfail" in ASCII).
pub const FAILURE_QUEUE_LOCK: i64 = 0x6175_7468_6661_696c;

/// PostgreSQL's spelling of the shared SQL's placeholders: a lock is waited for 5 s at most
/// (a node whose connection hangs while it holds one must not stall the others' writes).
const DIALECT: Dialect<'static> = Dialect {
    id: "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
    blob: "BYTEA",
    queue_lock: "pg_advisory_xact_lock(7022647185697237356)",
    lock_wait: "set_config('lock_timeout', '5s', true)",
};

fn expand(sql: &str) -> String {
    expand_types(sql, &DIALECT)
}

async fn run(
    client: &mut Client,
    stmts: StmtStream,
    durability: Durability,
) -> Result<Results, StoreError> {
    let tx = client.transaction().await?;
    if durability == Durability::Relaxed {
        // this transaction only: the commit returns before the server flushes its WAL
        tx.batch_execute("SET LOCAL synchronous_commit = off")
            .await?;
    }
    let mut results = Vec::with_capacity(stmts.size_hint().0);
    // each distinct SQL text is prepared once a transaction: a received report runs the
    // same INSERT once per record, which would otherwise cost a round trip each to prepare
    let mut prepared: HashMap<Cow<'static, str>, Statement> = HashMap::new();
    for s in stmts {
        // an error drops `tx`, which rolls the transaction back
        let s = s?;
        let statement = match prepared.get(&s.sql) {
            Some(st) => st.clone(),
            None => {
                let st = tx.prepare(&postgres_placeholders(&expand(&s.sql))).await?;
                prepared.insert(s.sql.clone(), st.clone());
                st
            }
        };
        let mut out = Vec::new();
        for binding in s.bindings(&results) {
            let params: Vec<&(dyn ToSql + Sync)> =
                binding.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
            let rows = tx.query(&statement, &params).await?;
            for r in &rows {
                let mut row = Vec::with_capacity(r.len());
                for (i, col) in r.columns().iter().enumerate() {
                    row.push(column(r, i, col.type_())?);
                }
                out.push(Row(row));
            }
        }
        results.push(out);
    }
    tx.commit().await?;
    Ok(results)
}

fn column(r: &tokio_postgres::Row, i: usize, ty: &Type) -> Result<Value, StoreError> {
    let v = match *ty {
        Type::INT8 => r.try_get::<_, Option<i64>>(i)?.map(Value::Int),
        Type::INT4 => r
            .try_get::<_, Option<i32>>(i)?
            .map(|v| Value::Int(v.into())),
        Type::INT2 => r
            .try_get::<_, Option<i16>>(i)?
            .map(|v| Value::Int(v.into())),
        Type::BOOL => r
            .try_get::<_, Option<bool>>(i)?
            .map(|v| Value::Int(i64::from(v))),
        Type::TEXT | Type::VARCHAR | Type::NAME | Type::BPCHAR => {
            r.try_get::<_, Option<String>>(i)?.map(Value::Text)
        }
        Type::BYTEA => r.try_get::<_, Option<Vec<u8>>>(i)?.map(Value::Blob),
        ref other => {
            return Err(StoreError::Corrupt(format!(
                "column {i} has unexpected type {other}"
            )));
        }
    };
    Ok(v.unwrap_or(Value::Null))
}

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut tokio_postgres::types::private::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(v) if *ty == Type::INT4 => i32::try_from(*v)?.to_sql(ty, out),
            Value::Int(v) if *ty == Type::INT2 => i16::try_from(*v)?.to_sql(ty, out),
            Value::Int(v) => v.to_sql(ty, out),
            Value::Text(s) => s.to_sql(ty, out),
            Value::Blob(b) => b.as_slice().to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

#[cfg(test)]
mod dialect_tests {
    /// The lock the SQL takes is the one the constant names.
    #[test]
    fn the_queue_lock_is_the_named_key() {
        assert_eq!(
            super::DIALECT.queue_lock,
            format!("pg_advisory_xact_lock({})", super::FAILURE_QUEUE_LOCK)
        );
    }
}
