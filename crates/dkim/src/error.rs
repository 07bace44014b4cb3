//! The crate's error type (one per crate, see docs/development.md).

/// Errors from DKIM APIs that are not per-signature *results* (those are
/// [`crate::DkimResult`] values): configuration, signing and tag-list syntax.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DkimError {
    /// A tag-list could not be parsed (RFC 6376 §3.2).
    #[error("tag list: {0}")]
    Tag(#[from] TagError),
    /// A crypto operation failed (key loading, signing, key generation).
    #[error("crypto: {0}")]
    Crypto(#[from] crypto::CryptoError),
    /// The message has no From header field, which every signature must cover (RFC 6376 §5.4).
    #[error("the message has no From header field")]
    NoFromHeader,
    /// A signer setting is invalid (domain, selector, identity, header list).
    #[error("invalid signer configuration: {0}")]
    Config(String),
    /// The message could not be split into header and body (RFC 5322 §2.1).
    #[error("malformed message: {0}")]
    Message(String),
    /// A DNS lookup failed (key tooling).
    #[error("DNS: {0}")]
    Dns(#[from] dns::DnsError),
}

/// Tag-list syntax errors (RFC 6376 §3.2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TagError {
    /// A tag-spec has no `=`.
    #[error("tag without '=': {0:?}")]
    MissingEquals(String),
    /// A tag name is empty or not `ALPHA *ALNUMPUNC`.
    #[error("bad tag name {0:?}")]
    BadName(String),
    /// The same tag appears twice (RFC 6376 §3.2: "Tags with duplicate names MUST NOT occur").
    #[error("duplicate tag {0:?}")]
    Duplicate(String),
}
