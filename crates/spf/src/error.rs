//! The crate's one error type: why an evaluation ended in `permerror` or `temperror`
//! (RFC 7208 §2.6.6, §2.6.7), or why a record or macro did not parse (RFC 7208 §4.6, §7.1).

use dns::DnsError;

/// Why SPF evaluation stopped with an error result, or why a record or macro string is invalid.
///
/// [`SpfError::is_temporary`] tells `temperror` (RFC 7208 §2.6.6) from `permerror` (§2.6.7).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SpfError {
    /// A term of the record does not match the grammar (RFC 7208 §4.6, §12).
    #[error("syntax error in term {term:?}: {reason}")]
    Syntax {
        /// The offending term, as published (lossy, non-ASCII shown as U+FFFD).
        term: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A macro string does not match the grammar (RFC 7208 §7.1).
    #[error("invalid macro string at byte {position}: {reason}")]
    Macro {
        /// Byte offset of the problem in the macro string.
        position: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// The record contains bytes outside US-ASCII (RFC 7208 §3.1).
    #[error("SPF record contains non-ASCII bytes")]
    NonAscii,
    /// `redirect=` or `exp=` appears more than once (RFC 7208 §6).
    #[error("modifier {0:?} appears more than once")]
    DuplicateModifier(&'static str),
    /// More than one `v=spf1` record at the domain (RFC 7208 §4.5).
    #[error("more than one SPF record at {0}")]
    MultipleRecords(String),
    /// More terms that cause DNS queries than allowed (RFC 7208 §4.6.4, default 10).
    #[error("more than {0} DNS-querying terms")]
    TooManyLookups(usize),
    /// More void lookups than allowed (RFC 7208 §4.6.4, default 2).
    #[error("more than {0} void lookups")]
    TooManyVoidLookups(usize),
    /// An MX answer named more hosts than allowed (RFC 7208 §4.6.4, default 10).
    #[error("MX of {domain} has {count} names, limit {limit}")]
    TooManyMxNames {
        /// The domain whose MX was looked up.
        domain: String,
        /// How many names the answer had.
        count: usize,
        /// The configured limit.
        limit: usize,
    },
    /// `include:` named a domain without an SPF record (RFC 7208 §5.2 table: none -> permerror).
    #[error("include target {0} has no SPF record")]
    IncludeNone(String),
    /// `redirect=` named a malformed domain or one without an SPF record (RFC 7208 §6.1).
    #[error("redirect target {0} has no SPF record or is malformed")]
    RedirectNone(String),
    /// The records one evaluation read exceed this many bytes in all (RFC 7208 §4.6.4: a
    /// verifier bounds the work a record causes; §3.4 asks records to stay small).
    #[error("SPF records of more than {0} bytes in one evaluation")]
    RecordsTooLarge(usize),
    /// include/redirect chains nested deeper than the evaluator allows (RFC 7208 §4.6.4).
    #[error("include/redirect nesting deeper than {0}")]
    TooDeep(usize),
    /// The evaluation ran past its time limit (RFC 7208 §4.6.4: temperror).
    #[error("SPF evaluation took longer than its limit of {0:?}")]
    TimeLimit(std::time::Duration),
    /// A DNS lookup failed with a temporary error (RFC 7208 §4.4, §5: temperror).
    #[error("DNS lookup of {name} failed: {error}")]
    Dns {
        /// The name that was queried.
        name: String,
        /// The failure.
        error: DnsError,
    },
}

impl SpfError {
    /// True when the error means `temperror` (RFC 7208 §2.6.6); otherwise it means `permerror`.
    pub fn is_temporary(&self) -> bool {
        matches!(self, SpfError::Dns { .. } | SpfError::TimeLimit(_))
    }
}
