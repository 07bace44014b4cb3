#![no_main]
// Fuzz target srs_reverse: SRS address parsing and reverse, and forward-then-reverse round trips.
// The harness is `srs::fuzzing::srs_reverse`; crates/srs/tests/fuzz_seeds.rs replays
// fuzz/seeds/srs_reverse/ through it on stable.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| srs::fuzzing::srs_reverse(data));
