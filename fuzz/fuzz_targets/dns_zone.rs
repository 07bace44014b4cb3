#![no_main]
// Fuzz target dns_zone: the in-memory resolver's zone-text parser and the answers it then gives.
// The harness is `dns::fuzzing::zone`; crates/dns/tests/fuzz_seeds.rs replays fuzz/seeds/dns_zone/
// through it on stable.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| dns::fuzzing::zone(data));
