#![no_main]
// Fuzz target private_key: private-key loading from PEM/DER (PKCS#1, PKCS#8; RSA, Ed25519), then
// sign and verify. The harness is `crypto::fuzzing::private_key`;
// crates/crypto/tests/fuzz_seeds.rs replays fuzz/seeds/private_key/ through it on stable.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| crypto::fuzzing::private_key(data));
