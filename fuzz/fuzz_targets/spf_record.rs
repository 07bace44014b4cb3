#![no_main]
// Fuzz target spf_record: the SPF record parser (RFC 7208 §4.6, §12), then check_host() over an
// in-memory zone. The harness is `spf::fuzzing::spf_record`; crates/spf/tests/fuzz_seeds.rs
// replays fuzz/seeds/spf_record/ through it on stable.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| spf::fuzzing::spf_record(data));
