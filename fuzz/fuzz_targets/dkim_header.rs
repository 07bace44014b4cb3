#![no_main]
// Fuzz target dkim_header: header canonicalization and h= selection (RFC 6376 §3.4.1–§3.4.2,
// §5.4.2). The harness is `dkim::fuzzing::header`; crates/dkim/tests/fuzz_seeds.rs replays
// fuzz/seeds/dkim_header/ through it on stable.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| dkim::fuzzing::header(data));
