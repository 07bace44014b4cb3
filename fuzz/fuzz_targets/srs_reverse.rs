#![no_main]
// Fuzz target srs_reverse: SRS address parsing and reverse, plus forward-then-reverse
// round trips. The harness lives in `srs::fuzzing` so that `crates/srs/tests/fuzz_seeds.rs`
// replays the seeds in fuzz/seeds/srs_reverse/ through the same code on stable.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    srs::fuzzing::srs_reverse(data);
});
