#![no_main]
// Fuzz target arc_headers: the ARC header parsers (RFC 8617 §4.1) on the input as one field
// value, then the input as a whole message through chain validation (§5.2) and sealing
// (§5.1). The harness lives in `arc::fuzzing` so that crates/arc/tests/fuzz_seeds.rs replays
// fuzz/seeds/arc_headers/ through the same code on stable.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    arc::fuzzing::arc_headers(data);
});
