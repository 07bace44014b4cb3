#![no_main]
// Fuzz target dkim_signature: the DKIM-Signature parser (RFC 6376 §3.5) and the b= stripping
// used for the header hash (§3.7). Replayed on stable by crates/dkim/tests/fuzz_seeds.rs.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    dkim::fuzz::signature(data);
});
