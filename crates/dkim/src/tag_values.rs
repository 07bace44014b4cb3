//! The value grammars of DKIM-Signature tags (RFC 6376 §3.5): `h=`, `c=`, `t=`/`x=`, `l=`,
//! `d=`/`s=`, base64, and the bounds on what is reported from a signature.

use base64::Engine;

use crate::header_list::HeaderList;
use crate::result::Reason;
use crate::signature::{Canonicalization, SignatureKind};
use crate::tag::{lossy, strip_fws};

/// The longest DNS name, as text without the final dot (RFC 1035 §2.3.4): the most of a
/// `d=` or `s=` that is reported.
pub(crate) const MAX_NAME: usize = 253;
/// The longest address, local-part (64) `@` domain (255) (RFC 5321 §4.5.3.1.1, §4.5.3.1.2):
/// the longest `i=` accepted or reported.
pub(crate) const MAX_IDENTITY: usize = 64 + 1 + 255;

/// The `h=` list (RFC 6376 §3.5): names without FWS, From among them (§6.1.1). For an
/// ARC-Message-Signature an empty name is skipped rather than an error.
pub(crate) fn parse_signed_headers(h: &[u8], kind: SignatureKind) -> Result<HeaderList, Reason> {
    let mut names = HeaderList::with_capacity(h.len());
    let mut from = false;
    for n in h.split(|&c| c == b':').map(crate::tag::trim_fws) {
        if n.is_empty() && kind == SignatureKind::ArcMessageSignature {
            continue;
        }
        // the usual name is printable ASCII: no whitespace to look for, char by char
        let graphic = !n.is_empty() && n.iter().all(u8::is_ascii_graphic);
        let n = match std::str::from_utf8(n) {
            Ok(n) => std::borrow::Cow::Borrowed(n),
            Err(_) => String::from_utf8_lossy(n),
        };
        if !graphic && (n.is_empty() || n.contains(char::is_whitespace)) {
            return Err(Reason::SignatureSyntax("bad h= list".into()));
        }
        from |= n.eq_ignore_ascii_case("from");
        names.push(&n);
    }
    if !from {
        return Err(Reason::FromNotSigned);
    }
    Ok(names)
}

pub(crate) fn parse_canon(c: &[u8]) -> Result<(Canonicalization, Canonicalization), Reason> {
    let bad = || Reason::UnsupportedCanonicalization(lossy(c));
    let mut parts = c.splitn(2, |&b| b == b'/');
    let header = parts.next().map(crate::tag::trim_fws).unwrap_or(b"");
    let header = Canonicalization::parse(header).ok_or_else(bad)?;
    let body = match parts.next() {
        None => Canonicalization::Simple,
        Some(b) => Canonicalization::parse(crate::tag::trim_fws(b)).ok_or_else(bad)?,
    };
    Ok((header, body))
}

/// Decimal for `t=`/`x=` (RFC 6376 §3.5, `1*12DIGIT`): any run of digits, leading zeros
/// allowed. A value past `u64::MAX` saturates: §3.5 lets implementations "consider any value
/// longer than 12 digits to be infinite", so such an `x=` never expires and such a `t=` lies
/// in the future. Linear in the value's length, which the header field bounds.
pub(crate) fn parse_number(v: &[u8], tag: &str) -> Result<u64, Reason> {
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return Err(Reason::SignatureSyntax(format!("bad {tag}= value")));
    }
    Ok(v.iter().fold(0u64, |n, &d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    }))
}

/// `l=` (RFC 6376 §3.5, `1*76DIGIT`): any run of up to 76 digits, leading zeros allowed;
/// a value past `u64::MAX` saturates (it is larger than any body, so the signature fails).
pub(crate) fn parse_body_length(v: &[u8]) -> Result<u64, Reason> {
    if v.is_empty() || v.len() > 76 || !v.iter().all(u8::is_ascii_digit) {
        return Err(Reason::SignatureSyntax("bad l= value".into()));
    }
    Ok(v.iter().fold(0u64, |n, &d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    }))
}

/// A domain name or selector: dot-separated labels of letters, digits, `-`, `_`
/// (RFC 6376 §3.5 `d=`/`s=`); 8-bit only in U-labels IDNA converts. No empty labels.
pub(crate) fn parse_domain(v: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(v).ok()?;
    let s = s.strip_suffix('.').unwrap_or(s);
    if s.is_empty() || s.len() > MAX_NAME {
        return None;
    }
    let ok = s.split('.').all(|label| {
        if label.is_ascii() {
            return !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        }
        // 8-bit only as a U-label with an A-label form (RFC 8616 §5, RFC 5891 §4; combining
        // marks such as a virama are PVALID, RFC 5892), one label each (a fullwidth dot that
        // IDNA maps to a separator is not a label of its own here): any other name would
        // be looked up as raw bytes, a name beside the A-label one
        dns::name::to_ascii(label.as_bytes())
            .is_ok_and(|a| !a.contains('.') && dns::name::is_host_like(&a))
    });
    ok.then(|| s.to_string())
}

/// A domain as compared with another: A-labels, lowercase (RFC 8616 §5 allows U-labels or
/// A-labels in `d=` and `i=`); lowercased as written when IDNA refuses it.
pub(crate) fn comparable_domain(d: &str) -> String {
    dns::name::to_ascii(d.as_bytes()).unwrap_or_else(|_| d.to_ascii_lowercase())
}

/// Base64 with FWS anywhere (RFC 6376 §3.5 `b=`, `bh=`); `None` if invalid.
pub(crate) fn decode_b64(v: &[u8]) -> Option<Vec<u8>> {
    let clean = strip_fws(v);
    base64::engine::general_purpose::STANDARD
        .decode(&clean)
        .ok()
}
