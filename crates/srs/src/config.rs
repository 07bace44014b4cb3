//! SRS configuration: secrets, hash length, maximum age, separator, domain, clock.

use std::fmt;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::{DEFAULT_HASH_LENGTH, DEFAULT_MAX_AGE_DAYS, Secrets, SrsError};

/// Everything [`crate::Srs::new`] needs. Build with [`SrsConfig::new`] and adjust the fields.
#[derive(Debug, Clone)]
pub struct SrsConfig {
    /// HMAC keys: the first signs new addresses, every one verifies.
    pub secrets: Secrets,
    /// Our forwarding domain: rewritten senders become `SRS0=...@srs_domain`.
    pub srs_domain: String,
    /// Hash characters written into new addresses (postsrsd `hash-length`, default 4).
    pub hash_length: usize,
    /// Fewest hash characters accepted on reverse (postsrsd `hash-minimum`, default 4).
    pub hash_minimum: usize,
    /// Days an SRS0 address stays valid (libsrs2 `maxage`, default 21).
    pub max_age_days: u32,
    /// Character after `SRS0`/`SRS1` in new addresses (default `=`).
    pub separator: Separator,
    /// Alphabet of new hashes (default base64url, as postsrsd ≥ 2.2.6); reverse accepts both.
    pub hash_encoding: HashEncoding,
    /// Rewrite even senders of our own SRS domain (postsrsd `always-rewrite`, default off).
    pub always_rewrite: bool,
    /// Where "today" comes from; [`Clock::System`] except in tests.
    pub clock: Clock,
}

impl SrsConfig {
    /// A configuration with postsrsd's defaults for `secrets` and `srs_domain`.
    pub fn new(secrets: Secrets, srs_domain: impl Into<String>) -> Self {
        SrsConfig {
            secrets,
            srs_domain: srs_domain.into(),
            hash_length: DEFAULT_HASH_LENGTH,
            hash_minimum: DEFAULT_HASH_LENGTH,
            max_age_days: DEFAULT_MAX_AGE_DAYS,
            separator: Separator::Equals,
            hash_encoding: HashEncoding::Base64Url,
            always_rewrite: false,
            clock: Clock::System,
        }
    }
}

/// The SRS separator after the `SRS0`/`SRS1` tag (SRS paper §3.1; libsrs2 `srs_set_separator`).
///
/// Only the first separator is configurable; the fields inside are always split by `=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Separator {
    /// `=`, the default: `SRS0=HHHH=TT=host=user@...`.
    #[default]
    Equals,
    /// `+`: `SRS0+HHHH=TT=host=user@...`.
    Plus,
    /// `-`: `SRS0-HHHH=TT=host=user@...`.
    Minus,
}

impl Separator {
    /// The separator as an ASCII byte.
    pub fn as_byte(self) -> u8 {
        match self {
            Separator::Equals => b'=',
            Separator::Plus => b'+',
            Separator::Minus => b'-',
        }
    }

    /// The separator as a char.
    pub fn as_char(self) -> char {
        char::from(self.as_byte())
    }
}

impl TryFrom<char> for Separator {
    type Error = SrsError;

    fn try_from(c: char) -> Result<Self, SrsError> {
        match c {
            '=' => Ok(Separator::Equals),
            '+' => Ok(Separator::Plus),
            '-' => Ok(Separator::Minus),
            other => Err(SrsError::InvalidSeparator(other)),
        }
    }
}

impl FromStr for Separator {
    type Err = SrsError;

    fn from_str(s: &str) -> Result<Self, SrsError> {
        let mut chars = s.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => Separator::try_from(c),
            (Some(c), Some(_)) => Err(SrsError::InvalidSeparator(c)),
            (None, _) => Err(SrsError::InvalidSeparator('\0')),
        }
    }
}

impl fmt::Display for Separator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.as_char())
    }
}

/// The base64 alphabet of newly generated hashes.
///
/// Reverse always accepts both: `+`≡`-` and `/`≡`_`, letters case-insensitively.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum HashEncoding {
    /// RFC 4648 §5 base64url (`-`, `_`), as postsrsd ≥ 2.2.6 writes (postsrsd#189).
    #[default]
    Base64Url,
    /// RFC 4648 §4 base64 (`+`, `/`), as libsrs2, Mail::SRS and postsrsd ≤ 2.2.5 (and 1.x)
    /// write. Choose this when an older implementation must verify our addresses.
    Base64,
}

/// The source of "today" for timestamps, in days since 1970-01-01 UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Clock {
    /// The system clock.
    #[default]
    System,
    /// A fixed day number (days since the Unix epoch), for tests and reproducible output.
    FixedDay(u64),
}

impl Clock {
    /// A fixed clock at the day that contains `unix_seconds` (as libsrs2's `faketime`).
    pub fn fixed_unix(unix_seconds: u64) -> Self {
        Clock::FixedDay(unix_seconds / 86_400)
    }

    /// Today, in days since the Unix epoch (0 if the system clock is before 1970).
    pub fn today(&self) -> u64 {
        match self {
            Clock::System => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs() / 86_400)
                .unwrap_or(0),
            Clock::FixedDay(day) => *day,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separator_parsing() {
        assert_eq!("=".parse::<Separator>(), Ok(Separator::Equals));
        assert_eq!("+".parse::<Separator>(), Ok(Separator::Plus));
        assert_eq!("-".parse::<Separator>(), Ok(Separator::Minus));
        assert!("".parse::<Separator>().is_err());
        assert!("==".parse::<Separator>().is_err());
        assert_eq!(
            Separator::try_from('#'),
            Err(SrsError::InvalidSeparator('#'))
        );
        assert_eq!(Separator::Plus.to_string(), "+");
    }

    #[test]
    fn fixed_unix_clock() {
        assert_eq!(Clock::fixed_unix(1_577_836_860).today(), 18_262);
        assert!(Clock::System.today() > 19_000);
    }
}
