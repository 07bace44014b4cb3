//! The aws-lc-rs implementation of [`CryptoProvider`](crate::CryptoProvider) (cargo feature
//! `aws-lc`, the default). With `ring_api` and `parsed_keys`, the only modules that name
//! aws-lc-rs types.

use std::sync::LazyLock;

use aws_lc_rs::encoding::AsDer;

use crate::parsed_keys::ParsedKeys;

crate::ring_api::ring_api_backend!(aws_lc_rs, AwsLcProvider, "aws-lc-rs");

/// Parsed verification keys, per algorithm (see `parsed_keys`).
static RSA_SHA256_KEYS: LazyLock<ParsedKeys> =
    LazyLock::new(|| ParsedKeys::new(&signature::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY));
static RSA_SHA1_KEYS: LazyLock<ParsedKeys> =
    LazyLock::new(|| ParsedKeys::new(&signature::RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY));
static ED25519_KEYS: LazyLock<ParsedKeys> = LazyLock::new(|| ParsedKeys::new(&signature::ED25519));

/// Verifies with a key parsed once and kept (RFC 6376 §6.1.3, RFC 8463 §3).
fn verify_signature(
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
            match keys.verify(bare, data, sig) {
                Some(true) => {}
                Some(false) => return Err(CryptoError::BadSignature),
                None => return Err(CryptoError::InvalidPublicKey("aws-lc refuses the RSA key")),
            }
            Ok(VerifiedKey {
                key_type: KeyType::Rsa,
                bits,
            })
        }
        SigAlg::Ed25519 => {
            let key = keyload::ed25519_verify_key(public_key)?;
            match ED25519_KEYS.verify(key, data, sig) {
                Some(true) => {}
                Some(false) => return Err(CryptoError::BadSignature),
                None => {
                    return Err(CryptoError::InvalidPublicKey(
                        "aws-lc refuses the Ed25519 key",
                    ));
                }
            }
            Ok(VerifiedKey {
                key_type: KeyType::Ed25519,
                bits: 256,
            })
        }
    }
}

/// A new RSA key of 2048, 3072 or 4096 bits as PKCS#8 v1 DER (RFC 5208).
fn generate_rsa(bits: u32) -> Result<Vec<u8>, CryptoError> {
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

fn modulus_len(pair: &signature::RsaKeyPair) -> usize {
    pair.public_modulus_len()
}

fn rsa_public_key(pair: &signature::RsaKeyPair) -> &[u8] {
    pair.public_key().as_ref()
}
