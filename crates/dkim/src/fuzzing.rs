//! Entry points shared by the cargo-fuzz targets (`fuzz/fuzz_targets/dkim_*.rs`) and the stable
//! seed replay test (`tests/fuzz_seeds.rs`), so both exercise exactly the same code. Not part of
//! the API; a panic here is a finding.

use dns::fuzzing::{block_on, split_script};

use crate::canon::{BodyHasher, canonicalize_header, select_headers};
use crate::message::{HeaderField, parse_message};
use crate::record::KeyRecord;
use crate::signature::{Canonicalization, HEADER_NAME, Signature, strip_b_value};
use crate::verify::{Verifier, VerifyOptions, key_name};
use crate::{DkimResult, verify_message};

/// The clock of the `dkim_verify` harness (2023-11-14), so seeds replay the same way forever.
const FUZZ_NOW: u64 = 1_700_000_000;
/// At most this many `h=` names are taken from a `dkim_header` input.
const MAX_NAMES: usize = 64;

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

/// `dkim_header`: header canonicalization (RFC 6376 §3.4.1–§3.4.2) and header selection
/// (§5.4.2). The first line is an `h=` list (names separated by `:`), the rest a header block.
///
/// Checks: `simple` changes nothing; `relaxed` output is one line, lowercase name, no
/// whitespace runs, and canonicalizing it again changes nothing; selection picks each field at
/// most once, never the skipped one, bottom-up per name exactly as a direct reading of §5.4.2.
pub fn header(data: &[u8]) {
    let (list, block) = match data.iter().position(|&b| b == b'\n') {
        Some(at) => (
            data.get(..at).unwrap_or_default(),
            data.get(at + 1..).unwrap_or_default(),
        ),
        None => (data, &[][..]),
    };
    let headers = parse_message(block).headers;
    for field in &headers {
        let mut simple = Vec::new();
        canonicalize_header(
            Canonicalization::Simple,
            &field.name,
            &field.value,
            &mut simple,
        );
        let mut want = field.name.clone();
        want.push(b':');
        want.extend_from_slice(&field.value);
        want.extend_from_slice(b"\r\n");
        assert_eq!(
            simple, want,
            "simple header canonicalization changed the field"
        );
        check_relaxed(field);
    }
    let names: Vec<String> = String::from_utf8_lossy(list)
        .split(':')
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .take(MAX_NAMES)
        .collect();
    let skip = headers.iter().position(|h| h.name_is(HEADER_NAME));
    let selected = select_headers(&headers, &names, skip);
    let index_of = |f: &HeaderField| headers.iter().position(|h| std::ptr::eq(h, f));
    let got: Vec<Option<usize>> = selected.iter().map(|f| index_of(f)).collect();
    assert_eq!(got, select_reference(&headers, &names, skip), "{names:?}");
}

/// Relaxed header canonicalization of one field, checked against RFC 6376 §3.4.2.
fn check_relaxed(field: &HeaderField) {
    let mut out = Vec::new();
    canonicalize_header(
        Canonicalization::Relaxed,
        &field.name,
        &field.value,
        &mut out,
    );
    let line = out.strip_suffix(b"\r\n").expect("ends with CRLF");
    let mut name = field.name.as_slice();
    while let [rest @ .., b' ' | b'\t'] = name {
        name = rest;
    }
    let name = name.to_ascii_lowercase();
    let value = line
        .strip_prefix(name.as_slice())
        .and_then(|v| v.strip_prefix(b":"))
        .expect("the lowercase name, then a colon");
    assert!(
        !value.starts_with(b" ") && !value.ends_with(b" "),
        "{value:?}"
    );
    assert!(!value.windows(2).any(|w| w == b"  "), "whitespace run kept");
    // every CRLF is unfolded away and HTAB is WSP; a lone CR is data and stays (RFC 6376
    // §3.4.2 unfolds and reduces WSP only), and no lone LF reaches here (fields' bare LFs
    // are CRLF, RFC 5322 §2.1)
    assert!(
        !value.iter().any(|&b| matches!(b, b'\t' | b'\n')),
        "{value:?}"
    );
    let mut again = Vec::new();
    canonicalize_header(Canonicalization::Relaxed, &name, value, &mut again);
    assert_eq!(again, out, "relaxed canonicalization is not idempotent");
}

/// RFC 6376 §5.4.2 read directly: the n-th occurrence of a name in `h=` takes the n-th field of
/// that name counted from the bottom, the skipped field not counting; none left, nothing.
fn select_reference(
    headers: &[HeaderField],
    names: &[String],
    skip: Option<usize>,
) -> Vec<Option<usize>> {
    let mut out = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let earlier = names
            .get(..i)
            .unwrap_or_default()
            .iter()
            .filter(|n| n.eq_ignore_ascii_case(name))
            .count();
        let pick = headers
            .iter()
            .enumerate()
            .rev()
            .filter(|(j, h)| Some(*j) != skip && h.name_is(name))
            .nth(earlier)
            .map(|(j, _)| j);
        if pick.is_some() {
            out.push(pick);
        }
    }
    out
}

/// `dkim_verify`: whole-message verification (RFC 6376 §6) with key records the fuzzer chooses
/// ([`dns::fuzzing::ScriptedResolver`]: the key lookups get the script's answers in order). The
/// payload is the raw message.
///
/// Checks: at most one result per DKIM-Signature field, at most `max_signatures` key lookups, and
/// a `pass` only for a signature whose key was looked up.
pub fn verify(data: &[u8]) {
    let (resolver, message) = split_script(data);
    let verifier = Verifier::new(VerifyOptions::default());
    let results = block_on(verify_message(&verifier, &resolver, message, FUZZ_NOW));
    let signatures = parse_message(message)
        .headers
        .iter()
        .filter(|h| h.name_is(HEADER_NAME))
        .count();
    assert!(results.len() <= signatures, "{} results", results.len());
    let queries = resolver.queries();
    assert!(
        queries.len() <= verifier.options().max_signatures,
        "{queries:?}"
    );
    for r in results.iter().filter(|r| r.result == DkimResult::Pass) {
        let name = key_name(&r.selector, &r.domain);
        assert!(
            queries.iter().any(|(_, q)| q.eq_ignore_ascii_case(&name)),
            "pass without looking up {name}"
        );
    }
}
