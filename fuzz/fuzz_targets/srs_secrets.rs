#![no_main]
// Fuzz target srs_secrets: the SRS secrets file parser, then sign with each key and verify with
// all. The harness is `srs::fuzzing::secrets`; crates/srs/tests/fuzz_seeds.rs replays
// fuzz/seeds/srs_secrets/ through it on stable.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| srs::fuzzing::secrets(data));
