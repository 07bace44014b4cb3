//! The ring implementation of [`CryptoProvider`]. The only module that names ring types
//! (besides the free helpers in `lib.rs` and key generation).

use ring::signature::{self, KeyPair};
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;

use crate::der::{rsa_modulus_bits, rsa_private_modulus_bits, rsa_public_key_from_spki};
use crate::{
    CryptoError, CryptoProvider, HashAlg, Hasher, KeyType, MAX_RSA_VERIFY_BITS, MIN_RSA_SIGN_BITS,
    MIN_RSA_VERIFY_BITS, SigAlg, SigningKey, VerifiedKey, spki_from_rsa_public_key,
};

/// Largest RSA signing key ring accepts.
const MAX_RSA_SIGN_BITS: u32 = 4096;

/// [`CryptoProvider`] over ring 0.17.
#[derive(Debug, Clone, Copy, Default)]
pub struct RingProvider;

struct RingHasher(ring::digest::Context);

impl Hasher for RingHasher {
    fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }
    fn finish(self: Box<Self>) -> Vec<u8> {
        self.0.finish().as_ref().to_vec()
    }
}

impl CryptoProvider for RingProvider {
    fn hasher(&self, alg: HashAlg) -> Box<dyn Hasher> {
        let algorithm = match alg {
            HashAlg::Sha256 => &ring::digest::SHA256,
            HashAlg::Sha1Legacy => &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
        };
        Box::new(RingHasher(ring::digest::Context::new(algorithm)))
    }

    fn verify(
        &self,
        alg: SigAlg,
        public_key: &[u8],
        data: &[u8],
        sig: &[u8],
    ) -> Result<VerifiedKey, CryptoError> {
        match alg {
            SigAlg::RsaSha256 | SigAlg::RsaSha1Legacy => {
                let bare = rsa_public_key_from_spki(public_key)
                    .ok_or(CryptoError::InvalidPublicKey("not an RSA public key"))?;
                let bits = rsa_modulus_bits(bare)
                    .ok_or(CryptoError::InvalidPublicKey("bad RSA modulus"))?;
                if bits < MIN_RSA_VERIFY_BITS {
                    return Err(CryptoError::KeyTooSmall { bits });
                }
                if bits > MAX_RSA_VERIFY_BITS {
                    return Err(CryptoError::KeyTooLarge { bits });
                }
                let params = if alg == SigAlg::RsaSha256 {
                    &signature::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY
                } else {
                    &signature::RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY
                };
                signature::UnparsedPublicKey::new(params, bare)
                    .verify(data, sig)
                    .map_err(|_| CryptoError::BadSignature)?;
                Ok(VerifiedKey {
                    key_type: KeyType::Rsa,
                    bits,
                })
            }
            SigAlg::Ed25519 => {
                if public_key.len() != 32 {
                    return Err(CryptoError::InvalidPublicKey(
                        "Ed25519 public key is not 32 bytes",
                    ));
                }
                signature::UnparsedPublicKey::new(&signature::ED25519, public_key)
                    .verify(data, sig)
                    .map_err(|_| CryptoError::BadSignature)?;
                Ok(VerifiedKey {
                    key_type: KeyType::Ed25519,
                    bits: 256,
                })
            }
        }
    }

    fn signing_key(&self, pem_or_der: &[u8]) -> Result<Box<dyn SigningKey>, CryptoError> {
        let trimmed = pem_or_der.trim_ascii_start();
        if trimmed.starts_with(b"-----BEGIN") {
            let key = PrivateKeyDer::from_pem_slice(trimmed)
                .map_err(|e| CryptoError::InvalidPrivateKey(format!("PEM: {e}")))?;
            match key {
                PrivateKeyDer::Pkcs1(k) => rsa_from_der(k.secret_pkcs1_der(), false),
                PrivateKeyDer::Pkcs8(k) => from_pkcs8(k.secret_pkcs8_der()),
                _ => Err(CryptoError::InvalidPrivateKey(
                    "unsupported key type (EC keys cannot sign DKIM)".into(),
                )),
            }
        } else {
            // DER: try PKCS#8 first, then PKCS#1.
            from_pkcs8(pem_or_der).or_else(|e8| rsa_from_der(pem_or_der, false).map_err(|_| e8))
        }
    }

    fn ed25519_from_seed(&self, seed: &[u8]) -> Result<Box<dyn SigningKey>, CryptoError> {
        let pair = signature::Ed25519KeyPair::from_seed_unchecked(seed)
            .map_err(|e| CryptoError::InvalidPrivateKey(format!("Ed25519 seed: {e}")))?;
        Ok(Box::new(Ed25519Key { pair }))
    }

    fn hmac_sha1(&self, key: &[u8], data: &[u8]) -> [u8; 20] {
        crate::hmac_sha1(key, data)
    }
}

fn from_pkcs8(der: &[u8]) -> Result<Box<dyn SigningKey>, CryptoError> {
    if rsa_private_modulus_bits(der).is_some() {
        return rsa_from_der(der, true);
    }
    let pair = signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
        .map_err(|e| CryptoError::InvalidPrivateKey(format!("PKCS#8: {e}")))?;
    Ok(Box::new(Ed25519Key { pair }))
}

fn rsa_from_der(der: &[u8], pkcs8: bool) -> Result<Box<dyn SigningKey>, CryptoError> {
    if let Some(bits) = rsa_private_modulus_bits(der) {
        if bits < MIN_RSA_SIGN_BITS {
            return Err(CryptoError::KeyTooSmall { bits });
        }
        if bits > MAX_RSA_SIGN_BITS {
            return Err(CryptoError::KeyTooLarge { bits });
        }
    }
    let pair = if pkcs8 {
        signature::RsaKeyPair::from_pkcs8(der)
    } else {
        signature::RsaKeyPair::from_der(der)
    }
    .map_err(|e| CryptoError::InvalidPrivateKey(format!("RSA: {e}")))?;
    let bits = u32::try_from(pair.public().modulus_len().saturating_mul(8)).unwrap_or(u32::MAX);
    let key = RsaKey {
        pair,
        bits,
        rng: ring::rand::SystemRandom::new(),
    };
    // ring checks the key's structure on loading, but some inconsistent keys load and then
    // fail every signature (ring verifies each signature it makes). Refuse them here, where
    // `config check` and a reload report it, not on every message (found by the
    // `private_key` fuzz target: fuzz/seeds/private_key/crash-aa711d23...).
    key.sign(b"authmilter key check").map_err(|_| {
        CryptoError::InvalidPrivateKey("RSA: inconsistent key, it cannot sign".into())
    })?;
    Ok(Box::new(key))
}

struct RsaKey {
    pair: signature::RsaKeyPair,
    bits: u32,
    rng: ring::rand::SystemRandom,
}

impl std::fmt::Debug for RsaKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RsaKey").field("bits", &self.bits).finish()
    }
}

impl SigningKey for RsaKey {
    fn key_type(&self) -> KeyType {
        KeyType::Rsa
    }
    fn bits(&self) -> u32 {
        self.bits
    }
    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut sig = vec![0u8; self.pair.public().modulus_len()];
        self.pair
            .sign(&signature::RSA_PKCS1_SHA256, &self.rng, data, &mut sig)
            .map_err(|_| CryptoError::SigningFailed)?;
        Ok(sig)
    }
    fn public_key_dns(&self) -> Vec<u8> {
        spki_from_rsa_public_key(self.pair.public().as_ref())
    }
}

struct Ed25519Key {
    pair: signature::Ed25519KeyPair,
}

impl std::fmt::Debug for Ed25519Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ed25519Key").finish_non_exhaustive()
    }
}

impl SigningKey for Ed25519Key {
    fn key_type(&self) -> KeyType {
        KeyType::Ed25519
    }
    fn bits(&self) -> u32 {
        256
    }
    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, CryptoError> {
        Ok(self.pair.sign(data).as_ref().to_vec())
    }
    fn public_key_dns(&self) -> Vec<u8> {
        self.pair.public_key().as_ref().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::default_provider;

    /// RFC 8032 §7.1 TEST 1.
    const SEED: [u8; 32] = [
        0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec, 0x2c,
        0xc4, 0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae,
        0x7f, 0x60,
    ];

    #[test]
    fn ed25519_sign_verify() {
        let p = default_provider();
        let key = p.ed25519_from_seed(&SEED).unwrap();
        let pk = key.public_key_dns();
        assert_eq!(pk.len(), 32);
        let sig = key.sign(b"hello").unwrap();
        let v = p.verify(SigAlg::Ed25519, &pk, b"hello", &sig).unwrap();
        assert_eq!(v.key_type, KeyType::Ed25519);
        assert_eq!(
            p.verify(SigAlg::Ed25519, &pk, b"hellO", &sig),
            Err(CryptoError::BadSignature)
        );
        assert!(
            p.verify(SigAlg::Ed25519, &pk[..31], b"hello", &sig)
                .is_err()
        );
    }

    /// A mutated PKCS#1 key from the `private_key` fuzz target: the fuzz build (release, ASan,
    /// debug assertions) of ring loaded it and then failed every signature. It must be refused
    /// when loaded (a test build of ring already rejects its encoding; the fuzz build now stops
    /// at "cannot sign").
    #[test]
    fn refuses_an_inconsistent_rsa_key_at_load() {
        let der = include_bytes!(
            "../../../fuzz/seeds/private_key/crash-aa711d238f4be7bbc2ab21ecf7d7e92e19668edb"
        );
        let err = default_provider().signing_key(der).unwrap_err();
        assert!(matches!(err, CryptoError::InvalidPrivateKey(_)), "{err}");
    }

    #[test]
    fn rejects_1024_bit_signing_key() {
        let pem = include_bytes!("../tests/data/rsa1024.pem");
        let err = default_provider().signing_key(pem).unwrap_err();
        assert_eq!(err, CryptoError::KeyTooSmall { bits: 1024 });
    }

    #[test]
    fn rsa2048_pkcs1_and_pkcs8_sign_identically() {
        let p = default_provider();
        let k1 = p
            .signing_key(include_bytes!("../tests/data/rsa2048-pkcs1.pem"))
            .unwrap();
        let k8 = p
            .signing_key(include_bytes!("../tests/data/rsa2048-pkcs8.pem"))
            .unwrap();
        assert_eq!(k1.bits(), 2048);
        let s1 = k1.sign(b"data").unwrap();
        assert_eq!(s1, k8.sign(b"data").unwrap());
        let pk = k1.public_key_dns();
        assert_eq!(pk, k8.public_key_dns());
        let v = p.verify(SigAlg::RsaSha256, &pk, b"data", &s1).unwrap();
        assert_eq!(v.bits, 2048);
        // The bare RSAPublicKey works too.
        let bare = rsa_public_key_from_spki(&pk).unwrap();
        assert!(p.verify(SigAlg::RsaSha256, bare, b"data", &s1).is_ok());
        assert_eq!(
            p.verify(SigAlg::RsaSha256, &pk, b"Data", &s1),
            Err(CryptoError::BadSignature)
        );
    }

    #[test]
    fn openssl_ed25519_pkcs8_v1_loads() {
        let key = default_provider()
            .signing_key(include_bytes!("../tests/data/ed25519-openssl.pem"))
            .unwrap();
        assert_eq!(key.key_type(), KeyType::Ed25519);
    }
}
