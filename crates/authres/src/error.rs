//! The crate's error type.

/// Why an Authentication-Results value could not be parsed (RFC 8601 §2.2). `offset` is the
/// byte offset in the input where the problem was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthResError {
    /// The value ended inside a comment (RFC 5322 §3.2.2).
    #[error("unterminated comment at {offset}")]
    UnterminatedComment {
        /// Byte offset.
        offset: usize,
    },
    /// The value ended inside a quoted string (RFC 5322 §3.2.4).
    #[error("unterminated quoted string at {offset}")]
    UnterminatedQuote {
        /// Byte offset.
        offset: usize,
    },
    /// No authserv-id (RFC 8601 §2.5).
    #[error("missing authserv-id at {offset}")]
    MissingAuthservId {
        /// Byte offset.
        offset: usize,
    },
    /// Something else was found where the grammar expects `what` (RFC 8601 §2.2).
    #[error("expected {what} at {offset}")]
    Expected {
        /// What the grammar expects there.
        what: &'static str,
        /// Byte offset.
        offset: usize,
    },
}
