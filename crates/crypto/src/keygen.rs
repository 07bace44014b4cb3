//! New DKIM key pairs for the key-generation command (RFC 6376 §3.6.1, RFC 8463 §4).
//!
//! Ed25519 keys come from ring. RSA keys come from the `rsa` crate, used **only** to generate
//! the key (RUSTSEC-2023-0071 concerns private-key operations, which it never performs here):
//! the key is written as PKCS#8 and loaded back through ring, which does all signing.

use base64::Engine;
use rsa::pkcs8::EncodePrivateKey;
use rsa::rand_core::{CryptoRng, RngCore};

use crate::{CryptoError, MIN_RSA_SIGN_BITS, SigningKey, default_provider};

/// Largest RSA key we generate (ring signs with at most 4096 bits).
pub const MAX_RSA_GENERATE_BITS: u32 = 4096;

/// A freshly generated private key.
#[derive(Debug)]
pub struct GeneratedKey {
    /// The private key as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`); write it with mode 0600.
    pub private_key_pem: String,
    /// The same key loaded for signing (through ring).
    pub signing_key: Box<dyn SigningKey>,
}

/// Generates an Ed25519 key pair (RFC 8463 §4) as PKCS#8.
pub fn generate_ed25519() -> Result<GeneratedKey, CryptoError> {
    let rng = ring::rand::SystemRandom::new();
    let doc = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng)
        .map_err(|_| CryptoError::KeyGeneration("Ed25519 generation failed".into()))?;
    finish(doc.as_ref())
}

/// Generates an RSA key pair of `bits` (2048–4096, RFC 8301 §3.2) as PKCS#8.
pub fn generate_rsa(bits: u32) -> Result<GeneratedKey, CryptoError> {
    if bits < MIN_RSA_SIGN_BITS {
        return Err(CryptoError::KeyTooSmall { bits });
    }
    if bits > MAX_RSA_GENERATE_BITS {
        return Err(CryptoError::KeyTooLarge { bits });
    }
    let mut rng = RingRng(ring::rand::SystemRandom::new());
    let size = usize::try_from(bits).map_err(|_| CryptoError::KeyTooLarge { bits })?;
    let key = rsa::RsaPrivateKey::new(&mut rng, size)
        .map_err(|e| CryptoError::KeyGeneration(e.to_string()))?;
    let der = key
        .to_pkcs8_der()
        .map_err(|e| CryptoError::KeyGeneration(e.to_string()))?;
    finish(der.as_bytes())
}

/// PEM-encodes PKCS#8 DER (RFC 7468 §10) and loads it through ring.
fn finish(pkcs8_der: &[u8]) -> Result<GeneratedKey, CryptoError> {
    let private_key_pem = pem_encode("PRIVATE KEY", pkcs8_der);
    let signing_key = default_provider().signing_key(private_key_pem.as_bytes())?;
    Ok(GeneratedKey {
        private_key_pem,
        signing_key,
    })
}

/// RFC 7468 textual encoding: base64 in 64-column lines between BEGIN/END labels.
pub fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or(""));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The operating system's CSPRNG (through ring) in the shape the `rsa` crate wants.
struct RingRng(ring::rand::SystemRandom);

impl RngCore for RingRng {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        use ring::rand::SecureRandom;
        // The OS RNG does not fail on Linux after boot; if it ever did, key generation must not
        // continue with predictable bytes, so this is the one place we abort.
        #[allow(clippy::expect_used)]
        self.0
            .fill(dest)
            .expect("system random number generator failed");
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rsa::rand_core::Error> {
        use ring::rand::SecureRandom;
        self.0
            .fill(dest)
            .map_err(|_| rsa::rand_core::Error::new(Box::new(std::io::Error::other("rng"))))
    }
}

impl CryptoRng for RingRng {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{KeyType, SigAlg};

    #[test]
    fn ed25519_generated_key_round_trips() {
        let g = generate_ed25519().unwrap();
        assert!(
            g.private_key_pem
                .starts_with("-----BEGIN PRIVATE KEY-----\n")
        );
        let again = default_provider()
            .signing_key(g.private_key_pem.as_bytes())
            .unwrap();
        assert_eq!(again.public_key_dns(), g.signing_key.public_key_dns());
        let sig = again.sign(b"x").unwrap();
        default_provider()
            .verify(SigAlg::Ed25519, &g.signing_key.public_key_dns(), b"x", &sig)
            .unwrap();
    }

    #[test]
    fn rsa_size_limits() {
        assert_eq!(
            generate_rsa(1024).unwrap_err(),
            CryptoError::KeyTooSmall { bits: 1024 }
        );
        assert!(generate_rsa(8192).is_err());
    }

    #[test]
    fn rsa_generated_key_signs_through_ring() {
        let g = generate_rsa(2048).unwrap();
        assert_eq!(g.signing_key.key_type(), KeyType::Rsa);
        assert_eq!(g.signing_key.bits(), 2048);
        let sig = g.signing_key.sign(b"x").unwrap();
        default_provider()
            .verify(
                SigAlg::RsaSha256,
                &g.signing_key.public_key_dns(),
                b"x",
                &sig,
            )
            .unwrap();
    }
}
