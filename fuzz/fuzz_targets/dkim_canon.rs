#![no_main]
// Fuzz target dkim_canon: the streaming body hasher with arbitrary chunking (RFC 6376 §3.4).
// The first bytes choose canonicalization, l= and chunk sizes; the rest is the body. Checks that
// chunked and whole hashing agree. Replayed on stable by crates/dkim/tests/fuzz_seeds.rs.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    dkim::fuzz::canon(data);
});
