#![no_main]
// Fuzz target spf_macro: the SPF macro parser and expander (RFC 7208 §7). The first byte picks
// the context (domain-spec / modifier / explanation, IPv4 / IPv6, with or without %{p}). The
// harness lives in `spf::fuzzing`; `crates/spf/tests/fuzz_seeds.rs` replays
// fuzz/seeds/spf_macro/ on stable.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    spf::fuzzing::spf_macro(data);
});
