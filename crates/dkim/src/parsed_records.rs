//! DKIM key records (RFC 6376 §3.6.1) parsed once and kept by their text.
//!
//! A mail stream meets the same few key records over and over (the DNS answers are cached),
//! and parsing one (the tag list, the base64 of `p=`) cost ~7,600 instructions a verified
//! message, as much as all of SPF. Parsing is a pure function of the record's text, so the
//! results are kept by that text, at most [`CAPACITY`] of them (the oldest goes first) and
//! only for texts up to [`MAX_KEPT_LEN`] bytes: a stream of distinct or huge records costs
//! what it did before and no more memory than that bound (~1 MB).

use std::collections::{HashMap, VecDeque};
use std::sync::{LazyLock, Mutex, MutexGuard};

use crate::record::KeyRecord;
use crate::result::Reason;

/// Parse results kept.
pub(crate) const CAPACITY: usize = 256;

/// Longest record text kept: an RSA-8192 key record is ~1,450 bytes; longer texts (a hostile
/// answer of many joined strings) are parsed each time.
pub(crate) const MAX_KEPT_LEN: usize = 2048;

/// The parse results, by record text.
#[derive(Default)]
struct KeptRecords {
    /// Keyed per process at random (foldhash): the records come from DNS, so from anyone.
    map: HashMap<Box<[u8]>, Result<KeyRecord, Reason>, foldhash::fast::RandomState>,
    order: VecDeque<Box<[u8]>>,
}

static KEPT: LazyLock<Mutex<KeptRecords>> = LazyLock::new(Mutex::default);

fn lock() -> MutexGuard<'static, KeptRecords> {
    // a panic while holding the lock leaves a consistent map: keep using it
    KEPT.lock().unwrap_or_else(|e| e.into_inner())
}

/// [`KeyRecord::parse`] of `txt` (RFC 6376 §3.6.1), from the kept results when `txt` was
/// parsed before.
pub(crate) fn parse_kept(txt: &[u8]) -> Result<KeyRecord, Reason> {
    if txt.len() > MAX_KEPT_LEN {
        return KeyRecord::parse(txt);
    }
    if let Some(hit) = lock().map.get(txt) {
        return hit.clone();
    }
    // parse outside the lock; two threads may parse the same new record once each
    let parsed = KeyRecord::parse(txt);
    let mut kept = lock();
    if !kept.map.contains_key(txt) {
        if kept.order.len() >= CAPACITY
            && let Some(oldest) = kept.order.pop_front()
        {
            kept.map.remove(&oldest);
        }
        kept.order.push_back(txt.into());
        kept.map.insert(txt.into(), parsed.clone());
    }
    parsed
}

/// Results kept now (tests).
#[cfg(test)]
fn kept_len() -> usize {
    lock().map.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A kept result is the fresh parse's, for records that parse and records that do not,
    /// asked for again and again; a text over the length bound is parsed but not kept; the
    /// number kept stays at the bound however many distinct records come, the oldest going
    /// first. (One test: the kept results are one per process.)
    #[test]
    fn kept_results_equal_fresh_parses_and_stay_bounded() {
        let records: [&[u8]; 6] = [
            b"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
            b"v=DKIM1; k=rsa; t=y:s; h=sha256; s=email; p=AAAA",
            b"k=rsa; t=y; p=",
            b"v=DKIM3; p=AAAA",
            b"k=foobar; p=AAAA",
            b"v=DKIM1; k=rsa",
        ];
        for _ in 0..3 {
            for r in records {
                assert_eq!(parse_kept(r), KeyRecord::parse(r), "{:?}", lossy(r));
            }
        }
        assert!(kept_len() >= records.len());
        let long = [b"v=DKIM1; p=".as_slice(), &[b'A'; MAX_KEPT_LEN]].concat();
        let before = kept_len();
        assert_eq!(parse_kept(&long), KeyRecord::parse(&long));
        assert_eq!(kept_len(), before, "a text over the bound is not kept");
        for i in 0..CAPACITY + 10 {
            let r = format!(
                "v=DKIM1; k=ed25519; n={i}; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
            );
            assert_eq!(parse_kept(r.as_bytes()), KeyRecord::parse(r.as_bytes()));
            assert!(kept_len() <= CAPACITY);
        }
        assert_eq!(kept_len(), CAPACITY);
        // the first records were evicted: parsed again, the same answers
        for r in records {
            assert_eq!(parse_kept(r), KeyRecord::parse(r));
        }
    }

    fn lossy(b: &[u8]) -> String {
        String::from_utf8_lossy(b).into_owned()
    }
}
