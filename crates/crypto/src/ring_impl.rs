//! The ring implementation of [`CryptoProvider`](crate::CryptoProvider) (cargo feature
//! `ring`). With `ring_api`, the only module that names ring types.

crate::ring_api::ring_api_backend!(ring, RingProvider, "ring");

/// Verifies with a key parsed for this one signature (RFC 6376 §6.1.3, RFC 8463 §3).
fn verify_signature(
    alg: SigAlg,
    public_key: &[u8],
    data: &[u8],
    sig: &[u8],
) -> Result<VerifiedKey, CryptoError> {
    match alg {
        SigAlg::RsaSha256 | SigAlg::RsaSha1Legacy => {
            let (bare, bits) = keyload::rsa_verify_key(public_key)?;
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
            let key = keyload::ed25519_verify_key(public_key)?;
            signature::UnparsedPublicKey::new(&signature::ED25519, key)
                .verify(data, sig)
                .map_err(|_| CryptoError::BadSignature)?;
            Ok(VerifiedKey {
                key_type: KeyType::Ed25519,
                bits: 256,
            })
        }
    }
}

/// ring has no RSA key generation.
fn generate_rsa(bits: u32) -> Result<Vec<u8>, CryptoError> {
    Err(CryptoError::KeyGeneration(format!(
        "ring cannot generate {bits}-bit RSA keys: build with the aws-lc backend"
    )))
}

fn modulus_len(pair: &signature::RsaKeyPair) -> usize {
    pair.public().modulus_len()
}

fn rsa_public_key(pair: &signature::RsaKeyPair) -> &[u8] {
    pair.public().as_ref()
}
