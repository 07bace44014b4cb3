//! Property: any split of a body into chunks gives the same body hash as hashing it whole
//! (RFC 6376 §3.4.3/§3.4.4 state carried across milter BODY chunks), for simple and relaxed,
//! with and without `l=`; splits land inside CRLF and inside whitespace runs.

use dkim::{BodyHasher, Canonicalization};
use proptest::prelude::*;

fn body_strategy() -> impl Strategy<Value = Vec<u8>> {
    // Bodies built from the troublesome pieces: CR, LF, CRLF, runs of SP/TAB, letters.
    let piece = prop_oneof![
        Just(b"\r\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"\n".to_vec()),
        Just(b" ".to_vec()),
        Just(b"\t".to_vec()),
        Just(b"  \t ".to_vec()),
        Just(b"\r\n\r\n\r\n".to_vec()),
        "[a-z]{1,5}".prop_map(String::into_bytes),
    ];
    prop::collection::vec(piece, 0..60).prop_map(|v| v.concat())
}

fn hash(canon: Canonicalization, limit: Option<u64>, chunks: &[&[u8]]) -> dkim::BodyHash {
    let mut h = BodyHasher::new(canon, crypto::HashAlg::Sha256, limit);
    for c in chunks {
        h.update(c);
    }
    h.finish()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn chunking_does_not_change_the_hash(
        body in body_strategy(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
        limit in prop::option::of(0u64..200),
        relaxed in any::<bool>(),
    ) {
        let canon = if relaxed { Canonicalization::Relaxed } else { Canonicalization::Simple };
        let whole = hash(canon, limit, &[&body]);
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(body.len() + 1)).collect();
        points.sort_unstable();
        let mut chunks: Vec<&[u8]> = Vec::new();
        let mut start = 0;
        for p in points {
            chunks.push(&body[start..p]);
            start = p;
        }
        chunks.push(&body[start..]);
        prop_assert_eq!(hash(canon, limit, &chunks), whole.clone());
        // Byte by byte too.
        let bytes: Vec<&[u8]> = body.chunks(1).collect();
        prop_assert_eq!(hash(canon, limit, &bytes), whole);
    }

    #[test]
    fn canonical_length_is_bounded(body in body_strategy()) {
        // Relaxed canonicalization never grows a CRLF-only body by more than the final CRLF.
        let crlf_only: Vec<u8> = String::from_utf8_lossy(&body)
            .replace("\r\n", "\u{1}").replace(['\r', '\n'], "").replace('\u{1}', "\r\n")
            .into_bytes();
        let once = hash(Canonicalization::Relaxed, None, &[&crlf_only]);
        prop_assert!(once.canonical_length <= crlf_only.len() as u64 + 2);
    }
}
