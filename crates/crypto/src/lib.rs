//! The crypto authmilter needs (SHA-256, RSA and Ed25519 signatures, HMAC-SHA1, randomness),
//! behind a small surface so that no other crate names ring types.
//!
//! - [`CryptoProvider`] is the trait DKIM (and later ARC) calls: hashing, signature verification
//!   with the RFC 8301 key-size rules, and signing-key loading. [`RingProvider`] implements it.
//! - [`default_provider`] returns the process-wide ring provider.
//! - [`keygen`] makes new key pairs for the key-generation command (Ed25519 through ring, RSA
//!   through the `rsa` crate, used for generation only; signing always goes through ring).
//! - [`hmac_sha1`] and [`random_bytes`] serve SRS.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod der;
#[doc(hidden)]
pub mod fuzzing;
pub mod keygen;
mod ring_impl;

pub use der::{rsa_modulus_bits, rsa_public_key_from_spki, spki_from_rsa_public_key};
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
    /// A new streaming hasher.
    fn hasher(&self, alg: HashAlg) -> Box<dyn Hasher>;
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
    /// (PKCS#1 or PKCS#8). RSA keys must be at least 2048 bits (RFC 8301 §3.2 SHOULD).
    fn signing_key(&self, pem_or_der: &[u8]) -> Result<Box<dyn SigningKey>, CryptoError>;
    /// An Ed25519 signing key from its 32-byte seed (RFC 8032 §5.1.5), as test vectors give it.
    fn ed25519_from_seed(&self, seed: &[u8]) -> Result<Box<dyn SigningKey>, CryptoError>;
    /// HMAC-SHA1 (RFC 2104) of `data` under `key`.
    fn hmac_sha1(&self, key: &[u8], data: &[u8]) -> [u8; 20];
}

/// The process-wide default provider (ring).
pub fn default_provider() -> &'static dyn CryptoProvider {
    static PROVIDER: RingProvider = RingProvider;
    &PROVIDER
}

/// SHA-256 of `data` in one call (FIPS 180-4).
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// HMAC-SHA1 of `data` under `key` (RFC 2104), as SRS uses for its hash.
pub fn hmac_sha1(key: &[u8], data: &[u8]) -> [u8; 20] {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key);
    let tag = ring::hmac::sign(&key, data);
    let mut out = [0u8; 20];
    out.copy_from_slice(tag.as_ref());
    out
}

/// Fills `buf` from the operating system's random number generator.
pub fn random_bytes(buf: &mut [u8]) -> Result<(), CryptoError> {
    use ring::rand::SecureRandom;
    ring::rand::SystemRandom::new()
        .fill(buf)
        .map_err(|_| CryptoError::Random)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_sha1_rfc2202_case_2() {
        let mac = hmac_sha1(b"Jefe", b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
    }

    #[test]
    fn sha256_abc() {
        let d = sha256(b"abc");
        let hex: String = d.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let mut h = default_provider().hasher(HashAlg::Sha256);
        h.update(b"a");
        h.update(b"bc");
        assert_eq!(h.finish(), d.to_vec());
    }
}
