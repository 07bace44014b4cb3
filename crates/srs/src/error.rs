//! The crate's error enum.
//!
//! The `Display` texts of the SRS variants are postsrsd's `srs_strerror()` messages word for
//! word, because the socketmap replies carry them (`NOTFOUND Hash invalid in SRS address.`).

use std::fmt;

/// Everything that can go wrong in this crate: configuration, SRS parsing and checking,
/// and the socketmap wire format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SrsError {
    /// The address does not start with `SRS0`/`SRS1` and a separator (`=`, `+`, `-`).
    #[error("Not an SRS address.")]
    NotSrs,
    /// The address starts like an SRS address but a field is missing or unparsable.
    #[error("{0}")]
    Malformed(Malformed),
    /// The hash is shorter than the configured minimum (`hash_minimum`).
    #[error("Hash too short in SRS address.")]
    HashTooShort,
    /// No secret produces this hash: the address is forged, tampered with, or signed by
    /// someone else.
    #[error("Hash invalid in SRS address.")]
    BadHash,
    /// The SRS0 timestamp is older than the maximum age, or lies in the future.
    #[error("Time stamp out of date.")]
    Expired,
    /// The address is a postsrsd database-mode alias (`SRS0=HHHH=TT=1=KEY@...`), which needs
    /// postsrsd's key-value store; this crate has none.
    #[error("No database for alias.")]
    DatabaseAlias,
    /// There is no secret to sign with: an empty secrets file or list.
    #[error("No secrets in SRS configuration.")]
    NoSecrets,
    /// `hash_length` or `hash_minimum` is out of range (1 ≤ minimum ≤ length ≤ 27).
    #[error(
        "invalid SRS hash length {length} (minimum {minimum}); need 1 <= minimum <= length <= 27"
    )]
    InvalidHashLength {
        /// The configured hash length.
        length: usize,
        /// The configured minimum accepted hash length.
        minimum: usize,
    },
    /// `max_age_days` must be below the 1024-day timestamp period.
    #[error("invalid SRS maximum age {0} days; must be at most 1023")]
    InvalidMaxAge(u32),
    /// The separator is not one of `=`, `+`, `-`.
    #[error("invalid SRS separator {0:?}; must be one of '=', '+', '-'")]
    InvalidSeparator(char),
    /// The SRS domain is empty or not a plain ASCII host name.
    #[error("invalid SRS domain {0:?}")]
    InvalidSrsDomain(String),
    /// The operating system's random number generator failed.
    #[error("random number generator failed")]
    Random,
    /// Socketmap: a netstring length is empty, not decimal, or has too many digits.
    #[error("socketmap: bad netstring length")]
    NetstringLength,
    /// Socketmap: the netstring length is not followed by `:`.
    #[error("socketmap: netstring length not followed by ':' (found byte {found:#04x})")]
    NetstringColon {
        /// The byte found where `:` was expected.
        found: u8,
    },
    /// Socketmap: the netstring payload is not followed by `,`.
    #[error("socketmap: netstring payload not followed by ',' (found byte {found:#04x})")]
    NetstringComma {
        /// The byte found where `,` was expected.
        found: u8,
    },
    /// Socketmap: a netstring announces more bytes than the configured limit.
    #[error("socketmap: netstring of {length} bytes exceeds the limit of {max}")]
    NetstringTooLarge {
        /// The announced length (or a lower bound of it).
        length: usize,
        /// The configured maximum.
        max: usize,
    },
    /// Socketmap: a request has no map name (`<name> <key>`).
    #[error("socketmap: invalid request")]
    SocketmapRequest,
    /// Socketmap: a reply does not start with OK, NOTFOUND, TEMP, TIMEOUT or PERM.
    #[error("socketmap: invalid reply")]
    SocketmapReply,
}

/// Which part of an SRS address is missing (libsrs2's syntax errors).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Malformed {
    /// `SRS0=` is followed by nothing.
    NoSrs0Hash,
    /// The SRS0 hash is not followed by `=TT`.
    NoSrs0Timestamp,
    /// The SRS0 timestamp is not followed by `=host`.
    NoSrs0Host,
    /// The SRS0 host is not followed by `=user`.
    NoSrs0User,
    /// `SRS1=` is followed by nothing.
    NoSrs1Hash,
    /// The SRS1 hash is not followed by `=host`.
    NoSrs1Host,
    /// The SRS1 host is not followed by `=opaque`.
    NoSrs1User,
    /// A timestamp character is outside the base32 alphabet `A-Z2-7`.
    BadTimestampChar,
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Malformed::NoSrs0Hash => "No hash in SRS0 address.",
            Malformed::NoSrs0Timestamp => "No timestamp in SRS0 address.",
            Malformed::NoSrs0Host => "No host in SRS0 address.",
            Malformed::NoSrs0User => "No user in SRS0 address.",
            Malformed::NoSrs1Hash => "No hash in SRS1 address.",
            Malformed::NoSrs1Host => "No host in SRS1 address.",
            Malformed::NoSrs1User => "No user in SRS1 address.",
            Malformed::BadTimestampChar => "Bad base32 character in timestamp.",
        })
    }
}

impl SrsError {
    /// True for errors a caller should treat as "this address is invalid" (forged, expired,
    /// malformed, database alias), as opposed to configuration or wire-format errors.
    pub fn is_invalid_address(&self) -> bool {
        matches!(
            self,
            SrsError::Malformed(_)
                | SrsError::HashTooShort
                | SrsError::BadHash
                | SrsError::Expired
                | SrsError::DatabaseAlias
        )
    }
}
