#![no_main]
// Fuzz target dmarc_record: the DMARC record parser (RFC 9989 §4.7–§4.8). The harness is
// `dmarc::fuzzing::record`; crates/dmarc/tests/fuzz_seeds.rs replays fuzz/seeds/dmarc_record/
// through it on stable.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| dmarc::fuzzing::record(data));
