//! Entry points shared by the cargo-fuzz targets (`fuzz/fuzz_targets/dkim_*.rs`) and the stable
//! seed replay test, so both exercise exactly the same code.

use crate::canon::BodyHasher;
use crate::record::KeyRecord;
use crate::signature::{Canonicalization, Signature, strip_b_value};

/// DKIM-Signature parsing (RFC 6376 §3.5) and `b=` stripping (§3.7) must never panic.
pub fn signature(data: &[u8]) {
    if let Ok(sig) = Signature::parse(data) {
        let _ = sig.key_name();
        let _ = sig.check_time(0, 0);
    }
    let stripped = strip_b_value(data);
    assert!(stripped.len() <= data.len());
}

/// Key record parsing (RFC 6376 §3.6.1) must never panic.
pub fn key_record(data: &[u8]) {
    if let Ok(r) = KeyRecord::parse(data) {
        let _ = r.check_usable(
            crate::Algorithm::RsaSha256,
            Some("example.com"),
            "example.com",
        );
        let _ = r.check_usable(crate::Algorithm::Ed25519Sha256, None, "example.com");
    }
}

/// Streaming body canonicalization (RFC 6376 §3.4): any chunking gives the whole-body hash.
pub fn canon(data: &[u8]) {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let Some((&step, body)) = rest.split_first() else {
        return;
    };
    let canon = if control & 1 == 0 {
        Canonicalization::Simple
    } else {
        Canonicalization::Relaxed
    };
    let limit = (control & 2 != 0).then_some(u64::from(control >> 2));
    let step = usize::from(step).max(1);
    let mut whole = BodyHasher::new(canon, crypto::HashAlg::Sha256, limit);
    whole.update(body);
    let mut chunked = BodyHasher::new(canon, crypto::HashAlg::Sha256, limit);
    for c in body.chunks(step) {
        chunked.update(c);
    }
    assert_eq!(
        whole.finish(),
        chunked.finish(),
        "chunking changed the body hash"
    );
}
