//! The aws-lc-rs implementation of [`CryptoProvider`] (cargo feature `aws-lc`, the default).
//! With `parsed_keys`, the only modules that name aws-lc-rs types.

use std::sync::LazyLock;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{self, KeyPair};

use crate::keyload::{self, PrivateKeyBytes};
use crate::parsed_keys::ParsedKeys;
use crate::{
    CryptoError, CryptoProvider, HashAlg, Hasher, KeyType, SigAlg, SigningKey, VerifiedKey,
    spki_from_rsa_public_key,
};

/// [`CryptoProvider`] over aws-lc-rs (AWS-LC, the BoringSSL/OpenSSL lineage).
#[derive(Debug, Clone, Copy, Default)]
pub struct AwsLcProvider;

/// Parsed verification keys, per algorithm (see `parsed_keys`).
static RSA_SHA256_KEYS: LazyLock<ParsedKeys> =
    LazyLock::new(|| ParsedKeys::new(&signature::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY));
static RSA_SHA1_KEYS: LazyLock<ParsedKeys> =
    LazyLock::new(|| ParsedKeys::new(&signature::RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY));
static ED25519_KEYS: LazyLock<ParsedKeys> = LazyLock::new(|| ParsedKeys::new(&signature::ED25519));

struct AwsLcHasher(aws_lc_rs::digest::Context);

impl Hasher for AwsLcHasher {
    fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }
    fn finish(self: Box<Self>) -> Vec<u8> {
        self.0.finish().as_ref().to_vec()
    }
}

impl CryptoProvider for AwsLcProvider {
    fn name(&self) -> &'static str {
        "aws-lc-rs"
    }

    fn hasher(&self, alg: HashAlg) -> Box<dyn Hasher> {
        let algorithm = match alg {
            HashAlg::Sha256 => &aws_lc_rs::digest::SHA256,
            HashAlg::Sha1Legacy => &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
        };
        Box::new(AwsLcHasher(aws_lc_rs::digest::Context::new(algorithm)))
    }

    fn sha256(&self, data: &[u8]) -> [u8; 32] {
        keyload::to_array(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data).as_ref())
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
                let (bare, bits) = keyload::rsa_verify_key(public_key)?;
                let keys = if alg == SigAlg::RsaSha256 {
                    &*RSA_SHA256_KEYS
                } else {
                    &*RSA_SHA1_KEYS
                };
                if !keys.verify(bare, data, sig) {
                    return Err(CryptoError::BadSignature);
                }
                Ok(VerifiedKey {
                    key_type: KeyType::Rsa,
                    bits,
                })
            }
            SigAlg::Ed25519 => {
                let key = keyload::ed25519_verify_key(public_key)?;
                if !ED25519_KEYS.verify(key, data, sig) {
                    return Err(CryptoError::BadSignature);
                }
                Ok(VerifiedKey {
                    key_type: KeyType::Ed25519,
                    bits: 256,
                })
            }
        }
    }

    fn signing_key(&self, pem_or_der: &[u8]) -> Result<Box<dyn SigningKey>, CryptoError> {
        match keyload::read_private_key(pem_or_der)? {
            PrivateKeyBytes::Pkcs1(der) => rsa_from_der(&der, false),
            PrivateKeyBytes::Pkcs8(der) => from_pkcs8(&der),
            PrivateKeyBytes::UnknownDer(der) => {
                from_pkcs8(der).or_else(|e8| rsa_from_der(der, false).map_err(|_| e8))
            }
        }
    }

    fn ed25519_from_seed(&self, seed: &[u8]) -> Result<Box<dyn SigningKey>, CryptoError> {
        let pair = signature::Ed25519KeyPair::from_seed_unchecked(seed)
            .map_err(|e| CryptoError::InvalidPrivateKey(format!("Ed25519 seed: {e}")))?;
        Ok(Box::new(Ed25519Key { pair }))
    }

    fn hmac_sha1(&self, key: &[u8], data: &[u8]) -> [u8; 20] {
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key);
        keyload::to_array(aws_lc_rs::hmac::sign(&key, data).as_ref())
    }

    fn hmac_sha256(&self, key: &[u8], data: &[u8]) -> [u8; 32] {
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key);
        keyload::to_array(aws_lc_rs::hmac::sign(&key, data).as_ref())
    }

    fn fill_random(&self, buf: &mut [u8]) -> Result<(), CryptoError> {
        use aws_lc_rs::rand::SecureRandom;
        aws_lc_rs::rand::SystemRandom::new()
            .fill(buf)
            .map_err(|_| CryptoError::Random)
    }

    fn generate_rsa_pkcs8(&self, bits: u32) -> Result<Vec<u8>, CryptoError> {
        let size = match bits {
            2048 => aws_lc_rs::rsa::KeySize::Rsa2048,
            3072 => aws_lc_rs::rsa::KeySize::Rsa3072,
            4096 => aws_lc_rs::rsa::KeySize::Rsa4096,
            _ => {
                return Err(CryptoError::KeyGeneration(format!(
                    "RSA keys are generated in 2048, 3072 or 4096 bits, not {bits}"
                )));
            }
        };
        let pair = aws_lc_rs::rsa::KeyPair::generate(size)
            .map_err(|_| CryptoError::KeyGeneration("RSA generation failed".into()))?;
        let der = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair)
            .map_err(|_| CryptoError::KeyGeneration("RSA PKCS#8 encoding failed".into()))?;
        Ok(der.as_ref().to_vec())
    }
}

fn from_pkcs8(der: &[u8]) -> Result<Box<dyn SigningKey>, CryptoError> {
    if keyload::pkcs8_is_rsa(der) {
        return rsa_from_der(der, true);
    }
    let pair = signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
        .map_err(|e| CryptoError::InvalidPrivateKey(format!("PKCS#8: {e}")))?;
    Ok(Box::new(Ed25519Key { pair }))
}

fn rsa_from_der(der: &[u8], pkcs8: bool) -> Result<Box<dyn SigningKey>, CryptoError> {
    keyload::check_rsa_sign_size(der)?;
    let pair = if pkcs8 {
        signature::RsaKeyPair::from_pkcs8(der)
    } else {
        signature::RsaKeyPair::from_der(der)
    }
    .map_err(|e| CryptoError::InvalidPrivateKey(format!("RSA: {e}")))?;
    let bits = u32::try_from(pair.public_modulus_len().saturating_mul(8)).unwrap_or(u32::MAX);
    let key = RsaKey {
        pair,
        bits,
        rng: aws_lc_rs::rand::SystemRandom::new(),
    };
    // A key whose parts do not agree can load and then fail every signature; refuse it here,
    // where `config check` and a reload report it, not on every message (the `private_key`
    // fuzz target found one for ring: fuzz/seeds/private_key/crash-aa711d23...).
    key.sign(b"authmilter key check").map_err(|_| {
        CryptoError::InvalidPrivateKey("RSA: inconsistent key, it cannot sign".into())
    })?;
    Ok(Box::new(key))
}

struct RsaKey {
    pair: signature::RsaKeyPair,
    bits: u32,
    rng: aws_lc_rs::rand::SystemRandom,
}

impl std::fmt::Debug for RsaKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RsaKey(aws-lc)")
            .field("bits", &self.bits)
            .finish()
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
        let mut sig = vec![0u8; self.pair.public_modulus_len()];
        self.pair
            .sign(&signature::RSA_PKCS1_SHA256, &self.rng, data, &mut sig)
            .map_err(|_| CryptoError::SigningFailed)?;
        Ok(sig)
    }
    fn public_key_dns(&self) -> Vec<u8> {
        spki_from_rsa_public_key(self.pair.public_key().as_ref())
    }
}

struct Ed25519Key {
    pair: signature::Ed25519KeyPair,
}

impl std::fmt::Debug for Ed25519Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ed25519Key(aws-lc)").finish_non_exhaustive()
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
