#![no_main]
// Fuzz target pipeline: one whole message (envelope, header fields, body) through the message
// pipeline against scripted DNS answers: SPF, DKIM, ARC, DMARC, iprev, A-R, signing and
// sealing together. The harness is `authmilter::fuzzing::pipeline`; tests/fuzz_seeds.rs at
// the root replays fuzz/seeds/pipeline/ through it on stable.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| authmilter::fuzzing::pipeline(data));
