#![no_main]
// Fuzz target config: the milter.toml parser and validation; accepted configs print and parse
// again. The harness is `authmilter::fuzzing::config`; tests/fuzz_seeds.rs at the root replays
// fuzz/seeds/config/ through it on stable.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| authmilter::fuzzing::config(data));
