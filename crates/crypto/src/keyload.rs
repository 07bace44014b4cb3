//! Backend-independent key handling shared by the providers: reading PEM/DER private keys
//! (RFC 7468, PKCS#1 RFC 8017 Appendix A.1.2, PKCS#8 RFC 5208/5958) and the RFC 8301 §3.2
//! key-size rules.

use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;

use crate::der::{
    rsa_modulus_bits, rsa_private_modulus_bits, rsa_public_key_defect, rsa_public_key_from_spki,
};
use crate::{CryptoError, MAX_RSA_VERIFY_BITS, MIN_RSA_SIGN_BITS, MIN_RSA_VERIFY_BITS};

/// Largest RSA signing key we load (both backends sign up to 4096 bits quickly).
pub(crate) const MAX_RSA_SIGN_BITS: u32 = 4096;

/// A private key as found in a file, before a backend parses it.
pub(crate) enum PrivateKeyBytes<'a> {
    /// PKCS#1 `RSAPrivateKey` DER.
    Pkcs1(std::borrow::Cow<'a, [u8]>),
    /// PKCS#8 `PrivateKeyInfo`/`OneAsymmetricKey` DER (RSA or Ed25519).
    Pkcs8(std::borrow::Cow<'a, [u8]>),
    /// DER of unknown wrapping: try PKCS#8, then PKCS#1.
    UnknownDer(&'a [u8]),
}

/// Reads PEM (`BEGIN RSA PRIVATE KEY` / `BEGIN PRIVATE KEY`) or passes DER through.
pub(crate) fn read_private_key(pem_or_der: &[u8]) -> Result<PrivateKeyBytes<'_>, CryptoError> {
    let trimmed = pem_or_der.trim_ascii_start();
    if !trimmed.starts_with(b"-----BEGIN") {
        return Ok(PrivateKeyBytes::UnknownDer(pem_or_der));
    }
    let key = PrivateKeyDer::from_pem_slice(trimmed)
        .map_err(|e| CryptoError::InvalidPrivateKey(format!("PEM: {e}")))?;
    match key {
        PrivateKeyDer::Pkcs1(k) => Ok(PrivateKeyBytes::Pkcs1(k.secret_pkcs1_der().to_vec().into())),
        PrivateKeyDer::Pkcs8(k) => Ok(PrivateKeyBytes::Pkcs8(k.secret_pkcs8_der().to_vec().into())),
        _ => Err(CryptoError::InvalidPrivateKey(
            "unsupported key type (EC keys cannot sign DKIM)".into(),
        )),
    }
}

/// Whether PKCS#8 DER holds an RSA key (else we try Ed25519).
pub(crate) fn pkcs8_is_rsa(der: &[u8]) -> bool {
    rsa_private_modulus_bits(der).is_some()
}

/// Enforces RFC 8301 §3.2 on a private key before loading it (2048–4096 bits).
pub(crate) fn check_rsa_sign_size(der: &[u8]) -> Result<(), CryptoError> {
    if let Some(bits) = rsa_private_modulus_bits(der) {
        if bits < MIN_RSA_SIGN_BITS {
            return Err(CryptoError::KeyTooSmall { bits });
        }
        if bits > MAX_RSA_SIGN_BITS {
            return Err(CryptoError::KeyTooLarge { bits });
        }
    }
    Ok(())
}

/// The bare `RSAPublicKey` of a DKIM `p=` (SPKI or bare) and its size, 1024–8192 bits
/// (RFC 8301 §3.2), if the backends can use it (`der::rsa_public_key_defect`).
pub(crate) fn rsa_verify_key(public_key: &[u8]) -> Result<(&[u8], u32), CryptoError> {
    let bare = rsa_public_key_from_spki(public_key)
        .ok_or(CryptoError::InvalidPublicKey("not an RSA public key"))?;
    if let Some(defect) = rsa_public_key_defect(bare) {
        return Err(CryptoError::InvalidPublicKey(defect));
    }
    let bits = rsa_modulus_bits(bare).ok_or(CryptoError::InvalidPublicKey("bad RSA modulus"))?;
    if bits < MIN_RSA_VERIFY_BITS {
        return Err(CryptoError::KeyTooSmall { bits });
    }
    if bits > MAX_RSA_VERIFY_BITS {
        return Err(CryptoError::KeyTooLarge { bits });
    }
    Ok((bare, bits))
}

/// An Ed25519 public key as DKIM publishes it: exactly 32 bytes (RFC 8463 §4.2).
pub(crate) fn ed25519_verify_key(public_key: &[u8]) -> Result<&[u8], CryptoError> {
    if public_key.len() != 32 {
        return Err(CryptoError::InvalidPublicKey(
            "Ed25519 public key is not 32 bytes",
        ));
    }
    Ok(public_key)
}

/// Copies a digest into a fixed array (SHA-256 is 32 bytes, HMAC-SHA1 20).
pub(crate) fn to_array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    if let Some(src) = bytes.get(..N) {
        out.copy_from_slice(src);
    }
    out
}
