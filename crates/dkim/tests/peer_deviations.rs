//! Where dkimpy 1.1.8 or OpenDKIM 2.11.0~beta2 answer differently from RFC 6376, found by a
//! seeded differential against both: each case here pins our answer, with the RFC text that
//! decides it and the peer that differs.
//!
//! The signatures are made in the test itself: the header data each one signs (RFC 6376
//! §3.7) is written out by hand below as the RFC text gives it, not computed by this crate,
//! so the test checks the verifier against the RFC rather than against itself.

mod common;

use base64::Engine;
use dkim::{DkimResult, DnsKeyRecord, Verifier};
use dns::memory::MemoryResolver;
use test_support::block_on;

const NOW: u64 = 1_700_000_000;
/// The body every case carries, and its relaxed and simple canonical forms (§3.4.3, §3.4.4).
const BODY: &str = "Hello  there \r\n\r\n";
const BODY_CANONICAL: &str = "Hello there\r\n";

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

fn key() -> Box<dyn crypto::SigningKey> {
    crypto::default_provider()
        .signing_key(&common::read("keys/ed25519.pem"))
        .unwrap()
}

/// Signs `header_data` (the §3.7 input, written out by the caller) with Ed25519 (RFC 8463 §3:
/// the SHA-256 digest of it is what is signed) and returns `message` with `{b}` replaced by
/// the signature and `{bh}` by the hash of `canonical_body`.
fn signed(message: &str, header_data: &str, canonical_body: &str) -> String {
    let bh = b64(&crypto::sha256(canonical_body.as_bytes()));
    let data = header_data.replace("{bh}", &bh);
    let sig = key().sign(&crypto::sha256(data.as_bytes())).unwrap();
    message.replace("{bh}", &bh).replace("{b}", &b64(&sig))
}

fn verify(message: &str) -> Vec<DkimResult> {
    verify_with_record(message, &DnsKeyRecord::for_key(&*key()).text())
}

fn verify_with_record(message: &str, record: &str) -> Vec<DkimResult> {
    let resolver = MemoryResolver::new();
    resolver.add_txt("sel._domainkey.example.com", record);
    block_on(dkim::verify_message(
        &Verifier::default(),
        &resolver,
        message.as_bytes(),
        NOW,
    ))
    .into_iter()
    .map(|r| r.result)
    .collect()
}

/// RFC 6376 §3.7: the signature field is hashed "with the value of the "b=" tag (including all
/// surrounding whitespace) deleted". White space between the value and the `;` that ends it
/// goes with the value. dkimpy's `RE_BTAG` keeps it, and fails such a signature.
#[test]
fn b_removal_takes_the_whitespace_after_the_value() {
    let message = "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.com;\r\n \
                   s=sel; h=from:subject; bh={bh}; b={b} \t\r\n ;\r\n\
                   From: a@example.com\r\nSubject: hi\r\n\r\n";
    let data = "from:a@example.com\r\nsubject:hi\r\n\
                dkim-signature:v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.com; \
                s=sel; h=from:subject; bh={bh}; b=;";
    let m = signed(&format!("{message}{BODY}"), data, BODY_CANONICAL);
    assert_eq!(verify(&m), [DkimResult::Pass]);
}

/// RFC 6376 §3.2: a tag-list may start with its `b=` tag, with no white space before it (the
/// FWS before a tag-spec is optional), and §3.7 deletes its value wherever it stands. dkimpy
/// looks for `b=` only after a `;` or white space and so hashes the signature whole: fail.
#[test]
fn b_tag_first_in_the_field_without_white_space() {
    let message = "DKIM-Signature:b={b}; v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n \
                   d=example.com; s=sel; h=from; bh={bh}\r\nFrom: a@example.com\r\n\r\n";
    let data = "from:a@example.com\r\n\
                dkim-signature:b=; v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.com; \
                s=sel; h=from; bh={bh}";
    let m = signed(&format!("{message}{BODY}"), data, BODY_CANONICAL);
    assert_eq!(verify(&m), [DkimResult::Pass]);
}

/// RFC 6376 §3.2 `tag-spec = [FWS] tag-name [FWS] "=" [FWS] tag-value [FWS]`: white space may
/// stand between `b` and `=`, and the value after it is still the one §3.7 deletes (simple
/// header canonicalization, §3.4.1: every other byte stays). OpenDKIM does not find a `b =`
/// tag when it deletes the value, hashes it whole and reports "signature verification failed".
#[test]
fn white_space_between_b_and_the_equals_sign() {
    let message = "DKIM-Signature: v=1; a=ed25519-sha256; c=simple/relaxed; d=example.com;\r\n \
                   s=sel; h=from; bh={bh}; b\t= {b}\r\nFrom: a@example.com\r\n\r\n";
    let data = "From: a@example.com\r\n\
                DKIM-Signature: v=1; a=ed25519-sha256; c=simple/relaxed; d=example.com;\r\n \
                s=sel; h=from; bh={bh}; b\t=";
    let m = signed(&format!("{message}{BODY}"), data, BODY_CANONICAL);
    assert_eq!(verify(&m), [DkimResult::Pass]);
}

/// RFC 6376 §3.2, §3.7: only the value of the tag named `b` is deleted; an unknown tag whose
/// value holds `b=` (ignored, §3.5 "Unrecognized tags MUST be ignored") is hashed as it is.
/// OpenDKIM deletes after that inner `b=` too: "signature verification failed".
#[test]
fn an_unknown_tag_holding_b_equals_is_hashed_whole() {
    let message = "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.com;\r\n \
                   s=sel; h=from; xb=b=abc; bh={bh}; b={b}\r\nFrom: a@example.com\r\n\r\n";
    let data = "from:a@example.com\r\n\
                dkim-signature:v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.com; \
                s=sel; h=from; xb=b=abc; bh={bh}; b=";
    let m = signed(&format!("{message}{BODY}"), data, BODY_CANONICAL);
    assert_eq!(verify(&m), [DkimResult::Pass]);
}

/// RFC 6376 §5.4.2 selects fields bottom-up and "nonexistent header fields" (here a second
/// DKIM-Signature that was not there) sign as nothing; the field being verified was not in the
/// message when it was signed (§3.7 hashes it last, on its own), so it is never one of the
/// fields `h=` selects. dkimpy selects it for the second `dkim-signature`: fail.
#[test]
fn over_signed_dkim_signature_never_selects_the_field_being_verified() {
    let below = "DKIM-Signature: v=1; a=ed25519-sha256; d=other.example; s=x; h=from;\r\n \
                 bh=AAAA; b=AAAA";
    let message = format!(
        "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.com; s=sel;\r\n \
         h=from:dkim-signature:dkim-signature; bh={{bh}}; b={{b}}\r\n{below}\r\n\
         From: a@example.com\r\n\r\n{BODY}"
    );
    let data = "from:a@example.com\r\n\
                dkim-signature:v=1; a=ed25519-sha256; d=other.example; s=x; h=from; bh=AAAA; \
                b=AAAA\r\n\
                dkim-signature:v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.com; s=sel; \
                h=from:dkim-signature:dkim-signature; bh={bh}; b=";
    let m = signed(&message, data, BODY_CANONICAL);
    // ours passes; the junk signature below fails on its own (no key)
    assert_eq!(verify(&m), [DkimResult::Pass, DkimResult::PermError]);
}

/// RFC 6376 §3.4.4 (a) "Ignore all whitespace at the end of lines", then (b) "If the body is
/// non-empty but does not end with a CRLF, a CRLF is added": the last line of a body without
/// a final CRLF loses its trailing WSP like any other, as Mail::DKIM has it, and as the body
/// canonicalizes once an MTA has ended that line (SMTP cannot carry it otherwise, §3.4.4).
/// dkimpy and OpenDKIM keep the WSP of such a last line and fail this signature.
#[test]
fn relaxed_body_drops_white_space_at_the_end_of_an_unterminated_last_line() {
    let message = "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.com;\r\n \
                   s=sel; h=from; bh={bh}; b={b}\r\nFrom: a@example.com\r\n\r\n\
                   one \r\nlast line \t";
    let data = "from:a@example.com\r\n\
                dkim-signature:v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.com; \
                s=sel; h=from; bh={bh}; b=";
    let m = signed(message, data, "one\r\nlast line\r\n");
    assert_eq!(verify(&m), [DkimResult::Pass]);
}

/// RFC 5322 §4.5.3 allows white space before the colon (`obs-from = "From" *WSP ":" ...`),
/// and RFC 6376 §3.4.2 deletes it ("Delete any WSP characters remaining before and after the
/// colon"): `From :` is the From field `h=` names, as Postfix and Sendmail pass it (unless it
/// is the first line, which both take for an mbox separator: docs/dmarc.md). dkimpy drops a
/// `From :` line anywhere as an mbox `From ` separator, and fails the signature.
#[test]
fn a_from_field_with_white_space_before_the_colon_is_signed() {
    let message = "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.com;\r\n \
                   s=sel; h=from:to; bh={bh}; b={b}\r\nTo: b@example.net\r\n\
                   From : a@example.com\r\n\r\n";
    let data = "from:a@example.com\r\nto:b@example.net\r\n\
                dkim-signature:v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.com; \
                s=sel; h=from:to; bh={bh}; b=";
    let m = signed(&format!("{message}{BODY}"), data, BODY_CANONICAL);
    assert_eq!(verify(&m), [DkimResult::Pass]);
}

/// RFC 6376 §3.2: "if a tag name does occur more than once, the entire tag-list is invalid",
/// so a signature with two `s=` tags is a PERMFAIL (§6.1.1) however well it verifies.
/// OpenDKIM takes one of them and passes it.
#[test]
fn a_duplicate_tag_makes_a_verifying_signature_permerror() {
    let message = "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.com;\r\n \
                   s=sel; h=from; s=sel; bh={bh}; b={b}\r\nFrom: a@example.com\r\n\r\n";
    let data = "from:a@example.com\r\n\
                dkim-signature:v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.com; \
                s=sel; h=from; s=sel; bh={bh}; b=";
    let m = signed(&format!("{message}{BODY}"), data, BODY_CANONICAL);
    assert_eq!(verify(&m), [DkimResult::PermError]);
}

/// RFC 6376 §2.11: base64 values are "as defined in [RFC2045], Section 6.8", which pads the
/// last group with `=`: a `b=` without its padding is not base64, and the signature a syntax
/// error (§6.1.1). OpenDKIM decodes it anyway and passes it; dkimpy refuses it as we do.
#[test]
fn a_b_value_without_its_padding_is_a_syntax_error() {
    let message = "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.com;\r\n \
                   s=sel; h=from; bh={bh}; b={b}\r\nFrom: a@example.com\r\n\r\n";
    let data = "from:a@example.com\r\n\
                dkim-signature:v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.com; \
                s=sel; h=from; bh={bh}; b=";
    let m = signed(&format!("{message}{BODY}"), data, BODY_CANONICAL);
    assert_eq!(verify(&m), [DkimResult::Pass]);
    // an Ed25519 signature is 64 octets: 86 base64 characters and "=="
    let unpadded = m.replacen("==\r\nFrom:", "\r\nFrom:", 1);
    assert_ne!(unpadded, m);
    assert_eq!(verify(&unpadded), [DkimResult::PermError]);
}

/// RFC 6376 §3.6.1: a key record without `k=` is an RSA key ("k= ... default is rsa"), and
/// RFC 8463 §4.2 publishes Ed25519 keys with `k=ed25519`: such a record cannot verify an
/// `ed25519-sha256` signature (§6.1.2 step 8, "inappropriate key algorithm"). OpenDKIM takes
/// the key type from `a=` and passes it.
#[test]
fn an_ed25519_key_record_without_k_is_no_ed25519_key() {
    let message = "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.com;\r\n \
                   s=sel; h=from; bh={bh}; b={b}\r\nFrom: a@example.com\r\n\r\n";
    let data = "from:a@example.com\r\n\
                dkim-signature:v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.com; \
                s=sel; h=from; bh={bh}; b=";
    let m = signed(&format!("{message}{BODY}"), data, BODY_CANONICAL);
    let p = b64(&key().public_key_dns());
    assert_eq!(
        verify_with_record(&m, &format!("v=DKIM1; k=ed25519; p={p}")),
        [DkimResult::Pass]
    );
    assert_eq!(
        verify_with_record(&m, &format!("v=DKIM1; p={p}")),
        [DkimResult::PermError]
    );
}
