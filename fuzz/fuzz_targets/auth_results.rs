#![no_main]
// Fuzz target auth_results: the Authentication-Results parsers (RFC 8601 §2.2) and the
// formatter on whatever they accept. Replayed on stable by crates/authres/tests/fuzz_seeds.rs.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = authres::authserv_id(data);
    let _ = authres::parse_arc(data);
    let _ = authres::parse_lenient(data);
    if let Ok(ar) = authres::parse(data) {
        // what we accept, we can write back, and read again
        let text = ar.format(&authres::FormatOptions::milter());
        assert!(!text.contains('\r'));
        assert!(authres::parse(text.as_bytes()).is_ok(), "{text:?}");
    }
});
