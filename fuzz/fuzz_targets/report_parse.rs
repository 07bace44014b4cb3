#![no_main]
// Fuzz target report_parse: DMARC aggregate reports as received (XML, gzip, zip, mail, mbox;
// RFC 9990 §3.5.2, §8.1), parsed, written back in both formats and parsed again.
// Replayed on stable by crates/reports/tests/fuzz_seeds.rs.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    reports::fuzzing::report_parse(data);
});
