//! Chains where dkimpy (1.1.8) or OpenARC (flowerysong/OpenARC) answer otherwise than RFC
//! 8617 (importing RFC 6376), found by the seeded ARC differential of the fifth audit: each
//! fixture pins our answer and says who deviates and why the RFC gives ours.
//!
//! The fixtures (`tests/data/peer-deviations/*.txt`: key records, an empty line, the message)
//! are correctly signed chains written by a hand-made sealer with the 2048-bit key of
//! `a.example` at t=1700000000.

mod common;

use arc::{ChainStatus, Verifier};

/// The seals' t=.
const T: u64 = 1_700_000_000;

fn outcome(name: &str, now: u64) -> arc::ArcOutcome {
    let (resolver, raw) =
        common::zone_and_message(&common::read(&format!("peer-deviations/{name}.txt")));
    common::block_on(arc::verify_message(
        &Verifier::default(),
        &resolver,
        &raw,
        now,
    ))
}

/// (fixture, our result, who deviates, why ours is the RFC's).
const PINNED: &[(&str, ChainStatus, &str)] = &[
    (
        "as-bh",
        ChainStatus::Pass,
        "dkimpy fails a seal carrying bh=: RFC 8617 §4.1.3 gives the ARC-Seal no bh= (only \
         i, a, b, d, s, t), and RFC 6376 §3.2 ignores tags it does not know",
    ),
    (
        "as-c-simple",
        ChainStatus::Pass,
        "dkimpy applies a seal's c=simple/simple: RFC 8617 §4.1.3, only relaxed header \
         canonicalization is used for the ARC-Seal",
    ),
    (
        "interleaved",
        ChainStatus::Pass,
        "dkimpy fails sets interleaved with other fields and set 1 above set 2: RFC 8617 \
         §5.1.1 feeds the sets to the seal hash by instance, not by position",
    ),
    (
        "two-from-fields",
        ChainStatus::Pass,
        "dkimpy fails an AMS with h=from over two From fields: RFC 6376 §5.4.2 selects the \
         last one (the From rules belong to DMARC, which sees both)",
    ),
    (
        "ams-h-lists-its-own-field",
        ChainStatus::Pass,
        "dkimpy and OpenARC hash the AMS being verified for its own h= entry: RFC 6376 §3.5 \
         h= must not include the signature field being created or verified, so the entry \
         names only other ARC-Message-Signature fields (none at i=1)",
    ),
    (
        "empty-body-simple",
        ChainStatus::Pass,
        "OpenARC hashes an empty body as nothing under c=*/simple: RFC 6376 §3.4.3 makes \
         it one CRLF",
    ),
    (
        "aar-uppercase-instance",
        ChainStatus::Fail,
        "dkimpy reads `I=2` as the AAR's instance: RFC 8617 §3, instance = [CFWS] %s\"i\" \
         [CFWS] \"=\" ..., a case-sensitive i",
    ),
    (
        "only-instance-0",
        ChainStatus::Fail,
        "dkimpy drops an ARC set with i=0 and says none: RFC 8617 §4.2.1 (1 to 50) and §5.2 \
         step 3, a chain with ARC fields but a broken structure is fail",
    ),
    (
        "key-sha1-only",
        ChainStatus::Fail,
        "dkimpy ignores the key record's h=sha1 for an rsa-sha256 AMS: RFC 6376 §3.6.1 h=, \
         §6.1.2 step 6",
    ),
];

#[test]
fn peer_deviations_keep_the_rfc_answer() {
    for (name, want, why) in PINNED {
        let o = outcome(name, T + 60);
        assert_eq!(o.result, *want, "{name} ({why}): {:?}", o.reason);
    }
    assert_eq!(PINNED.len(), 9);
}

/// RFC 8617 §4.1.3: "the only supported tags are "i" ..., and "a", "b", "d", "s", and "t""
/// (with `cv`); any other tag on an ARC-Seal is ignored as RFC 6376 §3.2 ignores tags it does
/// not know, `h=` alone failing the seal. OpenARC writes x= on its seals when SignatureTTL is
/// set and validates them without it; an expired, or even inverted, x= or an unknown q= does
/// not break the seal (dkimpy fails all three).
#[test]
fn arc_seal_ignores_the_tags_rfc8617_does_not_give_it() {
    for name in ["as-x-expired", "as-x-before-t", "as-q-other"] {
        let o = outcome(name, T + 3600);
        assert_eq!(o.result, ChainStatus::Pass, "{name}: {:?}", o.reason);
        assert_eq!(o.instances, 2, "{name}");
    }
}
