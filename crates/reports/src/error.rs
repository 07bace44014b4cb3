//! The crate's error type.

/// Errors from building, writing, parsing and extracting DMARC reports.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReportsError {
    /// An aggregate report needs at least one record (RFC 9990 §3.1.1.2).
    #[error("no observations for the report")]
    NoRecords,
}
