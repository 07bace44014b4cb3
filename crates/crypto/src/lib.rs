//! The crypto authmilter needs (SHA-256, RSA and Ed25519 signatures, HMAC-SHA1, randomness,
//! key generation), behind a small surface so that no other crate names backend types.
//!
//! - [`CryptoProvider`] is the trait DKIM, ARC and SRS call: hashing, signature verification
//!   with the RFC 8301 key-size rules, signing-key loading, HMAC, randomness, RSA generation.
//! - Two backends implement it, chosen by cargo feature: [`AwsLcProvider`] (`aws-lc`, the
//!   default: its RSA is about twice as fast here, docs/PERFORMANCE.md) and `RingProvider`
//!   (`ring`). With both compiled in (benchmarks), aws-lc-rs is the default.
//! - [`default_provider`] returns the process-wide provider; the free functions [`sha256`],
//!   [`hmac_sha1`] and [`random_bytes`] go through it.
//! - [`keygen`] makes new key pairs for `dkim genkey` (Ed25519 as PKCS#8 v1, RFC 8410; RSA
//!   through the backend, which only aws-lc-rs can do).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(not(any(feature = "aws-lc", feature = "ring")))]
compile_error!("the crypto crate needs a backend: enable feature `aws-lc` (default) or `ring`");

#[cfg(feature = "aws-lc")]
mod aws_lc_impl;
mod der;
#[doc(hidden)]
pub mod fuzzing;
pub mod keygen;
mod keyload;
#[cfg(feature = "aws-lc")]
mod parsed_keys;
mod ring_api;
#[cfg(feature = "ring")]
mod ring_impl;

#[cfg(feature = "aws-lc")]
pub use aws_lc_impl::AwsLcProvider;
pub use der::{rsa_modulus_bits, rsa_public_key_from_spki, spki_from_rsa_public_key};
#[cfg(feature = "ring")]
pub use ring_impl::RingProvider;

/// Smallest RSA key a verifier may accept (RFC 8301 §3.2).
pub const MIN_RSA_VERIFY_BITS: u32 = 1024;
/// Largest RSA key we verify (ring's upper bound; RFC 8301 §3.2 requires up to 4096).
pub const MAX_RSA_VERIFY_BITS: u32 = 8192;
/// Smallest RSA key we sign with (RFC 8301 §3.2 "SHOULD use RSA keys of at least 2048 bits").
pub const MIN_RSA_SIGN_BITS: u32 = 2048;

/// Errors from key handling and signature checks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// The system random number generator failed.
    #[error("random number generator failed")]
    Random,
    /// The signature does not verify under the given key.
    #[error("signature did not verify")]
    BadSignature,
    /// The public key bytes could not be parsed for the algorithm.
    #[error("invalid public key: {0}")]
    InvalidPublicKey(&'static str),
    /// The RSA key is shorter than RFC 8301 §3.2 allows for verifying (or we allow for signing).
    #[error("RSA key too small: {bits} bits")]
    KeyTooSmall {
        /// Modulus size of the offending key.
        bits: u32,
    },
    /// The RSA key is longer than we accept (8192 bits to verify, 4096 to sign).
    #[error("RSA key too large: {bits} bits")]
    KeyTooLarge {
        /// Modulus size of the offending key.
        bits: u32,
    },
    /// The private key could not be read (not PEM/DER PKCS#1 or PKCS#8, unsupported type).
    #[error("invalid private key: {0}")]
    InvalidPrivateKey(String),
    /// Signing failed inside the backend.
    #[error("signing failed")]
    SigningFailed,
    /// Key generation failed.
    #[error("key generation failed: {0}")]
    KeyGeneration(String),
}

/// A public-key signature algorithm as DKIM names it (RFC 6376 §3.3, RFC 8463 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SigAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (RFC 6376 §3.3.2); `data` is the message, hashed inside.
    RsaSha256,
    /// RSASSA-PKCS1-v1_5 with SHA-1 (RFC 6376 §3.3.1). Historic (RFC 8301 §3.1): verify only,
    /// and only when the caller explicitly runs in a legacy mode.
    RsaSha1Legacy,
    /// Ed25519 (RFC 8032 PureEdDSA). For DKIM `ed25519-sha256` the caller passes the SHA-256
    /// digest of the header data as `data` (RFC 8463 §3).
    Ed25519,
}

/// The kind of a key (RFC 6376 §3.6.1 `k=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// RSA (`k=rsa`).
    Rsa,
    /// Ed25519 (`k=ed25519`, RFC 8463 §4).
    Ed25519,
}

/// A digest algorithm for body and header hashes (RFC 6376 §3.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlg {
    /// SHA-256 (RFC 6376 §3.3.2).
    Sha256,
    /// SHA-1, only for legacy rsa-sha1 verification (RFC 8301 §3.1 forbids it otherwise).
    Sha1Legacy,
}

/// What a successful verification learned about the public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifiedKey {
    /// Key type that verified.
    pub key_type: KeyType,
    /// Key size in bits (RSA modulus size; 256 for Ed25519).
    pub bits: u32,
}

/// A streaming hash: feed with [`Hasher::update`], read with [`Hasher::finish`].
pub trait Hasher: Send {
    /// Adds `data` to the hash.
    fn update(&mut self, data: &[u8]);
    /// Finishes and returns the digest (32 bytes for SHA-256, 20 for SHA-1).
    fn finish(self: Box<Self>) -> Vec<u8>;
}

/// A private key loaded for signing (RFC 6376 §5).
pub trait SigningKey: Send + Sync + std::fmt::Debug {
    /// RSA or Ed25519.
    fn key_type(&self) -> KeyType;
    /// Key size in bits (RSA modulus size; 256 for Ed25519).
    fn bits(&self) -> u32;
    /// Signs `data`: RSA hashes it with SHA-256 (PKCS#1 v1.5, deterministic); Ed25519 signs
    /// `data` as given (DKIM passes the SHA-256 digest of the header data, RFC 8463 §3).
    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, CryptoError>;
    /// The public key as DKIM publishes it in `p=` (RFC 6376 §3.6.1, RFC 8463 §4.2):
    /// SubjectPublicKeyInfo DER for RSA, the raw 32 bytes for Ed25519.
    fn public_key_dns(&self) -> Vec<u8>;
}

/// The crypto operations DKIM, ARC and SRS need, behind one dyn-compatible trait.
pub trait CryptoProvider: Send + Sync + 'static {
    /// The backend's name, for logs and benchmark labels.
    fn name(&self) -> &'static str;
    /// A new streaming hasher.
    fn hasher(&self, alg: HashAlg) -> Box<dyn Hasher>;
    /// SHA-256 of `data` in one call (FIPS 180-4).
    fn sha256(&self, data: &[u8]) -> [u8; 32];
    /// Verifies `sig` over `data` with `public_key` as found in a DKIM `p=` (SPKI or bare
    /// RSAPublicKey for RSA, 32 raw bytes for Ed25519). RSA keys must be 1024–8192 bits
    /// (RFC 8301 §3.2); a smaller key gives [`CryptoError::KeyTooSmall`] with its size.
    fn verify(
        &self,
        alg: SigAlg,
        public_key: &[u8],
        data: &[u8],
        sig: &[u8],
    ) -> Result<VerifiedKey, CryptoError>;
    /// Loads a private key from PEM (`BEGIN RSA PRIVATE KEY` / `BEGIN PRIVATE KEY`) or DER
    /// (PKCS#1 or PKCS#8 v1/v2). RSA keys must be 2048–4096 bits (RFC 8301 §3.2 SHOULD).
    fn signing_key(&self, pem_or_der: &[u8]) -> Result<Box<dyn SigningKey>, CryptoError>;
    /// An Ed25519 signing key from its 32-byte seed (RFC 8032 §5.1.5), as test vectors give it.
    fn ed25519_from_seed(&self, seed: &[u8]) -> Result<Box<dyn SigningKey>, CryptoError>;
    /// HMAC-SHA1 (RFC 2104) of `data` under `key`.
    fn hmac_sha1(&self, key: &[u8], data: &[u8]) -> [u8; 20];
    /// HMAC-SHA256 (RFC 2104, RFC 4231) of `data` under `key`.
    fn hmac_sha256(&self, key: &[u8], data: &[u8]) -> [u8; 32];
    /// Fills `buf` from the operating system's random number generator.
    fn fill_random(&self, buf: &mut [u8]) -> Result<(), CryptoError>;
    /// A new RSA private key of `bits` as PKCS#8 v1 DER (RFC 5208), where the backend can.
    fn generate_rsa_pkcs8(&self, bits: u32) -> Result<Vec<u8>, CryptoError>;
}

/// The size of an RSA public key as a DKIM `p=` holds it (SPKI or bare RSAPublicKey), if a
/// verifier may use it: a key no backend can use is [`CryptoError::InvalidPublicKey`], one
/// outside 1024–8192 bits [`CryptoError::KeyTooSmall`] or [`CryptoError::KeyTooLarge`]
/// (RFC 6376 §6.1.2 step 8, RFC 8301 §3.2).
pub fn rsa_verify_key_bits(public_key: &[u8]) -> Result<u32, CryptoError> {
    keyload::rsa_verify_key(public_key).map(|(_, bits)| bits)
}

/// Whether an Ed25519 public key as a DKIM `p=` holds it may verify: 32 raw bytes (RFC 8463
/// §4.2) that are no point of small order (with which anyone could make signatures that
/// verify); otherwise [`CryptoError::InvalidPublicKey`].
pub fn ed25519_verify_key_check(public_key: &[u8]) -> Result<(), CryptoError> {
    keyload::ed25519_verify_key(public_key).map(|_| ())
}

/// The process-wide default provider: aws-lc-rs when compiled in, else ring.
pub fn default_provider() -> &'static dyn CryptoProvider {
    #[cfg(feature = "aws-lc")]
    {
        static PROVIDER: AwsLcProvider = AwsLcProvider;
        &PROVIDER
    }
    #[cfg(not(feature = "aws-lc"))]
    {
        static PROVIDER: RingProvider = RingProvider;
        &PROVIDER
    }
}

/// Every backend compiled into this build, default first (for side-by-side tests and benches).
pub fn providers() -> Vec<&'static dyn CryptoProvider> {
    #[allow(unused_mut)]
    let mut all: Vec<&'static dyn CryptoProvider> = Vec::new();
    #[cfg(feature = "aws-lc")]
    {
        static AWS_LC: AwsLcProvider = AwsLcProvider;
        all.push(&AWS_LC);
    }
    #[cfg(feature = "ring")]
    {
        static RING: RingProvider = RingProvider;
        all.push(&RING);
    }
    all
}

/// SHA-256 of `data` in one call (FIPS 180-4), through [`default_provider`].
pub fn sha256(data: &[u8]) -> [u8; 32] {
    default_provider().sha256(data)
}

/// HMAC-SHA1 of `data` under `key` (RFC 2104), through [`default_provider`].
pub fn hmac_sha1(key: &[u8], data: &[u8]) -> [u8; 20] {
    default_provider().hmac_sha1(key, data)
}

/// HMAC-SHA256 of `data` under `key` (RFC 2104, RFC 4231), through [`default_provider`], as
/// report redaction uses to hash local parts (RFC 6590).
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    default_provider().hmac_sha256(key, data)
}

/// Fills `buf` from the operating system's random number generator, through [`default_provider`].
pub fn random_bytes(buf: &mut [u8]) -> Result<(), CryptoError> {
    default_provider().fill_random(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn hmac_sha1_rfc2202_case_2() {
        for p in providers() {
            let mac = p.hmac_sha1(b"Jefe", b"what do ya want for nothing?");
            assert_eq!(
                hex(&mac),
                "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79",
                "{}",
                p.name()
            );
        }
        assert_eq!(hmac_sha1(b"Jefe", b"what do ya want for nothing?"), {
            default_provider().hmac_sha1(b"Jefe", b"what do ya want for nothing?")
        });
    }

    #[test]
    fn hmac_sha256_rfc4231_case_2() {
        for p in providers() {
            let mac = p.hmac_sha256(b"Jefe", b"what do ya want for nothing?");
            assert_eq!(
                hex(&mac),
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
                "{}",
                p.name()
            );
        }
        assert_eq!(
            hmac_sha256(b"k", b"d"),
            default_provider().hmac_sha256(b"k", b"d")
        );
    }

    #[test]
    fn sha256_abc() {
        for p in providers() {
            let d = p.sha256(b"abc");
            assert_eq!(
                hex(&d),
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
            );
            let mut h = p.hasher(HashAlg::Sha256);
            h.update(b"a");
            h.update(b"bc");
            assert_eq!(h.finish(), d.to_vec(), "{}", p.name());
        }
    }

    #[test]
    fn default_is_aws_lc_when_compiled_in() {
        let expect = if cfg!(feature = "aws-lc") {
            "aws-lc-rs"
        } else {
            "ring"
        };
        assert_eq!(default_provider().name(), expect);
        assert_eq!(providers()[0].name(), expect);
    }

    #[test]
    fn random_bytes_are_filled() {
        let mut a = [0u8; 32];
        let mut b = [0u8; 32];
        random_bytes(&mut a).unwrap();
        random_bytes(&mut b).unwrap();
        assert_ne!(a, b);
    }
}
