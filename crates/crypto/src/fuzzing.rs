//! Fuzz harness shared by `fuzz/fuzz_targets/private_key.rs` and `tests/fuzz_seeds.rs`, so a
//! seed replays exactly what the fuzzer ran. Not part of the API; a panic here is a finding.

use crate::{KeyType, SigAlg, default_provider, sha256};

/// `private_key`: private-key loading from PEM or DER (PKCS#1, PKCS#8; RSA and Ed25519), as
/// `[[dkim.key]] path` files are read. A key that loads has the size policy's bits (RFC 8301
/// §3.2), signs, and its published public key (RFC 6376 §3.6.1 `p=`) verifies the signature.
pub fn private_key(data: &[u8]) {
    let provider = default_provider();
    let Ok(key) = provider.signing_key(data) else {
        return;
    };
    let (alg, signed) = match key.key_type() {
        KeyType::Rsa => {
            assert!((2048..=8192).contains(&key.bits()), "{} bits", key.bits());
            (SigAlg::RsaSha256, b"fuzz".to_vec())
        }
        KeyType::Ed25519 => {
            assert_eq!(key.bits(), 256);
            (SigAlg::Ed25519, sha256(b"fuzz").to_vec())
        }
    };
    let public = key.public_key_dns();
    let signature = key.sign(&signed).expect("a loaded key signs");
    let verified = provider
        .verify(alg, &public, &signed, &signature)
        .expect("the public key verifies its own signature");
    assert_eq!(verified.key_type, key.key_type());
}
