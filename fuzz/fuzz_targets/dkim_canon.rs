#![no_main]
// Fuzz target dkim_canon: the streaming body hasher with arbitrary chunking (RFC 6376 §3.4);
// chunked and whole hashing must agree. The harness is `dkim::fuzzing::canon`;
// crates/dkim/tests/fuzz_seeds.rs replays fuzz/seeds/dkim_canon/ through it on stable.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| dkim::fuzzing::canon(data));
