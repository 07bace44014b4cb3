#![no_main]
// Fuzz target dkim_key_record: the DKIM key record parser (RFC 6376 §3.6.1).
// Replayed on stable by crates/dkim/tests/fuzz_seeds.rs.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    dkim::fuzz::key_record(data);
});
