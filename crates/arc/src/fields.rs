//! The three ARC header fields (RFC 8617 §4.1): ARC-Authentication-Results,
//! ARC-Message-Signature and ARC-Seal, parsed with DKIM's tag-list and signature rules.

use std::fmt;

use dkim::tag::{Tag, parse_tag_list};
use dkim::{Algorithm, HeaderField, Signature, SignatureKind};

use crate::error::ArcError;
use crate::outcome::ChainStatus;

/// The highest instance an ARC set may have (RFC 8617 §4.2.1).
pub const MAX_INSTANCE: u32 = 50;

/// One of the three ARC header fields (RFC 8617 §4.1), in the order a set is hashed by the
/// ARC-Seal (RFC 8617 §5.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ArcField {
    /// ARC-Authentication-Results (RFC 8617 §4.1.1).
    AuthenticationResults,
    /// ARC-Message-Signature (RFC 8617 §4.1.2).
    MessageSignature,
    /// ARC-Seal (RFC 8617 §4.1.3).
    Seal,
}

impl ArcField {
    /// All three, in ARC-Seal hashing order (RFC 8617 §5.1.1).
    pub const ALL: [ArcField; 3] = [
        ArcField::AuthenticationResults,
        ArcField::MessageSignature,
        ArcField::Seal,
    ];

    /// The header field name (RFC 8617 §10.3).
    pub fn name(self) -> &'static str {
        match self {
            ArcField::AuthenticationResults => "ARC-Authentication-Results",
            ArcField::MessageSignature => "ARC-Message-Signature",
            ArcField::Seal => "ARC-Seal",
        }
    }

    /// Which ARC field `field` is, if any (names compare case-insensitively, RFC 5322 §1.2.2).
    pub fn of(field: &HeaderField) -> Option<ArcField> {
        ArcField::ALL.into_iter().find(|f| field.name_is(f.name()))
    }
}

impl fmt::Display for ArcField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The ARC-Seal tags with a meaning (RFC 8617 §4.1.3: "the only supported tags are "i" ...,
/// and "a", "b", "d", "s", and "t""), and `h=`, whose presence fails the seal. Any other tag,
/// `x=` or `q=` included, is ignored as RFC 6376 §3.2 ignores unknown tags: OpenARC writes
/// `x=` on its seals when SignatureTTL is set and validates them without it.
const SEAL_TAGS: [&str; 7] = ["i", "a", "b", "d", "s", "t", "h"];

/// A parsed ARC-Seal (RFC 8617 §4.1.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArcSeal {
    /// `i=` (RFC 8617 §4.2.1).
    pub instance: u32,
    /// `cv=`: the chain validation status the sealer found (RFC 8617 §4.4).
    pub cv: ChainStatus,
    /// `a=`, `b=`, `d=`, `s=`, `t=` with DKIM's meaning; no body hash, no `h=`.
    pub signature: Signature,
}

/// A parsed ARC-Message-Signature (RFC 8617 §4.1.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageSignature {
    /// `i=` (RFC 8617 §4.2.1).
    pub instance: u32,
    /// The DKIM-Signature tags (RFC 6376 §3.5); `identity` is always `None`.
    pub signature: Signature,
}

/// A parsed ARC-Authentication-Results (RFC 8617 §4.1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArcAuthResults {
    /// `i=` (RFC 8617 §4.2.1).
    pub instance: u32,
    /// The authres-payload (RFC 8601 §2.2), or why it does not parse. A payload that does
    /// not parse does not break the chain (the seal covers it as text); it just records
    /// nothing a policy could use.
    pub payload: Result<authres::AuthenticationResults, String>,
}

/// What could be read from one field: its instance (needed for the chain structure) and,
/// separately, the whole field.
pub(crate) struct Parsed<T> {
    pub instance: Result<u32, ArcError>,
    pub full: Result<T, ArcError>,
}

impl ArcSeal {
    /// Parses an ARC-Seal value (RFC 8617 §4.1.3): DKIM tag rules, a `cv=`, no `h=`, and no
    /// rsa-sha1 (RFC 8301 §3.1).
    pub fn parse(value: &[u8]) -> Result<ArcSeal, ArcError> {
        Self::parse_parts(value).full
    }

    pub(crate) fn parse_parts(value: &[u8]) -> Parsed<ArcSeal> {
        let field = ArcField::Seal;
        signature_parts(value, field, |tags, instance| {
            let cv = tags
                .iter()
                .find(|t| t.name == "cv")
                .ok_or_else(|| ArcError::BadChainStatus(String::new()))?;
            let cv = ChainStatus::parse(cv.value)
                .ok_or_else(|| ArcError::BadChainStatus(lossy(cv.value)))?;
            let supported: Vec<Tag<'_>> = tags
                .iter()
                .filter(|t| SEAL_TAGS.contains(&t.name))
                .copied()
                .collect();
            let signature = signature(&supported, field, SignatureKind::ArcSeal)?;
            Ok(ArcSeal {
                instance,
                cv,
                signature,
            })
        })
    }
}

impl MessageSignature {
    /// Parses an ARC-Message-Signature value (RFC 8617 §4.1.2): DKIM-Signature tag rules
    /// with `i=` as the instance, From signed, and no rsa-sha1 (RFC 8301 §3.1).
    pub fn parse(value: &[u8]) -> Result<MessageSignature, ArcError> {
        Self::parse_parts(value).full
    }

    pub(crate) fn parse_parts(value: &[u8]) -> Parsed<MessageSignature> {
        let field = ArcField::MessageSignature;
        signature_parts(value, field, |tags, instance| {
            let signature = signature(tags, field, SignatureKind::ArcMessageSignature)?;
            if signature
                .signed_headers
                .iter()
                .any(|h| h.eq_ignore_ascii_case(ArcField::Seal.name()))
            {
                // RFC 8617 §4.1.2: ARC header fields MUST NOT be signed; an AMS over a seal
                // can never verify once the next set is added.
                return Err(ArcError::Syntax {
                    field,
                    detail: "h= lists ARC-Seal".into(),
                });
            }
            Ok(MessageSignature {
                instance,
                signature,
            })
        })
    }
}

impl ArcAuthResults {
    /// Parses an ARC-Authentication-Results value (RFC 8617 §4.1.1): `i=N;` and an
    /// authres-payload. Fails only when the instance prefix is malformed.
    pub fn parse(value: &[u8]) -> Result<ArcAuthResults, ArcError> {
        Self::parse_parts(value).full
    }

    pub(crate) fn parse_parts(value: &[u8]) -> Parsed<ArcAuthResults> {
        let instance = aar_instance(value);
        let full = instance.clone().map(|instance| {
            let payload = match authres::parse_arc(value) {
                Ok((_, ar)) => Ok(ar),
                Err(e) => Err(e.to_string()),
            };
            ArcAuthResults { instance, payload }
        });
        Parsed { instance, full }
    }
}

/// Parses the tag-list, the instance, then the rest with `rest`.
fn signature_parts<T>(
    value: &[u8],
    field: ArcField,
    rest: impl FnOnce(&[Tag<'_>], u32) -> Result<T, ArcError>,
) -> Parsed<T> {
    let tags = match strict_tag_list(value) {
        Ok(t) => t,
        Err(detail) => {
            let err = ArcError::Syntax { field, detail };
            return Parsed {
                instance: Err(err.clone()),
                full: Err(err),
            };
        }
    };
    let instance = match tags.iter().find(|t| t.name == "i") {
        None => Err(ArcError::MissingInstance(field)),
        Some(t) => parse_instance(t.value, field),
    };
    let full = match &instance {
        Ok(i) => rest(&tags, *i),
        Err(e) => Err(e.clone()),
    };
    Parsed { instance, full }
}

/// Only what numbering the chain needs of one ARC field: its instance and, for an ARC-Seal,
/// its `cv=` (RFC 8617 §4.2.1, §5.1 steps 2–3), read leniently and without the signature
/// tags, so that a chain too long to check, or with a field that does not parse, still gives
/// the highest instance and whether its newest seal ended it. `None` where unreadable.
pub(crate) fn instance_and_cv(value: &[u8], field: ArcField) -> (Option<u32>, Option<ChainStatus>) {
    if field == ArcField::AuthenticationResults {
        return (aar_instance(value).ok(), None);
    }
    let Ok(tags) = parse_tag_list(value) else {
        return (None, None);
    };
    let tag = |name: &str| tags.iter().find(|t| t.name == name).map(|t| t.value);
    let instance = tag("i").and_then(|v| parse_instance(v, field).ok());
    let cv = if field == ArcField::Seal {
        tag("cv").and_then(ChainStatus::parse)
    } else {
        None
    };
    (instance, cv)
}

/// A tag-list by the RFC 6376 §3.2 ABNF, `tag-spec *( ";" tag-spec ) [ ";" ]`: unlike
/// [`parse_tag_list`], which tolerates `;;` for DKIM's sake, an empty tag-spec other than
/// after the final `;` is an error here, as ARC validators treat it.
fn strict_tag_list(value: &[u8]) -> Result<Vec<Tag<'_>>, String> {
    let mut specs = value.split(|&b| b == b';').peekable();
    while let Some(spec) = specs.next() {
        let empty = spec
            .iter()
            .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'));
        if empty && specs.peek().is_some() {
            return Err("empty tag-spec (\";;\")".into());
        }
    }
    parse_tag_list(value).map_err(|e| e.to_string())
}

/// The signature tags by `kind`'s rules, rejecting rsa-sha1 (RFC 8301 §3.1).
fn signature(
    tags: &[Tag<'_>],
    field: ArcField,
    kind: SignatureKind,
) -> Result<Signature, ArcError> {
    let signature =
        Signature::from_tags(tags, kind).map_err(|reason| ArcError::Signature { field, reason })?;
    if signature.algorithm == Algorithm::RsaSha1 {
        return Err(ArcError::Signature {
            field,
            reason: dkim::Reason::RsaSha1NotAcceptable,
        });
    }
    Ok(signature)
}

/// `instance = "i" [FWS] "=" [FWS] 1*2DIGIT`, 1 to 50 (RFC 8617 §4.2.1).
fn parse_instance(v: &[u8], field: ArcField) -> Result<u32, ArcError> {
    let bad = || ArcError::BadInstance {
        field,
        value: lossy(v),
    };
    if v.is_empty() || v.len() > 2 || !v.iter().all(u8::is_ascii_digit) {
        return Err(bad());
    }
    let n = v
        .iter()
        .fold(0u32, |n, d| n * 10 + u32::from(d.saturating_sub(b'0')));
    if (1..=MAX_INSTANCE).contains(&n) {
        Ok(n)
    } else {
        Err(bad())
    }
}

/// The instance of an ARC-Authentication-Results value: `[CFWS] "i" [CFWS] "=" [CFWS]
/// position [CFWS] ";"` (RFC 8617 §3.9 `instance`, §4.1.1 `arc-info`), comments included.
fn aar_instance(value: &[u8]) -> Result<u32, ArcError> {
    let field = ArcField::AuthenticationResults;
    let ws = cfws_len;
    let mut rest = value;
    rest = rest.get(ws(rest)..).unwrap_or_default();
    match rest.split_first() {
        Some((b'i', after)) => rest = after,
        _ => return Err(ArcError::MissingInstance(field)),
    }
    rest = rest.get(ws(rest)..).unwrap_or_default();
    match rest.split_first() {
        Some((b'=', after)) => rest = after,
        _ => return Err(ArcError::MissingInstance(field)),
    }
    rest = rest.get(ws(rest)..).unwrap_or_default();
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let (number, after) = rest.split_at_checked(digits).unwrap_or((rest, &[]));
    let after = after.get(ws(after)..).unwrap_or_default();
    if after.first() != Some(&b';') {
        return Err(ArcError::Syntax {
            field,
            detail: "no ';' after the instance".into(),
        });
    }
    parse_instance(number, field)
}

/// The length of the CFWS at the start of `s` (RFC 5322 §3.2.2: white space and nested
/// comments with quoted-pairs); an unterminated comment is not CFWS, so what follows fails.
fn cfws_len(s: &[u8]) -> usize {
    let mut pos = 0;
    loop {
        match s.get(pos) {
            Some(b' ' | b'\t' | b'\r' | b'\n') => pos += 1,
            Some(b'(') => match comment_len(s.get(pos..).unwrap_or_default()) {
                Some(n) => pos += n,
                None => return pos,
            },
            _ => return pos,
        }
    }
}

/// The length of the comment at the start of `s` (which holds `(`), nested comments and
/// quoted-pairs included; `None` when it does not end.
fn comment_len(s: &[u8]) -> Option<usize> {
    let mut depth = 0usize;
    let mut pos = 0;
    while let Some(&b) = s.get(pos) {
        pos += 1;
        match b {
            b'(' => depth += 1,
            b')' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Some(pos);
                }
            }
            b'\\' => pos += 1,
            _ => {}
        }
    }
    None
}

/// Lossy, shortened text for error messages.
fn lossy(v: &[u8]) -> String {
    String::from_utf8_lossy(v.get(..64).unwrap_or(v)).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instances() {
        let f = ArcField::Seal;
        assert_eq!(parse_instance(b"1", f), Ok(1));
        assert_eq!(parse_instance(b"50", f), Ok(50));
        for bad in [&b""[..], b"0", b"51", b"a", b"-1", b"001", b"1 2"] {
            assert!(parse_instance(bad, f).is_err(), "{bad:?}");
        }
        assert_eq!(aar_instance(b" i=3; example.org; none"), Ok(3));
        assert_eq!(aar_instance(b"\r\n\ti = 3 ;x"), Ok(3));
        assert!(aar_instance(b" i=3 example.org; none").is_err());
        assert!(aar_instance(b" example.org; i=1; none").is_err());
        assert!(aar_instance(b" i=;").is_err());
        // RFC 8617 §3.9: CFWS, so comments too
        assert_eq!(
            aar_instance(b" (first (hop)) i (x) = (y) 2 (z\\)) ; a.example; none"),
            Ok(2)
        );
        assert!(aar_instance(b" (unterminated i=2; a.example; none").is_err());
        assert!(
            aar_instance(b" (c) I=2; a.example; none").is_err(),
            "%s\"i\""
        );
    }

    #[test]
    fn seal_and_message_signature() {
        let s = ArcSeal::parse(b" i=2; a=rsa-sha256; cv=pass; d=example.org; s=s; t=1; b=AAAA")
            .unwrap();
        assert_eq!((s.instance, s.cv), (2, ChainStatus::Pass));
        assert_eq!(s.signature.domain, "example.org");
        assert!(matches!(
            ArcSeal::parse(b"i=1; a=rsa-sha1; cv=none; d=e.org; s=s; b=AAAA"),
            Err(ArcError::Signature {
                reason: dkim::Reason::RsaSha1NotAcceptable,
                ..
            })
        ));
        assert!(matches!(
            ArcSeal::parse(b"i=1; a=rsa-sha256; cv=maybe; d=e.org; s=s; b=AAAA"),
            Err(ArcError::BadChainStatus(_))
        ));
        let parts = ArcSeal::parse_parts(b"i=4; a=nope; cv=none; d=e.org; s=s; b=AAAA");
        assert_eq!(parts.instance, Ok(4));
        assert!(parts.full.is_err());
        let m = MessageSignature::parse(
            b" i=1; a=ed25519-sha256; c=relaxed/relaxed; d=e.org; s=s; h=From:To; bh=AAAA; b=AAAA",
        )
        .unwrap();
        assert_eq!(m.instance, 1);
        assert!(
            MessageSignature::parse(
                b"i=1; a=rsa-sha256; d=e.org; s=s; h=from:arc-seal; bh=AAAA; b=AAAA"
            )
            .is_err()
        );
        let aar = ArcAuthResults::parse(b" i=1; mx.example.org; dkim=pass header.d=e.org").unwrap();
        let payload = aar.payload.unwrap();
        assert_eq!(payload.authserv_id, "mx.example.org");
        assert!(matches!(
            ArcSeal::parse(b"i=1; a=rsa-sha256; cv=none;; d=e.org; s=s; b=AAAA"),
            Err(ArcError::Syntax { .. })
        ));
        assert!(ArcSeal::parse(b"i=1; a=rsa-sha256; cv=none; d=e.org; s=s; b=AAAA;").is_ok());
        let junk = ArcAuthResults::parse(b" i=1; ((( ").unwrap();
        assert!(junk.payload.is_err());
    }

    /// An ARC-Seal's `t=` has DKIM's meaning (RFC 8617 §4.1.3), so RFC 6376 §3.5 applies: a
    /// value longer than 12 digits may be taken as infinite, not as a syntax error. The seal
    /// parses, and its timestamp lies in the future.
    #[test]
    fn long_seal_timestamp_is_very_large_not_malformed() {
        let value = format!(
            "i=1; a=rsa-sha256; cv=none; d=e.org; s=s; t={}; b=AAAA",
            "9".repeat(30)
        );
        let seal = ArcSeal::parse(value.as_bytes()).unwrap();
        assert_eq!(seal.signature.timestamp, Some(u64::MAX));
        assert_eq!(
            seal.signature.check_time(1_700_000_000, 300),
            Err(dkim::Reason::FutureTimestamp)
        );
    }
}
