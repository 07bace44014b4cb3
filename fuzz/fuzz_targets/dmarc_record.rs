#![no_main]
// Fuzz target dmarc_record: the DMARC record parser (RFC 9989 §4.7–§4.8).
// Replayed on stable by crates/dmarc/tests/fuzz_seeds.rs.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(record) = dmarc::parse_record(data) {
        // every accepted record is usable by the evaluator without panicking
        let _ = record.has_valid_policy(true);
        for uri in record.rua.iter().chain(record.ruf.iter()) {
            let _ = uri.mailto_address();
            let _ = uri.to_string();
        }
        assert!(record.pct <= 100);
    }
});
