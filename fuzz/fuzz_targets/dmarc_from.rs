#![no_main]
// Fuzz target dmarc_from: the From parser and author-domain extraction (RFC 5322 §3.4, RFC 9989
// §5.3.1). The harness is `dmarc::fuzzing::from`; crates/dmarc/tests/fuzz_seeds.rs replays
// fuzz/seeds/dmarc_from/ through it on stable.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| dmarc::fuzzing::from(data));
