#![no_main]
// Fuzz target milter_session: arbitrary command sequences and responses through the milter
// Session; it must never owe or send a reply the protocol forbids. The harness is
// `milter_proto::fuzzing::session`; crates/milter-proto/tests/fuzz_seeds.rs replays
// fuzz/seeds/milter_session/ through it on stable.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| milter_proto::fuzzing::session(data));
