//! The DKIM-Signature header field (RFC 6376 §3.5) and its checks (RFC 6376 §6.1.1).

use base64::Engine;

use crate::header_list::HeaderList;
use crate::result::Reason;
use crate::tag::{Tag, lossy, parse_tag_list, strip_fws};
use crate::tag_values::{
    MAX_IDENTITY, MAX_NAME, parse_body_length, parse_canon, parse_domain, parse_number,
    parse_signed_headers,
};
pub(crate) use crate::tag_values::{comparable_domain, decode_b64};

/// The header field name (RFC 6376 §3.5).
pub const HEADER_NAME: &str = "DKIM-Signature";

/// A signing algorithm (RFC 6376 §3.3, RFC 8463 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// `rsa-sha256` (RFC 6376 §3.3.2).
    RsaSha256,
    /// `ed25519-sha256` (RFC 8463 §3).
    Ed25519Sha256,
    /// `rsa-sha1`: historic (RFC 8301 §3.1), verified only in legacy mode, never signed.
    RsaSha1,
}

impl Algorithm {
    /// What a key of `key_type` signs with: `rsa-sha256` or `ed25519-sha256` (RFC 8301 §3.1
    /// leaves no other choice, RFC 8463 §3).
    pub fn for_signing(key_type: crypto::KeyType) -> Self {
        match key_type {
            crypto::KeyType::Rsa => Algorithm::RsaSha256,
            crypto::KeyType::Ed25519 => Algorithm::Ed25519Sha256,
        }
    }

    /// The `a=` text.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::RsaSha256 => "rsa-sha256",
            Algorithm::Ed25519Sha256 => "ed25519-sha256",
            Algorithm::RsaSha1 => "rsa-sha1",
        }
    }

    /// Parses an `a=` value (case-insensitive).
    pub fn parse(s: &[u8]) -> Option<Self> {
        match s.to_ascii_lowercase().as_slice() {
            b"rsa-sha256" => Some(Algorithm::RsaSha256),
            b"ed25519-sha256" => Some(Algorithm::Ed25519Sha256),
            b"rsa-sha1" => Some(Algorithm::RsaSha1),
            _ => None,
        }
    }

    /// The key type (`k=`) this algorithm needs (RFC 6376 §3.6.1).
    pub fn key_type(self) -> crypto::KeyType {
        match self {
            Algorithm::RsaSha256 | Algorithm::RsaSha1 => crypto::KeyType::Rsa,
            Algorithm::Ed25519Sha256 => crypto::KeyType::Ed25519,
        }
    }

    /// The digest for the body and header hashes (RFC 6376 §3.7).
    pub fn hash(self) -> crypto::HashAlg {
        match self {
            Algorithm::RsaSha1 => crypto::HashAlg::Sha1Legacy,
            _ => crypto::HashAlg::Sha256,
        }
    }

    /// The hash name as key records list it in `h=` (RFC 6376 §3.6.1).
    pub fn hash_name(self) -> &'static str {
        match self {
            Algorithm::RsaSha1 => "sha1",
            _ => "sha256",
        }
    }
}

/// A canonicalization algorithm (RFC 6376 §3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Canonicalization {
    /// `simple` (RFC 6376 §3.4.1, §3.4.3).
    Simple,
    /// `relaxed` (RFC 6376 §3.4.2, §3.4.4).
    #[default]
    Relaxed,
}

impl Canonicalization {
    /// The `c=` text.
    pub fn as_str(self) -> &'static str {
        match self {
            Canonicalization::Simple => "simple",
            Canonicalization::Relaxed => "relaxed",
        }
    }

    pub(crate) fn parse(s: &[u8]) -> Option<Self> {
        match s.to_ascii_lowercase().as_slice() {
            b"simple" => Some(Canonicalization::Simple),
            b"relaxed" => Some(Canonicalization::Relaxed),
            _ => None,
        }
    }
}

/// Which header field a signature tag-list comes from: DKIM-Signature, or one of the two ARC
/// fields that reuse its syntax with small differences (RFC 8617 §4.1.2, §4.1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureKind {
    /// DKIM-Signature (RFC 6376 §3.5).
    Dkim,
    /// ARC-Message-Signature (RFC 8617 §4.1.2): no `v=` (ignored if present), and `i=` is the
    /// ARC instance, not an identity (left to the caller; [`Signature::identity`] is `None`).
    /// An empty name in `h=` selects nothing, as other ARC validators accept it.
    ArcMessageSignature,
    /// ARC-Seal (RFC 8617 §4.1.3): like an ARC-Message-Signature, but no body hash and no
    /// `h=` (its presence is an error), and only relaxed header canonicalization (`c=` is
    /// ignored). `cv=` and `i=` are left to the caller.
    ArcSeal,
}

/// A parsed, checked DKIM-Signature (RFC 6376 §3.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// `a=`.
    pub algorithm: Algorithm,
    /// `b=` decoded.
    pub signature: Vec<u8>,
    /// `b=` as base64 text without whitespace (for `header.b`).
    pub signature_b64: String,
    /// `bh=` decoded.
    pub body_hash: Vec<u8>,
    /// `c=` header part (default simple).
    pub header_canon: Canonicalization,
    /// `c=` body part (default simple).
    pub body_canon: Canonicalization,
    /// `d=` as written.
    pub domain: String,
    /// `h=` names in order, as written (compare case-insensitively).
    pub signed_headers: HeaderList,
    /// `i=` as written.
    pub identity: Option<String>,
    /// `l=`.
    pub body_length: Option<u64>,
    /// `s=` as written.
    pub selector: String,
    /// `t=`.
    pub timestamp: Option<u64>,
    /// `x=`.
    pub expiration: Option<u64>,
    /// `z=` copied header fields, raw (diagnostic only).
    pub copied_headers: Option<Vec<u8>>,
}

/// What could be read from a signature that failed to parse, for reporting.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PartialSignature {
    /// `d=` if present.
    pub domain: String,
    /// `s=` if present.
    pub selector: String,
    /// `a=` if it named a known algorithm.
    pub algorithm: Option<Algorithm>,
    /// `i=` if present.
    pub identity: Option<String>,
    /// `b=` without whitespace, if present.
    pub signature_b64: String,
}

/// A signature that failed the RFC 6376 §6.1.1 checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureError {
    /// Why it is unusable.
    pub reason: Reason,
    /// What could be read from it.
    pub partial: Box<PartialSignature>,
}

impl Signature {
    /// Parses and checks a DKIM-Signature value (RFC 6376 §3.5, §6.1.1). Time checks (`x=`,
    /// future `t=`) are separate: [`Signature::check_time`].
    pub fn parse(value: &[u8]) -> Result<Signature, SignatureError> {
        Self::parse_kind(value, SignatureKind::Dkim)
    }

    /// Parses and checks a tag-list by the rules of `kind` (RFC 6376 §3.5, §6.1.1; RFC 8617
    /// §4.1.2, §4.1.3).
    pub fn parse_kind(value: &[u8], kind: SignatureKind) -> Result<Signature, SignatureError> {
        let tags = match parse_tag_list(value) {
            Ok(t) => t,
            Err(e) => {
                return Err(SignatureError {
                    reason: Reason::SignatureSyntax(e.to_string()),
                    partial: Box::default(),
                });
            }
        };
        // what could be read is collected only for a signature that fails
        Self::from_tags(&tags, kind).map_err(|reason| SignatureError {
            reason,
            partial: Box::new(partial_from(&tags)),
        })
    }

    /// Builds and checks a signature from an already parsed tag-list by the rules of `kind`
    /// (RFC 6376 §3.5, §6.1.1; RFC 8617 §4.1.2, §4.1.3).
    pub fn from_tags(tags: &[Tag<'_>], kind: SignatureKind) -> Result<Signature, Reason> {
        parse_tags(tags, kind)
    }

    /// The key record's DNS name `<s>._domainkey.<d>` (RFC 6376 §3.6.2.1), lowercase, U-labels
    /// as A-labels (RFC 8616 §5).
    pub fn key_name(&self) -> String {
        crate::verify::key_name(&self.selector, &self.domain)
    }

    /// Checks `x=` against `now` and `t=` against `now + skew` (RFC 6376 §3.5).
    pub fn check_time(&self, now: u64, future_skew: u64) -> Result<(), Reason> {
        if let Some(x) = self.expiration
            && x < now
        {
            return Err(Reason::Expired);
        }
        if let Some(t) = self.timestamp
            && t > now.saturating_add(future_skew)
        {
            return Err(Reason::FutureTimestamp);
        }
        Ok(())
    }
}

fn text(v: &[u8]) -> String {
    String::from_utf8_lossy(v).into_owned()
}

fn partial_from(tags: &[Tag<'_>]) -> PartialSignature {
    let get = |n: &str| tags.iter().find(|t| t.name == n).map(|t| t.value);
    // no more than a DNS name or an address can hold goes into reports (RFC 1035 §2.3.4,
    // RFC 5321 §4.5.3.1)
    let bounded = |n: &str, max: usize| get(n).filter(|v| v.len() <= max).map(text);
    PartialSignature {
        domain: bounded("d", MAX_NAME).unwrap_or_default(),
        selector: bounded("s", MAX_NAME).unwrap_or_default(),
        algorithm: get("a").and_then(Algorithm::parse),
        identity: bounded("i", MAX_IDENTITY),
        signature_b64: get("b").map(|b| text(&strip_fws(b))).unwrap_or_default(),
    }
}

fn parse_tags(tags: &[Tag<'_>], kind: SignatureKind) -> Result<Signature, Reason> {
    let get = |n: &str| tags.iter().find(|t| t.name == n).map(|t| t.value);
    let require = |n: &'static str| {
        get(n).ok_or_else(|| Reason::SignatureSyntax(format!("missing required tag {n}=")))
    };
    if kind == SignatureKind::Dkim {
        let version = require("v")?;
        if version != b"1" {
            return Err(Reason::UnsupportedVersion(lossy(version)));
        }
    }
    let a = require("a")?;
    let algorithm = Algorithm::parse(a).ok_or_else(|| Reason::UnsupportedAlgorithm(lossy(a)))?;
    let b = require("b")?;
    let b = strip_fws(b);
    let signature = base64::engine::general_purpose::STANDARD
        .decode(&b)
        .map_err(|_| Reason::SignatureSyntax("b= is not base64".into()))?;
    // valid base64 is ASCII: the bytes become the string as they are
    let signature_b64 = String::from_utf8(b).unwrap_or_default();
    if signature.is_empty() {
        return Err(Reason::SignatureSyntax("b= is empty".into()));
    }
    let seal = kind == SignatureKind::ArcSeal;
    let body_hash = if seal {
        Vec::new()
    } else {
        let bh = require("bh")?;
        decode_b64(bh).ok_or_else(|| Reason::SignatureSyntax("bh= is not base64".into()))?
    };
    let (header_canon, body_canon) = match get("c") {
        _ if seal => (Canonicalization::Relaxed, Canonicalization::Relaxed),
        None => (Canonicalization::Simple, Canonicalization::Simple),
        Some(c) => parse_canon(c)?,
    };
    let d = require("d")?;
    let domain = parse_domain(d).ok_or_else(|| Reason::SignatureSyntax("bad d= domain".into()))?;
    let signed_headers = if seal {
        if get("h").is_some() {
            return Err(Reason::SignatureSyntax(
                "h= is not allowed in ARC-Seal".into(),
            ));
        }
        HeaderList::default()
    } else {
        parse_signed_headers(require("h")?, kind)?
    };
    let identity = match kind {
        SignatureKind::Dkim => get("i").map(text),
        _ => None,
    };
    if let Some(i) = &identity {
        if i.len() > MAX_IDENTITY {
            return Err(Reason::SignatureSyntax(
                "i= is longer than an address can be".into(),
            ));
        }
        let at = i
            .rfind('@')
            .ok_or_else(|| Reason::SignatureSyntax("i= has no '@'".into()))?;
        let idom = i.get(at + 1..).unwrap_or("");
        // the domain of i= is a domain as d= is (RFC 6376 §3.5; U-labels, RFC 8616 §5)
        let idom = crate::tag_values::parse_domain(idom.as_bytes())
            .map(|d| comparable_domain(&d))
            .ok_or_else(|| Reason::SignatureSyntax("bad i= domain".into()))?;
        let dl = comparable_domain(&domain);
        if !(idom == dl || idom.ends_with(&format!(".{dl}"))) {
            return Err(Reason::IdentityMismatch);
        }
    }
    let body_length = match get("l") {
        Some(l) if !seal => Some(parse_body_length(l)?),
        _ => None,
    };
    if let Some(q) = get("q") {
        let ok = q
            .split(|&c| c == b':')
            .any(|m| crate::tag::trim_fws(m).eq_ignore_ascii_case(b"dns/txt"));
        if !ok {
            return Err(Reason::UnsupportedQueryMethod(lossy(q)));
        }
    }
    let s = require("s")?;
    let selector =
        parse_domain(s).ok_or_else(|| Reason::SignatureSyntax("bad s= selector".into()))?;
    let timestamp = get("t").map(|t| parse_number(t, "t")).transpose()?;
    let expiration = get("x").map(|x| parse_number(x, "x")).transpose()?;
    // §3.5 x=: "MUST be greater than the value of the t= tag"
    if let (Some(t), Some(x)) = (timestamp, expiration)
        && x <= t
    {
        return Err(Reason::ExpiryBeforeTimestamp);
    }
    Ok(Signature {
        algorithm,
        signature,
        signature_b64,
        body_hash,
        header_canon,
        body_canon,
        domain,
        signed_headers,
        identity,
        body_length,
        selector,
        timestamp,
        expiration,
        copied_headers: get("z").map(<[u8]>::to_vec),
    })
}

/// Removes the value of the `b=` tag from a raw DKIM-Signature value, keeping everything else
/// byte for byte (RFC 6376 §3.5 `b=`, §3.7).
pub fn strip_b_value(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    let mut rest = value;
    let mut first = true;
    while !rest.is_empty() || first {
        first = false;
        let end = memchr::memchr(b';', rest).unwrap_or(rest.len());
        let (spec, after) = rest.split_at(end);
        let mut emitted = false;
        if let Some(eq) = memchr::memchr(b'=', spec)
            && let Some(name) = spec.get(..eq)
            && crate::tag::trim_fws(name) == b"b"
        {
            out.extend_from_slice(spec.get(..=eq).unwrap_or(spec));
            emitted = true;
        }
        if !emitted {
            out.extend_from_slice(spec);
        }
        out.extend_from_slice(after.get(..1).unwrap_or(&[]));
        rest = after.get(1..).unwrap_or(&[]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC8463_ED: &[u8] = b" v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n d=football.example.com; i=@football.example.com;\r\n q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n subject : date : message-id : from : subject : date;\r\n bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==";

    #[test]
    fn parses_rfc8463_signature() {
        let s = Signature::parse(RFC8463_ED).unwrap();
        assert_eq!(s.algorithm, Algorithm::Ed25519Sha256);
        assert_eq!(s.header_canon, Canonicalization::Relaxed);
        assert_eq!(s.domain, "football.example.com");
        assert_eq!(s.selector, "brisbane");
        assert_eq!(s.signed_headers.len(), 8);
        assert_eq!(s.signature.len(), 64);
        assert_eq!(s.key_name(), "brisbane._domainkey.football.example.com");
        assert_eq!(s.timestamp, Some(1528637909));
    }

    fn reason(v: &str) -> Reason {
        Signature::parse(v.as_bytes()).unwrap_err().reason
    }

    #[test]
    fn strict_checks() {
        let base = "v=1; a=rsa-sha256; d=example.com; s=s; h=from; bh=AAAA; b=AAAA";
        assert!(Signature::parse(base.as_bytes()).is_ok());
        assert!(matches!(
            reason("v=2; a=rsa-sha256; d=e.com; s=s; h=from; bh=AA==; b=AA=="),
            Reason::UnsupportedVersion(_)
        ));
        assert!(matches!(
            reason("v=1; a=rsa-md5; d=e.com; s=s; h=from; bh=AA==; b=AA=="),
            Reason::UnsupportedAlgorithm(_)
        ));
        assert!(matches!(
            reason("v=1; a=rsa-sha256; c=fancy; d=e.com; s=s; h=from; bh=AA==; b=AA=="),
            Reason::UnsupportedCanonicalization(_)
        ));
        assert_eq!(
            reason("v=1; a=rsa-sha256; d=e.com; s=s; h=to; bh=AA==; b=AA=="),
            Reason::FromNotSigned
        );
        assert_eq!(
            reason("v=1; a=rsa-sha256; d=e.com; i=a@x.com; s=s; h=from; bh=AA==; b=AA=="),
            Reason::IdentityMismatch
        );
        assert!(
            Signature::parse(
                b"v=1; a=rsa-sha256; d=e.com; i=a@sub.E.com; s=s; h=from; bh=AA==; b=AA=="
            )
            .is_ok()
        );
        assert_eq!(
            reason("v=1; a=rsa-sha256; d=e.com; s=s; h=from; bh=AA==; b=AA==; t=10; x=5"),
            Reason::ExpiryBeforeTimestamp
        );
        assert!(matches!(
            reason("v=1; a=rsa-sha256; d=e.com; s=s; h=from; bh=AA==; b=AA==; q=http"),
            Reason::UnsupportedQueryMethod(_)
        ));
        assert!(matches!(
            reason("v=1; v=1; a=rsa-sha256"),
            Reason::SignatureSyntax(_)
        ));
        assert!(matches!(
            reason("v=1; a=rsa-sha256; s=s; h=from; bh=AA==; b=AA=="),
            Reason::SignatureSyntax(_)
        ));
        // Unknown tags are ignored.
        assert!(
            Signature::parse(b"v=1; a=rsa-sha256; d=e.com; s=s; h=from; bh=AA==; b=AA==; foo=bar")
                .is_ok()
        );
        let e = Signature::parse(b"v=1; a=rsa-sha256; d=e.com; s=sel; h=to; bh=AA==; b=AAAABBBB")
            .unwrap_err();
        assert_eq!(e.partial.domain, "e.com");
        assert_eq!(e.partial.selector, "sel");
    }

    #[test]
    fn arc_kinds() {
        let ams = b"i=2; a=rsa-sha256; d=e.com; s=s; h=from::to; bh=AA==; b=AA==";
        let s = Signature::parse_kind(ams, SignatureKind::ArcMessageSignature).unwrap();
        assert_eq!(s.identity, None);
        assert_eq!(s.signed_headers.iter().collect::<Vec<_>>(), ["from", "to"]);
        assert_eq!(
            (s.header_canon, s.body_canon),
            (Canonicalization::Simple, Canonicalization::Simple)
        );
        // DKIM rules: v= required, i= must be an identity, no empty h= names
        assert!(Signature::parse_kind(ams, SignatureKind::Dkim).is_err());
        let seal = b"i=1; a=ed25519-sha256; cv=none; d=e.com; s=s; c=simple; b=AA==";
        let s = Signature::parse_kind(seal, SignatureKind::ArcSeal).unwrap();
        assert!(s.body_hash.is_empty() && s.signed_headers.is_empty());
        assert_eq!(s.header_canon, Canonicalization::Relaxed);
        assert!(matches!(
            Signature::parse_kind(
                b"i=1; a=rsa-sha256; cv=none; d=e.com; s=s; h=from; b=AA==",
                SignatureKind::ArcSeal
            )
            .unwrap_err()
            .reason,
            Reason::SignatureSyntax(_)
        ));
        assert_eq!(
            Signature::parse_kind(
                b"i=1; a=rsa-sha256; d=e.com; s=s; h=to; bh=AA==; b=AA==",
                SignatureKind::ArcMessageSignature
            )
            .unwrap_err()
            .reason,
            Reason::FromNotSigned
        );
    }

    #[test]
    fn time_checks() {
        let s = Signature::parse(
            b"v=1; a=rsa-sha256; d=e.com; s=s; h=from; bh=AA==; b=AA==; t=100; x=200",
        )
        .unwrap();
        assert_eq!(s.check_time(150, 0), Ok(()));
        assert_eq!(s.check_time(201, 0), Err(Reason::Expired));
        assert_eq!(s.check_time(50, 10), Err(Reason::FutureTimestamp));
        assert_eq!(s.check_time(95, 10), Ok(()));
    }

    /// RFC 6376 §3.5 `t=`: "implementations MAY consider any value longer than 12 digits to
    /// be infinite" (`x=` has "the same constraints"): a long value is no syntax error. An
    /// infinite `x=` never expires; an infinite `t=` lies in the future. Leading zeros keep
    /// their value.
    #[test]
    fn long_time_values_are_very_large_not_syntax_errors() {
        let sig = |tags: &str| {
            Signature::parse(
                format!("v=1; a=rsa-sha256; d=e.com; s=s; h=from; bh=AA==; b=AA==; {tags}")
                    .as_bytes(),
            )
        };
        let huge = "9".repeat(40);
        let never = sig(&format!("t=100; x={huge}")).unwrap();
        assert_eq!(never.expiration, Some(u64::MAX));
        assert_eq!(never.check_time(u64::MAX - 1, 0), Ok(()));
        let future = sig(&format!("t={huge}")).unwrap();
        assert_eq!(
            future.check_time(1_700_000_000, 300),
            Err(Reason::FutureTimestamp)
        );
        let padded = sig(&format!("t={}100; x={}200", "0".repeat(30), "0".repeat(30))).unwrap();
        assert_eq!(
            (padded.timestamp, padded.expiration),
            (Some(100), Some(200))
        );
        assert_eq!(padded.check_time(201, 0), Err(Reason::Expired));
        for bad in ["t=", "t=-1", "t=1e3", "x=12 34", "x=0x10"] {
            assert!(sig(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn strips_b() {
        assert_eq!(
            strip_b_value(b" a=x; b=abc\r\n def; bh=zz;b = q"),
            b" a=x; b=; bh=zz;b ="
        );
        assert_eq!(strip_b_value(b"b=1;"), b"b=;");
    }
}
