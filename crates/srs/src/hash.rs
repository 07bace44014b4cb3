//! The SRS hash and timestamp (SRS paper §4.2, §4.3; libsrs2 `srs_hash_*`, `srs_timestamp_*`).

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};

use crate::{HashEncoding, Malformed, Secrets, SrsError, TIMESTAMP_SLOTS};

/// The base32 alphabet of SRS timestamps (libsrs2 `SRS_TIME_BASECHARS`).
const TIME_CHARS: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// The two-character timestamp of `day` (days since the epoch), high digit first.
pub(crate) fn timestamp(day: u64) -> [u8; 2] {
    let slot = day % TIMESTAMP_SLOTS;
    [time_char(slot >> 5), time_char(slot)]
}

/// One base32 timestamp character for the low five bits of `v`.
fn time_char(v: u64) -> u8 {
    let index = usize::try_from(v & 0x1f).unwrap_or(0);
    TIME_CHARS.get(index).copied().unwrap_or(b'A')
}

/// Checks an SRS0 timestamp against `today`: valid if it is at most `max_age` days old,
/// counting modulo the 1024-day period (a "future" stamp is therefore ~1023 days old).
pub(crate) fn check_timestamp(stamp: &[u8], today: u64, max_age: u32) -> Result<(), SrsError> {
    let [hi, lo] = stamp else {
        return Err(SrsError::Expired);
    };
    let then = u64::from(time_value(*hi)?) << 5 | u64::from(time_value(*lo)?);
    let now = today % TIMESTAMP_SLOTS;
    let age = (now + TIMESTAMP_SLOTS - then) % TIMESTAMP_SLOTS;
    if age <= u64::from(max_age) {
        Ok(())
    } else {
        Err(SrsError::Expired)
    }
}

/// The value of one timestamp character, case-insensitively.
fn time_value(c: u8) -> Result<u8, SrsError> {
    let upper = c.to_ascii_uppercase();
    TIME_CHARS
        .iter()
        .position(|&t| t == upper)
        .and_then(|p| u8::try_from(p).ok())
        .ok_or(SrsError::Malformed(Malformed::BadTimestampChar))
}

/// The full (27-character) hash of `fields` under `key`: base64 of
/// HMAC-SHA1(key, lowercase(field1 ‖ field2 ‖ ...)), ASCII letters lower-cased only.
fn full_hash(key: &[u8], fields: &[&[u8]], encoding: HashEncoding) -> String {
    let len = fields
        .iter()
        .fold(0usize, |acc, f| acc.saturating_add(f.len()));
    let mut data = Vec::with_capacity(len);
    for field in fields {
        data.extend(field.iter().map(u8::to_ascii_lowercase));
    }
    let mac = crypto::default_provider().hmac_sha1(key, &data);
    match encoding {
        HashEncoding::Base64Url => URL_SAFE_NO_PAD.encode(mac),
        HashEncoding::Base64 => STANDARD_NO_PAD.encode(mac),
    }
}

/// The hash for a new address, signed with the first secret and cut to `length` characters.
pub(crate) fn create(
    secrets: &Secrets,
    fields: &[&[u8]],
    length: usize,
    encoding: HashEncoding,
) -> String {
    let mut hash = full_hash(secrets.signing(), fields, encoding);
    hash.truncate(length);
    hash
}

/// Checks `given` against every secret: at least `minimum` characters, compared on at most
/// `length` characters, ASCII case-insensitively, with `+`≡`-` and `/`≡`_`.
pub(crate) fn check(
    secrets: &Secrets,
    given: &[u8],
    fields: &[&[u8]],
    length: usize,
    minimum: usize,
) -> Result<(), SrsError> {
    if given.len() < minimum {
        return Err(SrsError::HashTooShort);
    }
    let given = given.get(..length).unwrap_or(given);
    for key in secrets.all() {
        let expected = full_hash(key, fields, HashEncoding::Base64Url);
        let expected = expected.as_bytes().get(..given.len()).unwrap_or_default();
        if hash_eq(given, expected) {
            return Ok(());
        }
    }
    Err(SrsError::BadHash)
}

/// Equality of two hash strings, ignoring ASCII case and the base64/base64url difference,
/// in time independent of where they differ (postsrsd `base64_equivalent`).
fn hash_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a
        .iter()
        .zip(b)
        .fold(0u8, |acc, (&x, &y)| acc | (fold(x) ^ fold(y)));
    std::hint::black_box(diff) == 0
}

/// Folds one hash character by table lookup (no data-dependent branch): ASCII lower case,
/// and the base64 `+` `/` onto base64url `-` `_`.
fn fold(c: u8) -> u8 {
    // a u8 always indexes a 256-entry table; `get` keeps the no-indexing rule
    FOLD.get(usize::from(c)).copied().unwrap_or(c)
}

/// The [`fold`] table.
const FOLD: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        #[allow(clippy::cast_possible_truncation)]
        let c = i as u8;
        t[i] = match c {
            b'+' => b'-',
            b'/' => b'_',
            other => other.to_ascii_lowercase(),
        };
        i += 1;
    }
    t
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        // 2020-01-01 is day 18262; 18262 % 1024 = 854 = 26 * 32 + 22 -> "2W".
        assert_eq!(&timestamp(18_262), b"2W");
        assert_eq!(&timestamp(0), b"AA");
        assert_eq!(&timestamp(1023), b"77");
        assert_eq!(&timestamp(1024), b"AA");
    }

    #[test]
    fn timestamp_age_and_wrap() {
        let today = 18_262;
        assert!(check_timestamp(b"2W", today, 21).is_ok());
        assert!(check_timestamp(b"2w", today, 21).is_ok());
        assert!(check_timestamp(&timestamp(today - 21), today, 21).is_ok());
        assert_eq!(
            check_timestamp(&timestamp(today - 22), today, 21),
            Err(SrsError::Expired)
        );
        // Tomorrow is 1023 days old modulo the period.
        assert_eq!(
            check_timestamp(&timestamp(today + 1), today, 21),
            Err(SrsError::Expired)
        );
        // Wrap: stamps from just before a period boundary stay valid after it.
        assert!(check_timestamp(&timestamp(2046), 2048, 21).is_ok());
        assert!(check_timestamp(b"77", 1024 * 5 + 3, 21).is_ok());
        assert_eq!(
            check_timestamp(b"1A", today, 21),
            Err(SrsError::Malformed(Malformed::BadTimestampChar))
        );
        assert_eq!(check_timestamp(b"2WX", today, 21), Err(SrsError::Expired));
        assert_eq!(check_timestamp(b"", today, 21), Err(SrsError::Expired));
    }

    #[test]
    fn hash_folding() {
        assert!(hash_eq(b"-3_5", b"+3/5"));
        assert!(hash_eq(b"XJO9", b"xjo9"));
        assert!(!hash_eq(b"abcd", b"abc"));
        assert!(!hash_eq(b"a+cd", b"a/cd"));
        for c in 0..=255u8 {
            let want = match c {
                b'+' => b'-',
                b'/' => b'_',
                other => other.to_ascii_lowercase(),
            };
            assert_eq!(fold(c), want, "{c}");
        }
    }
}
