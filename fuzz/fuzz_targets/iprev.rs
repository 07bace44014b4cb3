#![no_main]
// Fuzz target iprev: the iprev check (RFC 8601 §3) against PTR and A/AAAA answers the fuzzer
// chooses. The harness is `iprev::fuzzing::answers`; crates/iprev/tests/fuzz_seeds.rs replays
// fuzz/seeds/iprev/ through it on stable.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| iprev::fuzzing::answers(data));
