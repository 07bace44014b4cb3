//! The small vocabulary both backends execute: statements with positional parameters
//! (`?1`, `?2`, … as SQLite writes them; PostgreSQL gets `$1`, `$2`, …), values, and rows.
//! Every operation of the store is a list of statements run in one transaction, so the logic
//! is written once and the backends only execute.

use std::borrow::Cow;

use crate::error::StoreError;

/// A parameter or column value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// A `BIGINT`.
    Int(i64),
    /// `TEXT`.
    Text(String),
    /// `BLOB` / `BYTEA`.
    Blob(Vec<u8>),
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}

impl From<u64> for Value {
    fn from(v: u64) -> Self {
        Value::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_string())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}

impl From<Option<String>> for Value {
    fn from(v: Option<String>) -> Self {
        v.map_or(Value::Null, Value::Text)
    }
}

impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value::Blob(v)
    }
}

/// One statement and its parameters.
#[derive(Debug, Clone)]
pub struct Stmt {
    /// SQL with `?N` placeholders, `{id}` and `{blob}` type names; borrowed when it is a
    /// constant, since a received report is stored with one statement per record and per
    /// DKIM selector (hundreds of thousands for one report, RFC 9990 §8.1).
    pub sql: Cow<'static, str>,
    /// The parameters, `?1` first.
    pub params: Vec<Value>,
    /// Run once per row of an earlier statement of the same transaction (by index), that
    /// row's values appended to `params`; not at all when it returned no row.
    pub per_row_of: Option<usize>,
    /// Run once, with `params` only, when an earlier statement (by index) returned a row;
    /// not at all when it returned none.
    pub if_rows_of: Option<usize>,
}

impl Stmt {
    /// A statement.
    pub fn new(sql: impl Into<Cow<'static, str>>, params: Vec<Value>) -> Self {
        Stmt {
            sql: sql.into(),
            params,
            per_row_of: None,
            if_rows_of: None,
        }
    }

    /// A statement run once per row of statement `earlier` (see [`Stmt::per_row_of`]).
    pub fn per_row(earlier: usize, sql: impl Into<Cow<'static, str>>, params: Vec<Value>) -> Self {
        Stmt {
            per_row_of: Some(earlier),
            ..Stmt::new(sql, params)
        }
    }

    /// A statement run once when statement `earlier` returned a row (see
    /// [`Stmt::if_rows_of`]).
    pub fn if_rows(earlier: usize, sql: impl Into<Cow<'static, str>>, params: Vec<Value>) -> Self {
        Stmt {
            if_rows_of: Some(earlier),
            ..Stmt::new(sql, params)
        }
    }

    /// The parameter lists to run this statement with, given the earlier results.
    pub fn bindings(&self, earlier: &[Vec<Row>]) -> Vec<Vec<Value>> {
        if let Some(k) = self.if_rows_of {
            return match earlier.get(k) {
                Some(rows) if !rows.is_empty() => vec![self.params.clone()],
                _ => Vec::new(),
            };
        }
        match self.per_row_of {
            None => vec![self.params.clone()],
            Some(k) => earlier
                .get(k)
                .map(|rows| {
                    rows.iter()
                        .map(|r| self.params.iter().chain(r.0.iter()).cloned().collect())
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

/// Statements made one at a time as their transaction runs, so that a long batch (a received
/// report has one statement per record, up to hundreds of thousands: RFC 9990 §8.1) is never
/// held whole; an `Err` ends the transaction and rolls it back.
pub type StmtStream = Box<dyn Iterator<Item = Result<Stmt, StoreError>> + Send>;

/// A list of statements as a [`StmtStream`].
pub fn stream(stmts: Vec<Stmt>) -> StmtStream {
    Box::new(stmts.into_iter().map(Ok))
}

/// A result row.
#[derive(Debug, Clone, Default)]
pub struct Row(pub Vec<Value>);

impl Row {
    fn at(&self, i: usize) -> Result<&Value, StoreError> {
        self.0
            .get(i)
            .ok_or_else(|| StoreError::Corrupt(format!("missing column {i}")))
    }

    /// Column `i` as an integer (NULL is an error).
    pub fn int(&self, i: usize) -> Result<i64, StoreError> {
        match self.at(i)? {
            Value::Int(v) => Ok(*v),
            other => Err(StoreError::Corrupt(format!(
                "column {i}: expected an integer, got {other:?}"
            ))),
        }
    }

    /// Column `i` as an unsigned integer (negative values are an error).
    pub fn uint(&self, i: usize) -> Result<u64, StoreError> {
        let v = self.int(i)?;
        u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("column {i}: negative {v}")))
    }

    /// Column `i` as an integer or NULL.
    pub fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        match self.at(i)? {
            Value::Null => Ok(None),
            _ => self.int(i).map(Some),
        }
    }

    /// Column `i` as text (NULL is an error).
    pub fn text(&self, i: usize) -> Result<String, StoreError> {
        match self.at(i)? {
            Value::Text(v) => Ok(v.clone()),
            other => Err(StoreError::Corrupt(format!(
                "column {i}: expected text, got {other:?}"
            ))),
        }
    }

    /// Column `i` as text or NULL.
    pub fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        match self.at(i)? {
            Value::Null => Ok(None),
            _ => self.text(i).map(Some),
        }
    }

    /// Column `i` as bytes or NULL.
    pub fn opt_blob(&self, i: usize) -> Result<Option<Vec<u8>>, StoreError> {
        match self.at(i)? {
            Value::Null => Ok(None),
            Value::Blob(b) => Ok(Some(b.clone())),
            other => Err(StoreError::Corrupt(format!(
                "column {i}: expected bytes, got {other:?}"
            ))),
        }
    }
}

/// The rows of each statement of a transaction, in order.
pub type Results = Vec<Vec<Row>>;

/// `?N` → `$N` for PostgreSQL (no statement of ours has a literal `?`).
pub fn postgres_placeholders(sql: &str) -> String {
    sql.replace('?', "$")
}

/// How a backend spells what the shared SQL leaves to it.
#[derive(Debug, Clone, Copy)]
pub struct Dialect<'a> {
    /// `{id}`: an integer primary key the database assigns.
    pub id: &'a str,
    /// `{blob}`: bytes.
    pub blob: &'a str,
    /// `{queue_lock}`: an expression whose evaluation makes the transaction wait for every
    /// other writer of the failure-report queue (PostgreSQL: an advisory transaction lock;
    /// SQLite serializes writers already).
    pub queue_lock: &'a str,
    /// `{lock_wait}`: an expression that bounds how long the rest of the transaction waits
    /// for a lock (PostgreSQL: `lock_timeout`; SQLite: its busy timeout does).
    pub lock_wait: &'a str,
}

/// The backend's spelling of the placeholders of [`Dialect`].
pub fn expand_types(sql: &str, d: &Dialect<'_>) -> String {
    sql.replace("{id}", d.id)
        .replace("{blob}", d.blob)
        .replace("{queue_lock}", d.queue_lock)
        .replace("{lock_wait}", d.lock_wait)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 9990 §8.1: storing a received report makes one statement per record (up to
    /// `max_records`, 200,000) and one per DKIM selector rollup row; each held its own copy of
    /// its constant SQL text (~250-470 bytes, about a quarter of the memory of storing it).
    #[test]
    fn constant_sql_is_borrowed_not_copied() {
        let per_record = Stmt::per_row(0, "INSERT INTO t (a) VALUES (?1)", vec![1i64.into()]);
        let rollup = Stmt::if_rows(0, "UPDATE t SET a = ?1", vec![1i64.into()]);
        for s in [per_record, rollup] {
            assert!(matches!(s.sql, Cow::Borrowed(_)), "{}", s.sql);
        }
        let built = Stmt::new(format!("SELECT {}", 1), vec![]);
        assert_eq!(built.sql, "SELECT 1");
    }
}
