//! Key tooling for the CLI: generate a key pair with its DNS record, and check a published
//! record against a private key, like opendkim-genkey and opendkim-testkey (RFC 6376 §3.6).

use base64::Engine;
use crypto::{KeyType, SigningKey};
use dns::{DnsError, Resolver};

use crate::error::DkimError;
use crate::record::{KeyRecord, refused_by_major_verifiers};
use crate::result::Reason;
use crate::verify::key_name;

/// Longest character-string in a TXT record (RFC 1035 §3.3).
const TXT_STRING_MAX: usize = 255;

/// Which key to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlgorithm {
    /// RSA with this many bits (2048–4096; 2048 is the usual choice, RFC 8301 §3.2).
    Rsa {
        /// Modulus size.
        bits: u32,
    },
    /// Ed25519 (RFC 8463).
    Ed25519,
}

impl Default for KeyAlgorithm {
    fn default() -> Self {
        KeyAlgorithm::Rsa { bits: 2048 }
    }
}

/// A generated key: the private key PEM and its DNS record.
#[derive(Debug)]
pub struct GeneratedKey {
    /// PKCS#8 PEM; the caller writes it with mode 0600.
    pub private_key_pem: String,
    /// The record to publish at `<selector>._domainkey.<domain>`.
    pub record: DnsKeyRecord,
    /// The key, loaded for signing.
    pub signing_key: Box<dyn SigningKey>,
}

/// Generates a key pair (RSA via the `rsa` crate, generation only; Ed25519 via ring).
pub fn generate_key(algorithm: KeyAlgorithm) -> Result<GeneratedKey, DkimError> {
    let g = match algorithm {
        KeyAlgorithm::Rsa { bits } => crypto::keygen::generate_rsa(bits)?,
        KeyAlgorithm::Ed25519 => crypto::keygen::generate_ed25519()?,
    };
    let record = DnsKeyRecord::for_key(&*g.signing_key);
    Ok(GeneratedKey {
        private_key_pem: g.private_key_pem,
        record,
        signing_key: g.signing_key,
    })
}

/// The public half of a key as a DKIM key record (RFC 6376 §3.6.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsKeyRecord {
    /// `k=`.
    pub key_type: KeyType,
    /// `p=` bytes (SPKI DER for RSA, 32 raw bytes for Ed25519).
    pub public_key: Vec<u8>,
    /// Add `t=y` (testing).
    pub testing: bool,
}

impl DnsKeyRecord {
    /// The record for `key`'s public half.
    pub fn for_key(key: &dyn SigningKey) -> Self {
        DnsKeyRecord {
            key_type: key.key_type(),
            public_key: key.public_key_dns(),
            testing: false,
        }
    }

    /// One line, `v=DKIM1; k=rsa; p=...` (RFC 6376 §3.6.1).
    pub fn text(&self) -> String {
        let k = match self.key_type {
            KeyType::Rsa => "rsa",
            KeyType::Ed25519 => "ed25519",
        };
        let t = if self.testing { " t=y;" } else { "" };
        let p = base64::engine::general_purpose::STANDARD.encode(&self.public_key);
        format!("v=DKIM1; k={k};{t} p={p}")
    }

    /// The text split into character-strings of at most 255 bytes (RFC 1035 §3.3.14; joined
    /// again by verifiers, RFC 6376 §3.6.2.2).
    pub fn txt_strings(&self) -> Vec<String> {
        self.text()
            .as_bytes()
            .chunks(TXT_STRING_MAX)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect()
    }

    /// A zone-file entry: `sel._domainkey.example.com. IN TXT ( "..." "..." )`.
    pub fn zone_entry(&self, selector: &str, domain: &str) -> String {
        let strings: Vec<String> = self
            .txt_strings()
            .iter()
            .map(|s| format!("\"{s}\""))
            .collect();
        format!(
            "{}. IN TXT ( {} )",
            key_name(selector, domain),
            strings.join("\n\t")
        )
    }
}

/// The outcome of checking a published key against a private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestKeyOutcome {
    /// The record's public key is the private key's public half.
    Match {
        /// The record has `t=y`.
        testing: bool,
    },
    /// A record exists but holds another key.
    Mismatch,
    /// No TXT record at the name (NXDOMAIN or NODATA).
    NoRecord,
    /// The record has an empty `p=` (RFC 6376 §3.6.1).
    Revoked,
    /// The record holds the key, but restricts it so that our signatures (rsa-sha256 or
    /// ed25519-sha256, no `i=`) cannot verify: `h=` without sha256, `s=` without email
    /// (RFC 6376 §3.6.1). Verifiers give `permerror` for every signature.
    Unusable {
        /// `t=y` is set as well.
        testing: bool,
        /// Why verifiers refuse the key ([`Reason::HashNotAllowed`], [`Reason::ServiceNotEmail`],
        /// or what a major verifier refuses: [`Reason::KeyTypeCase`], [`Reason::RsaKeyNotSpki`]).
        reason: Reason,
    },
    /// Several TXT records at the name (RFC 6376 §3.6.2.2: "the results are undefined";
    /// libopendkim refuses them all, other verifiers pick any one).
    SeveralRecords {
        /// How many.
        count: usize,
        /// One of them holds the key, usable for our signatures.
        holds_key: bool,
    },
    /// The record does not parse or has the wrong key type.
    Invalid(String),
    /// The lookup failed temporarily.
    DnsError(DnsError),
}

/// Fetches `<selector>._domainkey.<domain>` and compares it with `key` (opendkim-testkey), and
/// checks that the record lets verifiers accept our signatures with it (`h=`, `s=`); several
/// records at the name are [`TestKeyOutcome::SeveralRecords`] (RFC 6376 §3.6.2.2).
pub async fn test_key<R: Resolver + ?Sized>(
    resolver: &R,
    selector: &str,
    domain: &str,
    key: &dyn SigningKey,
) -> TestKeyOutcome {
    let name = key_name(selector, domain);
    let records = match resolver.txt(&name).await {
        Ok(r) => r,
        Err(e) if e.is_not_found() => return TestKeyOutcome::NoRecord,
        Err(DnsError::InvalidName(_)) => return TestKeyOutcome::NoRecord,
        Err(e) => return TestKeyOutcome::DnsError(e),
    };
    let outcome = compare_records(&records, domain, key);
    if records.len() > 1 {
        return TestKeyOutcome::SeveralRecords {
            count: records.len(),
            holds_key: matches!(outcome, TestKeyOutcome::Match { .. }),
        };
    }
    outcome
}

/// The outcome for the TXT records at the key name: a record holding `key` if any, else what
/// the last one was.
fn compare_records(records: &[Vec<u8>], domain: &str, key: &dyn SigningKey) -> TestKeyOutcome {
    let mut last = TestKeyOutcome::NoRecord;
    for txt in records {
        match KeyRecord::parse(txt) {
            Ok(r) if r.is_revoked() => last = TestKeyOutcome::Revoked,
            Ok(r) if r.key_type != key.key_type() => {
                last = TestKeyOutcome::Invalid("key type does not match".into());
            }
            Ok(r) => {
                if same_public_key(key.key_type(), &r.public_key, &key.public_key_dns()) {
                    let usable = r
                        .check_usable(signing_algorithm(key.key_type()), None, domain)
                        .and_then(|()| match refused_by_major_verifiers(txt, &r) {
                            Some(reason) => Err(reason),
                            None => Ok(()),
                        });
                    return match usable {
                        Ok(()) => TestKeyOutcome::Match { testing: r.testing },
                        Err(reason) => TestKeyOutcome::Unusable {
                            testing: r.testing,
                            reason,
                        },
                    };
                }
                last = if is_spki_of(key.key_type(), &r.public_key, &key.public_key_dns()) {
                    TestKeyOutcome::Invalid(
                        "p= is this key's 44-byte SubjectPublicKeyInfo, not the raw 32-byte Ed25519 key RFC 8463 §4.2 asks for (verifiers cannot use it): publish the record as `authmilter dkim genkey` prints it".into(),
                    )
                } else {
                    TestKeyOutcome::Mismatch
                };
            }
            Err(Reason::KeySyntax(s)) => last = TestKeyOutcome::Invalid(s),
            Err(other) => last = TestKeyOutcome::Invalid(other.to_string()),
        }
    }
    last
}

/// The algorithm we sign with for a key type (never rsa-sha1, RFC 8301 §3.1).
fn signing_algorithm(kt: KeyType) -> crate::signature::Algorithm {
    match kt {
        KeyType::Rsa => crate::signature::Algorithm::RsaSha256,
        KeyType::Ed25519 => crate::signature::Algorithm::Ed25519Sha256,
    }
}

/// Whether an Ed25519 `p=` is `ours` wrapped in a SubjectPublicKeyInfo (RFC 8410 §4: a
/// 12-byte header, then the 32-byte key), as `openssl pkey -pubout` writes it.
fn is_spki_of(kt: KeyType, published: &[u8], ours: &[u8]) -> bool {
    const ED25519_SPKI_HEADER: [u8; 12] = [
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    kt == KeyType::Ed25519
        && published
            .strip_prefix(&ED25519_SPKI_HEADER[..])
            .is_some_and(|key| key == ours)
}

/// Compares public keys, accepting SPKI or bare RSAPublicKey on either side for RSA.
fn same_public_key(kt: KeyType, published: &[u8], ours: &[u8]) -> bool {
    match kt {
        KeyType::Ed25519 => published == ours,
        KeyType::Rsa => {
            let a = crypto::rsa_public_key_from_spki(published);
            let b = crypto::rsa_public_key_from_spki(ours);
            a.is_some() && a == b
        }
    }
}
