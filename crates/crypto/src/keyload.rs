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

/// Where the PEM text of a key file starts: at its first `-----BEGIN` when everything before
/// it is text (RFC 7468 §2 lets explanatory text precede the block: `openssl pkcs12 -nodes`
/// writes `Bag Attributes` lines there). `None` for DER.
fn pem_start(bytes: &[u8]) -> Option<usize> {
    let begin = bytes.windows(10).position(|w| w == b"-----BEGIN")?;
    let preamble = bytes.get(..begin)?;
    preamble
        .iter()
        .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace())
        .then_some(begin)
}

/// The error for key files no backend reads but the user can convert: encrypted keys (PKCS#8
/// `ENCRYPTED PRIVATE KEY`, RFC 5958 §3; PKCS#1 with `Proc-Type: 4,ENCRYPTED`) and OpenSSH's
/// own format.
fn unsupported_form(pem: &[u8]) -> Option<CryptoError> {
    let has = |needle: &[u8]| pem.windows(needle.len()).any(|w| w == needle);
    if has(b"-----BEGIN ENCRYPTED PRIVATE KEY-----") || has(b"Proc-Type: 4,ENCRYPTED") {
        return Some(CryptoError::InvalidPrivateKey(
            "encrypted keys are not supported (the milter starts unattended): convert it with `openssl pkey -in KEY -out KEY.pem` (it asks for the passphrase once)".into(),
        ));
    }
    if has(b"-----BEGIN OPENSSH PRIVATE KEY-----") {
        return Some(CryptoError::InvalidPrivateKey(
            "OpenSSH keys are not supported: convert an RSA key with `ssh-keygen -p -m PKCS8 -f KEY`, then `openssl pkey -in KEY -out KEY.pem`, or make a DKIM key with `authmilter dkim genkey`".into(),
        ));
    }
    None
}

/// Reads PEM (`BEGIN RSA PRIVATE KEY` / `BEGIN PRIVATE KEY`, after any text) or passes DER
/// through.
pub(crate) fn read_private_key(pem_or_der: &[u8]) -> Result<PrivateKeyBytes<'_>, CryptoError> {
    let Some(start) = pem_start(pem_or_der) else {
        return Ok(PrivateKeyBytes::UnknownDer(pem_or_der));
    };
    let pem = pem_or_der.get(start..).unwrap_or_default();
    if let Some(error) = unsupported_form(pem) {
        return Err(error);
    }
    let key = PrivateKeyDer::from_pem_slice(pem)
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

/// The encodings of the Ed25519 points of small order (1, 2, 4 and 8: the 8-torsion of
/// edwards25519), sign bit cleared, with the non-canonical y + p of y = 0 and y = 1: the list
/// libsodium refuses (`ge25519_has_small_order`).
const SMALL_ORDER_ED25519: [[u8; 32]; 7] = [
    [0; 32],
    [
        1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0,
    ],
    [
        0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98,
        0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53,
        0xfc, 0x05,
    ],
    [
        0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67,
        0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac,
        0x03, 0x7a,
    ],
    p_plus(0xec),
    p_plus(0xed),
    p_plus(0xee),
];

/// 2^255 - 19 + (low - 0xed), little-endian: p - 1, p and p + 1 for 0xec, 0xed and 0xee.
const fn p_plus(low: u8) -> [u8; 32] {
    let mut b = [0xff; 32];
    b[0] = low;
    b[31] = 0x7f;
    b
}

/// An Ed25519 public key as DKIM publishes it: exactly 32 bytes (RFC 8463 §4.2), and not a
/// point of small order. With such a key R = a small-order point, S = 0 verifies for a share of
/// all messages without any private key (both backends accept it: RFC 8032 §5.1.7 does not
/// exclude it), so a domain publishing one (all zeros as a "revoked" key) would let anyone sign.
pub(crate) fn ed25519_verify_key(public_key: &[u8]) -> Result<&[u8], CryptoError> {
    let Ok(key) = <[u8; 32]>::try_from(public_key) else {
        return Err(CryptoError::InvalidPublicKey(
            "Ed25519 public key is not 32 bytes",
        ));
    };
    let mut y = key;
    y[31] &= 0x7f;
    if SMALL_ORDER_ED25519.contains(&y) {
        return Err(CryptoError::InvalidPublicKey(
            "Ed25519 public key is a point of small order",
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
