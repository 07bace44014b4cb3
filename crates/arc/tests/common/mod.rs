//! Helpers shared by the ARC integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

use crypto::{CryptoError, KeyType, SigningKey};
use dns::memory::MemoryResolver;

/// Path under `tests/data/`.
pub fn data(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(path)
}

/// Reads a file under `tests/data/` as text.
pub fn read(path: &str) -> String {
    std::fs::read_to_string(data(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A current-thread runtime for the async convenience API.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// Splits a mail-auth style file: `<name> <TXT value>` lines, an empty line, the message.
pub fn zone_and_message(text: &str) -> (MemoryResolver, Vec<u8>) {
    let (zone, msg) = text
        .split_once("\n\n")
        .expect("empty line after the DNS records");
    let r = MemoryResolver::new();
    for line in zone.lines() {
        let (name, value) = line.split_once(' ').expect("name value");
        r.add_txt(name, value);
    }
    (r, msg.as_bytes().to_vec())
}

/// DigestInfo prefix for SHA-256 (RFC 8017 §9.2 note 1).
const SHA256_DIGEST_INFO: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

/// An RSA key of any size, signing RSASSA-PKCS1-v1_5 SHA-256 through the `rsa` crate: ring
/// (our provider) refuses to sign with keys under 2048 bits, and the ValiMail signing suite's
/// key has 1024. Test keys only.
#[derive(Debug)]
pub struct TestRsaKey(rsa::RsaPrivateKey);

impl TestRsaKey {
    /// From a PKCS#1 PEM (`BEGIN RSA PRIVATE KEY`).
    pub fn from_pkcs1_pem(pem: &str) -> Self {
        use rsa::pkcs1::DecodeRsaPrivateKey;
        TestRsaKey(rsa::RsaPrivateKey::from_pkcs1_pem(pem).expect("PKCS#1 PEM"))
    }
}

impl SigningKey for TestRsaKey {
    fn key_type(&self) -> KeyType {
        KeyType::Rsa
    }

    fn bits(&self) -> u32 {
        use rsa::traits::PublicKeyParts;
        u32::try_from(self.0.n().bits()).unwrap()
    }

    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut info = SHA256_DIGEST_INFO.to_vec();
        info.extend_from_slice(&crypto::sha256(data));
        self.0
            .sign(rsa::Pkcs1v15Sign::new_unprefixed(), &info)
            .map_err(|_| CryptoError::SigningFailed)
    }

    fn public_key_dns(&self) -> Vec<u8> {
        use rsa::pkcs8::EncodePublicKey;
        self.0
            .to_public_key()
            .to_public_key_der()
            .unwrap()
            .as_bytes()
            .to_vec()
    }
}
