//! The checks every DKIM-style signature goes through once its key record has been fetched:
//! pick a usable key (RFC 6376 §6.1.2, RFC 8301 §3.2 sizes, RFC 8463 §4.2 Ed25519 keys) and
//! verify the header signature (RFC 6376 §6.1.3). Shared by DKIM verification and ARC
//! (RFC 8617 §5.2 imports them).

use crypto::{CryptoError, CryptoProvider, SigAlg};
use dns::DnsError;

use crate::key_lookups::KeyAnswer;
use crate::record::KeyRecord;
use crate::result::{DkimResult, Reason};
use crate::signature::Algorithm;

/// A key record that may verify a signature, with its size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsableKey {
    /// The parsed record (RFC 6376 §3.6.1).
    pub record: KeyRecord,
    /// RSA modulus size, or 256 for Ed25519.
    pub bits: u32,
}

/// Why no usable key was found, and what is known about the record anyway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRejection {
    /// The DKIM result this gives (RFC 6376 §6.1.2 PERMFAIL/TEMPFAIL, RFC 8601 names).
    pub result: DkimResult,
    /// Why.
    pub reason: Reason,
    /// The record had `t=y`.
    pub testing: bool,
    /// The key size when the key was parsed.
    pub bits: Option<u32>,
}

/// Most usable key records one signature is tried with (RFC 6376 §6.1.2 step 4 lets a
/// verifier cycle through the records at a key name; this bounds the work per signature).
pub const MAX_KEY_RECORDS: usize = 4;

/// Most TXT records examined at one key name: a hostile answer may hold thousands (a 64 KB
/// message), each parsed again for every signature and ARC set that names the key.
pub const MAX_RECORDS_EXAMINED: usize = 16;

/// The keys at a key name that may verify a signature, and what the first record says
/// (RFC 6376 §6.1.2 steps 4–8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyCandidates {
    /// The usable keys in DNS order, at most [`MAX_KEY_RECORDS`].
    pub keys: Vec<UsableKey>,
    /// Why there is no key, or why the first record that parses (none parsing: the first
    /// record) is unusable: the answer when no key verifies. `None` when that record is the
    /// first of `keys`; then that key's failure is the answer.
    pub rejection: Option<KeyRejection>,
}

impl KeyCandidates {
    fn rejected(rejection: KeyRejection) -> Self {
        KeyCandidates {
            keys: Vec::new(),
            rejection: Some(rejection),
        }
    }
}

/// The keys a signature may be verified with, from the TXT lookup `answer` (RFC 6376
/// §6.1.2): every record that parses and is usable for `algorithm`, identity domain
/// `i_domain` and `d_domain`, with an RSA key of 1024–8192 bits (RFC 8301 §3.2) that the
/// backends can use (odd modulus, odd exponent from 3 to below 2^33, RFC 8017 §3.1) or a raw
/// 32-byte Ed25519 key (RFC 8463 §4.2) that is no point of small order. Several records at
/// the name are undefined (§3.6.2.2) and step 4 lets a verifier "cycle through the key
/// records": each usable one is tried, so the result does not depend on the order of the DNS
/// answer; when none verifies the first record's answer stands, as if only it had been
/// chosen. `None` means the lookup was never answered.
pub fn key_candidates(
    answer: Option<&KeyAnswer>,
    algorithm: Algorithm,
    i_domain: Option<&str>,
    d_domain: &str,
) -> KeyCandidates {
    let records = match answer {
        None => {
            return KeyCandidates::rejected(KeyRejection {
                result: DkimResult::TempError,
                reason: Reason::KeyNotFetched,
                testing: false,
                bits: None,
            });
        }
        Some(Err(e)) => {
            let (result, reason) = match e {
                DnsError::NxDomain | DnsError::NoData => {
                    (DkimResult::PermError, Reason::NoKeyRecord)
                }
                DnsError::InvalidName(_) => (DkimResult::PermError, Reason::NoKeyRecord),
                DnsError::Timeout => (DkimResult::TempError, Reason::DnsTimeout),
                other => (DkimResult::TempError, Reason::DnsFailure(other.to_string())),
            };
            return KeyCandidates::rejected(KeyRejection {
                result,
                reason,
                testing: false,
                bits: None,
            });
        }
        Some(Ok(records)) => records,
    };
    let mut keys = Vec::new();
    let mut first_parsed: Option<Result<(), KeyRejection>> = None;
    let mut first_syntax_error = None;
    for txt in records.iter().take(MAX_RECORDS_EXAMINED) {
        if keys.len() >= MAX_KEY_RECORDS {
            break;
        }
        // the same few records come again and again: parsed once, kept by their text
        let record = match crate::parsed_records::parse_kept(txt) {
            Ok(r) => r,
            Err(e) => {
                first_syntax_error.get_or_insert(e);
                continue;
            }
        };
        match usable(record, algorithm, i_domain, d_domain) {
            Ok(key) => {
                first_parsed.get_or_insert(Ok(()));
                keys.push(key);
            }
            Err(rejection) => {
                first_parsed.get_or_insert(Err(rejection));
            }
        }
    }
    let rejection = match first_parsed {
        Some(Ok(())) => None,
        Some(Err(rejection)) => Some(rejection),
        None => Some(KeyRejection {
            result: DkimResult::PermError,
            reason: first_syntax_error.unwrap_or(Reason::NoKeyRecord),
            testing: false,
            bits: None,
        }),
    };
    KeyCandidates { keys, rejection }
}

/// One parsed record as a key for `algorithm` (RFC 6376 §6.1.2 steps 5–8, RFC 8301 §3.2,
/// RFC 8463 §4.2).
fn usable(
    record: KeyRecord,
    algorithm: Algorithm,
    i_domain: Option<&str>,
    d_domain: &str,
) -> Result<UsableKey, KeyRejection> {
    let reject = |result, reason, testing, bits| KeyRejection {
        result,
        reason,
        testing,
        bits,
    };
    let testing = record.testing;
    if let Err(reason) = record.check_usable(algorithm, i_domain, d_domain) {
        return Err(reject(DkimResult::PermError, reason, testing, None));
    }
    let bits = if algorithm.key_type() == crypto::KeyType::Rsa {
        // RFC 6376 §6.1.2 step 8, RFC 8301 §3.2: a key no backend can use is permerror,
        // before any crypto runs
        match crypto::rsa_verify_key_bits(&record.public_key) {
            Ok(bits) => bits,
            Err(CryptoError::KeyTooSmall { bits }) => {
                return Err(reject(
                    DkimResult::Policy,
                    Reason::KeyTooSmall { bits },
                    testing,
                    Some(bits),
                ));
            }
            Err(CryptoError::KeyTooLarge { bits }) => {
                return Err(reject(
                    DkimResult::PermError,
                    Reason::KeyTooLarge { bits },
                    testing,
                    Some(bits),
                ));
            }
            Err(_) => {
                return Err(reject(
                    DkimResult::PermError,
                    Reason::InvalidPublicKey,
                    testing,
                    None,
                ));
            }
        }
    } else {
        if crypto::ed25519_verify_key_check(&record.public_key).is_err() {
            // RFC 8463 §4.2: the raw 32-byte public key, not SPKI, and no point of small order
            return Err(reject(
                DkimResult::PermError,
                Reason::InvalidPublicKey,
                testing,
                Some(256),
            ));
        }
        256
    };
    Ok(UsableKey { record, bits })
}

/// Verifies `signature` over the header hash input `header_data` (RFC 6376 §3.7, §6.1.3) with
/// `public_key` as published in `p=`. Ed25519 signs the SHA-256 digest of the data
/// (RFC 8463 §3); rsa-sha1 is verified only because the caller chose to (RFC 8301 §3.1).
pub fn verify_header_signature(
    crypto: &dyn CryptoProvider,
    algorithm: Algorithm,
    public_key: &[u8],
    header_data: &[u8],
    signature: &[u8],
) -> Result<(), (DkimResult, Reason)> {
    let verified = match algorithm {
        Algorithm::Ed25519Sha256 => {
            let digest = crypto.sha256(header_data);
            crypto.verify(SigAlg::Ed25519, public_key, &digest, signature)
        }
        Algorithm::RsaSha256 => {
            crypto.verify(SigAlg::RsaSha256, public_key, header_data, signature)
        }
        Algorithm::RsaSha1 => {
            crypto.verify(SigAlg::RsaSha1Legacy, public_key, header_data, signature)
        }
    };
    match verified {
        Ok(_) => Ok(()),
        Err(CryptoError::BadSignature) => Err((DkimResult::Fail, Reason::SignatureMismatch)),
        Err(CryptoError::KeyTooSmall { bits }) => {
            Err((DkimResult::Policy, Reason::KeyTooSmall { bits }))
        }
        Err(CryptoError::KeyTooLarge { bits }) => {
            Err((DkimResult::PermError, Reason::KeyTooLarge { bits }))
        }
        Err(_) => Err((DkimResult::PermError, Reason::InvalidPublicKey)),
    }
}
