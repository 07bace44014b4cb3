//! The crate's error type (one per crate): malformed ARC header fields (which make a chain
//! fail, RFC 8617 §5.2) and sealing errors (RFC 8617 §5.1).

use crate::fields::ArcField;

/// Errors from parsing ARC header fields and from sealing. A chain that fails validation is
/// not an error: it is an [`crate::ArcOutcome`] with result `fail` and a
/// [`crate::FailReason`], which may carry one of these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ArcError {
    /// The field has no instance tag (RFC 8617 §4.2.1).
    #[error("{0} has no i= instance tag")]
    MissingInstance(ArcField),
    /// The instance tag is not a number from 1 to 50 (RFC 8617 §4.2.1).
    #[error("{field} has an invalid instance i={value:?} (must be 1 to 50)")]
    BadInstance {
        /// Which field.
        field: ArcField,
        /// The value as written (shortened).
        value: String,
    },
    /// The field is not a valid tag-list or A-R payload (RFC 6376 §3.2, RFC 8601 §2.2).
    #[error("{field} syntax error: {detail}")]
    Syntax {
        /// Which field.
        field: ArcField,
        /// What is wrong.
        detail: String,
    },
    /// A signature tag is missing or unacceptable (RFC 6376 §3.5 and §6.1.1 as imported by
    /// RFC 8617 §4.1.2/§4.1.3; RFC 8301 for rsa-sha1).
    #[error("{field}: {reason}")]
    Signature {
        /// Which field.
        field: ArcField,
        /// Why, in DKIM's terms.
        reason: dkim::Reason,
    },
    /// The ARC-Seal `cv=` tag is missing or not `none`, `pass` or `fail` (RFC 8617 §4.1.3).
    #[error("ARC-Seal has an invalid cv= value {0:?}")]
    BadChainStatus(String),
    /// The signing key could not be loaded or used.
    #[error("crypto: {0}")]
    Crypto(#[from] crypto::CryptoError),
    /// A sealer setting is invalid (domain, selector, header list).
    #[error("invalid sealer configuration: {0}")]
    Config(String),
    /// The message has no From header field, which the ARC-Message-Signature must cover
    /// (RFC 6376 §5.4 as imported by RFC 8617 §4.1.2).
    #[error("the message has no From header field")]
    NoFromHeader,
    /// The newest ARC-Seal already reports `cv=fail`: the chain has ended and no set is added
    /// (RFC 8617 §5.1 step 2).
    #[error("the chain ended at i={instance} with cv=fail; no ARC set is added")]
    ChainTerminated {
        /// The instance of the seal that reported the failure.
        instance: u32,
    },
    /// The chain was cut short by a DNS failure or a local set limit, not judged: sealing it
    /// `cv=fail` would end it for later hops that may validate it (RFC 8617 §5.1 step 2).
    #[error("the chain was not validated ({reason}); no ARC set is added")]
    ChainNotValidated {
        /// Why validation stopped.
        reason: String,
    },
    /// The chain already has 50 sets, the most an instance can number (RFC 8617 §4.2.1).
    #[error("the chain already has {highest} ARC sets; 50 is the limit")]
    InstanceLimit {
        /// The highest instance found.
        highest: u32,
    },
    /// The header fields passed to the sealer do not hold the chain that was validated.
    #[error("the message's ARC sets do not match the validated chain: {0}")]
    ChainMismatch(String),
    /// The body hash was not computed (requested after the body started).
    #[error("the body hash was not computed")]
    BodyHashUnavailable,
}
