//! The crate's error type.

/// Errors from parsing DMARC records and `From:` fields. Evaluation itself never fails:
/// it returns a [`DmarcResult`](crate::DmarcResult) (RFC 8601 §2.7.1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DmarcError {
    /// The TXT record is empty (RFC 9989 §4.7: no `v` tag).
    #[error("empty DMARC record")]
    EmptyRecord,
    /// The TXT record does not start with `v=DMARC1` (RFC 9989 §4.7 `v`): not a DMARC record.
    #[error("not a DMARC record: {0:?}")]
    NotDmarc(String),
    /// The `From:` field is not parseable (RFC 5322 §3.6.2), e.g. an unterminated quoted
    /// string or comment.
    #[error("unparseable From field: {0}")]
    FromSyntax(String),
    /// A domain is not a valid DNS name after IDNA conversion (RFC 5890 §2.3).
    #[error("invalid domain name: {0:?}")]
    InvalidDomain(String),
}
