#![no_main]
// Fuzz target dkim_signature: the DKIM-Signature parser (RFC 6376 §3.5) and `b=` stripping (§3.7).
// The harness is `dkim::fuzzing::signature`; crates/dkim/tests/fuzz_seeds.rs replays
// fuzz/seeds/dkim_signature/ through it on stable.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| dkim::fuzzing::signature(data));
