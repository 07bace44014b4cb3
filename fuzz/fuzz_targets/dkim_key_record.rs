#![no_main]
// Fuzz target dkim_key_record: written with the crate it exercises.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|_data: &[u8]| {});
