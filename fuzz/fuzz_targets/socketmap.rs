#![no_main]
// Fuzz target socketmap: the incremental netstring decoder (input fed in two chunks) and the
// request -> reply handler. The harness lives in `srs::fuzzing` so that
// `crates/srs/tests/fuzz_seeds.rs` replays fuzz/seeds/socketmap/ through the same code.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    srs::fuzzing::socketmap(data);
});
