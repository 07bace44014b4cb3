#![no_main]
// Fuzz target dmarc_discovery: policy discovery and evaluation (RFC 9989 §4.10, §5.3; RFC 7489
// §6.6) against DNS answers (records, NXDOMAIN, SERVFAIL, timeouts) the fuzzer chooses. The
// harness is `dmarc::fuzzing::discovery`; crates/dmarc/tests/fuzz_seeds.rs replays
// fuzz/seeds/dmarc_discovery/ through it on stable.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| dmarc::fuzzing::discovery(data));
