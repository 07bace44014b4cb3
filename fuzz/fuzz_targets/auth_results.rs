#![no_main]
// Fuzz target auth_results: the Authentication-Results parsers (RFC 8601 §2.2) and the formatter
// on what they accept. The harness is `authres::fuzzing::auth_results`;
// crates/authres/tests/fuzz_seeds.rs replays fuzz/seeds/auth_results/ through it on stable.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| authres::fuzzing::auth_results(data));
