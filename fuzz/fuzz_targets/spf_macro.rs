#![no_main]
// Fuzz target spf_macro: the SPF macro parser and expander (RFC 7208 §7). The harness is
// `spf::fuzzing::spf_macro`; crates/spf/tests/fuzz_seeds.rs replays fuzz/seeds/spf_macro/ through
// it on stable.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| spf::fuzzing::spf_macro(data));
