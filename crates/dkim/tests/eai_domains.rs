//! Internationalized domain names in signatures (RFC 8616 §5): in an internationalized
//! message `d=` and `s=` may be U-labels (the hash covers them as written), but the key record
//! lives in the DNS under the A-label name (RFC 5890 §2.3.2.1).

mod common;

use base64::Engine;
use dkim::{DkimResult, DnsKeyRecord, Signature, Verifier, parse_message};
use dns::memory::MemoryResolver;
use test_support::block_on;

const NOW: u64 = 1_700_000_000;

/// Signs `message` (which starts with a DKIM-Signature whose `b=` is `AAAA`) by hand with the
/// Ed25519 test key, as a signer that writes U-labels would.
fn sign_by_hand(message: &str) -> String {
    let key = crypto::default_provider()
        .signing_key(&common::read("keys/ed25519.pem"))
        .unwrap();
    let msg = parse_message(message.as_bytes());
    let sig = Signature::parse(&msg.headers[0].value).unwrap();
    let data = dkim::verify::header_hash_input(&msg.headers, 0, &sig);
    let b = key.sign(&crypto::sha256(&data)).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(b);
    message.replacen("b=AAAA", &format!("b={b64}"), 1)
}

fn body_hash(body: &[u8]) -> String {
    let mut h = dkim::BodyHasher::new(
        dkim::Canonicalization::Relaxed,
        crypto::HashAlg::Sha256,
        None,
    );
    h.update(body);
    base64::engine::general_purpose::STANDARD.encode(h.finish().digest)
}

#[test]
fn key_name_uses_a_labels() {
    let sig = Signature::parse(
        "v=1; a=ed25519-sha256; d=Bücher.example; s=sélecteur; h=from; bh=AA==; b=AA==".as_bytes(),
    )
    .unwrap();
    assert_eq!(
        sig.key_name(),
        "xn--slecteur-b1a._domainkey.xn--bcher-kva.example"
    );
    assert_eq!(
        dkim::key_name("s", "BÜCHER.example"),
        "s._domainkey.xn--bcher-kva.example"
    );
    // ASCII names are only lowercased
    assert_eq!(
        dkim::key_name("S1", "Example.COM"),
        "s1._domainkey.example.com"
    );
}

#[test]
fn a_u_label_signature_verifies_with_the_key_at_the_a_label_name() {
    let key = crypto::default_provider()
        .signing_key(&common::read("keys/ed25519.pem"))
        .unwrap();
    let resolver = MemoryResolver::new();
    resolver.add_txt(
        "s._domainkey.xn--bcher-kva.example",
        DnsKeyRecord::for_key(&*key).text(),
    );
    let body = "Hallo.\r\n";
    let unsigned = format!(
        "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=bücher.example;\r\n\
         \ts=s; t={NOW}; h=from:subject; bh={}; b=AAAA\r\n\
         From: Jörg <jörg@bücher.example>\r\n\
         Subject: Bücher\r\n\
         \r\n\
         {body}",
        body_hash(body.as_bytes())
    );
    let signed = sign_by_hand(&unsigned);
    let results = block_on(dkim::verify_message(
        &Verifier::default(),
        &resolver,
        signed.as_bytes(),
        NOW + 10,
    ));
    assert_eq!(results.len(), 1);
    assert_eq!(
        results[0].result,
        DkimResult::Pass,
        "{:?}",
        results[0].reason
    );
    assert_eq!(results[0].domain, "bücher.example");
}

/// `i=` must be in `d=` or below it (RFC 6376 §3.5); a U-label and its A-label are the same
/// domain (RFC 8616 §5 lets either form appear).
#[test]
fn identity_and_domain_compare_as_a_labels() {
    for (d, i) in [
        ("xn--bcher-kva.example", "@bücher.example"),
        ("bücher.example", "jörg@mail.xn--bcher-kva.example"),
        ("BÜCHER.example", "@bücher.example"),
    ] {
        let tags = format!("v=1; a=ed25519-sha256; d={d}; i={i}; s=s; h=from; bh=AA==; b=AA==");
        assert!(Signature::parse(tags.as_bytes()).is_ok(), "d={d} i={i}");
    }
    let other =
        "v=1; a=ed25519-sha256; d=bücher.example; i=@bucher.example; s=s; h=from; bh=AA==; b=AA==";
    assert_eq!(
        Signature::parse(other.as_bytes()).unwrap_err().reason,
        dkim::Reason::IdentityMismatch
    );
}

/// A `d=` or `s=` with no A-label form (here a label mixing a left-to-right letter with a
/// Hebrew one, which IDNA's bidi rule refuses, RFC 5893 §2) names no key record: the
/// signature is a syntax error, and no query goes out under the raw 8-bit name, where a
/// neighbour in the parent zone could have published a key (RFC 8616 §5, RFC 5891 §4).
#[test]
fn a_name_without_an_a_label_form_is_refused() {
    for (d, s) in [("bücher.example", "aא"), ("aא.evil.example", "s")] {
        let tags = format!("v=1; a=ed25519-sha256; d={d}; s={s}; h=from; bh=AA==; b=AA==");
        assert!(
            matches!(
                Signature::parse(tags.as_bytes()).map_err(|e| e.reason),
                Err(dkim::Reason::SignatureSyntax(_))
            ),
            "d={d} s={s}"
        );
    }
    // and the DNS crate never sends a raw 8-bit name
    assert!(dns::normalize_name("aא._domainkey.bücher.example").is_err());
}

/// U-labels with combining marks are ordinary IDNs (RFC 5892: the virama U+094D is PVALID,
/// ZWJ allowed after it): `d=हिन्दी.example` and `d=क्‍ष.example` are read (they were refused
/// as syntax errors, failing DMARC for legitimate IDN senders), while an `i=` whose domain has
/// no A-label form, or a fullwidth dot that IDNA would map to a label separator, is refused as
/// `d=` is.
#[test]
fn idns_with_combining_marks_are_read_and_unconvertible_identities_refused() {
    for d in ["हिन्दी.example", "क्\u{200d}ष.example"] {
        let tags = format!("v=1; a=ed25519-sha256; d={d}; s=s; h=from; bh=AA==; b=AA==");
        let sig = Signature::parse(tags.as_bytes());
        assert!(sig.is_ok(), "d={d}: {sig:?}");
    }
    assert_eq!(
        Signature::parse(
            "v=1; a=ed25519-sha256; d=हिन्दी.example; s=s; h=from; bh=AA==; b=AA==".as_bytes()
        )
        .unwrap()
        .key_name(),
        "s._domainkey.xn--j2bd4cyah0f.example"
    );
    for (d, i) in [
        ("victim.example", "@aא.victim.example"),
        ("victim.example", "jürgen@aא.victim.example"),
        ("victim.example", "@victim\u{ff0e}example"),
        ("victim\u{ff0e}example", "@victim.example"),
    ] {
        let tags = format!("v=1; a=ed25519-sha256; d={d}; i={i}; s=s; h=from; bh=AA==; b=AA==");
        assert!(
            matches!(
                Signature::parse(tags.as_bytes()).map_err(|e| e.reason),
                Err(dkim::Reason::SignatureSyntax(_))
            ),
            "d={d} i={i}"
        );
    }
}
