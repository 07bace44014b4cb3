#![no_main]
//! Fuzz target milter_frames: arbitrary bytes through the frame decoder, command and response
//! parsers, and back through the encoders (milter_proto::fuzzing::frames).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| milter_proto::fuzzing::frames(data));
