#![no_main]
//! Fuzz target milter_session: arbitrary command sequences and attempted responses through
//! Session; it must never panic and never owe or send a reply the protocol forbids
//! (milter_proto::fuzzing::session).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| milter_proto::fuzzing::session(data));
