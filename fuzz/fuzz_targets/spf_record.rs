#![no_main]
// Fuzz target spf_record: the SPF record parser (RFC 7208 §4.6, §12), then a full check_host()
// evaluation of the record against an in-memory zone. The harness lives in `spf::fuzzing` so
// that `crates/spf/tests/fuzz_seeds.rs` replays fuzz/seeds/spf_record/ through the same code on
// stable.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    spf::fuzzing::spf_record(data);
});
