#![no_main]
// Fuzz target milter_frames: arbitrary bytes through the milter frame decoder, command and
// response parsers, and back through the encoders. The harness is `milter_proto::fuzzing::frames`;
// crates/milter-proto/tests/fuzz_seeds.rs replays fuzz/seeds/milter_frames/ through it on stable.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| milter_proto::fuzzing::frames(data));
