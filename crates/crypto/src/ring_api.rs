//! The part of a backend that is the same for ring and aws-lc-rs, whose APIs are the same
//! (aws-lc-rs keeps ring's): hashing, HMAC, randomness and the signing keys (RFC 6376 §5,
//! RFC 8463 §3).
//!
//! [`ring_api_backend!`] writes it into a backend module for that backend's crate. The module
//! itself supplies what differs:
//! - `fn verify_signature(alg, public_key, data, sig)`: aws-lc-rs keeps parsed keys;
//! - `fn generate_rsa(bits)`: only aws-lc-rs can generate RSA keys;
//! - `fn modulus_len(&RsaKeyPair)` and `fn rsa_public_key(&RsaKeyPair) -> &[u8]`: the two
//!   crates name these accessors differently.

/// Writes the provider type `$provider` (named `$name` in logs) and its signing keys over the
/// crate `$b` (`ring` or `aws_lc_rs`) into the calling module.
macro_rules! ring_api_backend {
    ($b:ident, $provider:ident, $name:literal) => {
        use $b::signature::{self, KeyPair as _};

        use crate::keyload::{self, PrivateKeyBytes};
        use crate::{
            CryptoError, CryptoProvider, HashAlg, Hasher, KeyType, SigAlg, SigningKey, VerifiedKey,
            spki_from_rsa_public_key,
        };

        #[doc = concat!("[`CryptoProvider`] over ", $name, ".")]
        #[derive(Debug, Clone, Copy, Default)]
        pub struct $provider;

        /// A streaming digest of the backend.
        struct StreamingDigest($b::digest::Context);

        impl Hasher for StreamingDigest {
            fn update(&mut self, data: &[u8]) {
                self.0.update(data);
            }
            fn finish(self: Box<Self>) -> Vec<u8> {
                self.0.finish().as_ref().to_vec()
            }
        }

        impl CryptoProvider for $provider {
            fn name(&self) -> &'static str {
                $name
            }

            fn hasher(&self, alg: HashAlg) -> Box<dyn Hasher> {
                let algorithm = match alg {
                    HashAlg::Sha256 => &$b::digest::SHA256,
                    HashAlg::Sha1Legacy => &$b::digest::SHA1_FOR_LEGACY_USE_ONLY,
                };
                Box::new(StreamingDigest($b::digest::Context::new(algorithm)))
            }

            fn sha256(&self, data: &[u8]) -> [u8; 32] {
                keyload::to_array($b::digest::digest(&$b::digest::SHA256, data).as_ref())
            }

            fn verify(
                &self,
                alg: SigAlg,
                public_key: &[u8],
                data: &[u8],
                sig: &[u8],
            ) -> Result<VerifiedKey, CryptoError> {
                verify_signature(alg, public_key, data, sig)
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
                let key = $b::hmac::Key::new($b::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key);
                keyload::to_array($b::hmac::sign(&key, data).as_ref())
            }

            fn hmac_sha256(&self, key: &[u8], data: &[u8]) -> [u8; 32] {
                let key = $b::hmac::Key::new($b::hmac::HMAC_SHA256, key);
                keyload::to_array($b::hmac::sign(&key, data).as_ref())
            }

            fn fill_random(&self, buf: &mut [u8]) -> Result<(), CryptoError> {
                use $b::rand::SecureRandom;
                $b::rand::SystemRandom::new()
                    .fill(buf)
                    .map_err(|_| CryptoError::Random)
            }

            fn generate_rsa_pkcs8(&self, bits: u32) -> Result<Vec<u8>, CryptoError> {
                generate_rsa(bits)
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
            let bits = u32::try_from(modulus_len(&pair).saturating_mul(8)).unwrap_or(u32::MAX);
            let key = RsaKey {
                pair,
                bits,
                rng: $b::rand::SystemRandom::new(),
            };
            // Both backends check a key's structure on loading, but some inconsistent keys
            // load and then fail every signature (the backend verifies each signature it
            // makes). Refuse them here, where `config check` and a reload report it, not on
            // every message (found by the `private_key` fuzz target for ring:
            // fuzz/seeds/private_key/crash-aa711d23...).
            key.sign(b"authmilter key check").map_err(|_| {
                CryptoError::InvalidPrivateKey("RSA: inconsistent key, it cannot sign".into())
            })?;
            Ok(Box::new(key))
        }

        /// An RSA signing key (RSASSA-PKCS1-v1_5 with SHA-256, RFC 6376 §3.3.2).
        struct RsaKey {
            pair: signature::RsaKeyPair,
            bits: u32,
            rng: $b::rand::SystemRandom,
        }

        impl std::fmt::Debug for RsaKey {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(concat!("RsaKey(", $name, ")"))
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
                let mut sig = vec![0u8; modulus_len(&self.pair)];
                self.pair
                    .sign(&signature::RSA_PKCS1_SHA256, &self.rng, data, &mut sig)
                    .map_err(|_| CryptoError::SigningFailed)?;
                Ok(sig)
            }
            fn public_key_dns(&self) -> Vec<u8> {
                spki_from_rsa_public_key(rsa_public_key(&self.pair))
            }
        }

        /// An Ed25519 signing key (RFC 8463 §3).
        struct Ed25519Key {
            pair: signature::Ed25519KeyPair,
        }

        impl std::fmt::Debug for Ed25519Key {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(concat!("Ed25519Key(", $name, ")"))
                    .finish_non_exhaustive()
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
    };
}

pub(crate) use ring_api_backend;
