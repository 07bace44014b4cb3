#![no_main]
// Fuzz target dkim_verify: whole-message verification (RFC 6376 §6) with key records the fuzzer
// chooses. The harness is `dkim::fuzzing::verify`; crates/dkim/tests/fuzz_seeds.rs replays
// fuzz/seeds/dkim_verify/ through it on stable.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| dkim::fuzzing::verify(data));
