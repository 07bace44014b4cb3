#![no_main]
// Fuzz target socketmap: the incremental netstring decoder (input in two chunks) and the request
// handler. The harness is `srs::fuzzing::socketmap`; crates/srs/tests/fuzz_seeds.rs replays
// fuzz/seeds/socketmap/ through it on stable.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| srs::fuzzing::socketmap(data));
