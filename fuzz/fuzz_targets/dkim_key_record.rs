#![no_main]
// Fuzz target dkim_key_record: the DKIM key record parser (RFC 6376 §3.6.1). The harness is
// `dkim::fuzzing::key_record`; crates/dkim/tests/fuzz_seeds.rs replays fuzz/seeds/dkim_key_record/
// through it on stable.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| dkim::fuzzing::key_record(data));
