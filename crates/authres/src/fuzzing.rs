//! Fuzz harness shared by `fuzz/fuzz_targets/auth_results.rs` and `tests/fuzz_seeds.rs`, so a
//! seed replays exactly what the fuzzer ran. Not part of the API; a panic here is a finding.

use crate::{FormatOptions, authserv_id, claims_authserv_id, parse, parse_arc, parse_lenient};

/// `auth_results`: every Authentication-Results parser (RFC 8601 §2.2) and the forged-id check
/// (RFC 8601 §5) on `data`; what the strict parser accepts must format without CR and parse
/// again.
pub fn auth_results(data: &[u8]) {
    let _ = authserv_id(data);
    let _ = claims_authserv_id(data, "mx.example.com");
    let _ = parse_arc(data);
    let _ = parse_lenient(data);
    if let Ok(ar) = parse(data) {
        let text = ar.format(&FormatOptions::milter());
        assert!(!text.contains('\r'));
        assert!(parse(text.as_bytes()).is_ok(), "{text:?}");
    }
}
