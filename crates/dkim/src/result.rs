//! Per-signature verification results (RFC 6376 §6.1, RFC 8601 §2.7.1).

use std::fmt;

use crate::signature::Algorithm;

/// The DKIM result of one signature, with the RFC 8601 §2.7.1 names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DkimResult {
    /// The message was not signed (RFC 8601 §2.7.1 `none`); never produced per signature, but
    /// callers use it when [`crate::MessageVerification::finish`] returns no results.
    None,
    /// The signature verified (`pass`).
    Pass,
    /// The signature or body hash did not verify (`fail`).
    Fail,
    /// The signature verified or could be checked, but local policy does not accept it, e.g.
    /// rsa-sha1 or a key under 1024 bits (RFC 8301; RFC 8601 `policy`).
    Policy,
    /// The signature was not evaluated for a non-error reason (`neutral`).
    Neutral,
    /// A temporary failure, usually DNS (`temperror`, RFC 6376 §6.1.2 TEMPFAIL).
    TempError,
    /// A permanent error: syntax, missing key, revoked key, expired (`permerror`, PERMFAIL).
    PermError,
}

impl DkimResult {
    /// The RFC 8601 §2.7.1 keyword (`pass`, `fail`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            DkimResult::None => "none",
            DkimResult::Pass => "pass",
            DkimResult::Fail => "fail",
            DkimResult::Policy => "policy",
            DkimResult::Neutral => "neutral",
            DkimResult::TempError => "temperror",
            DkimResult::PermError => "permerror",
        }
    }
}

impl fmt::Display for DkimResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a signature got its result (RFC 6376 §6.1 failure reasons); `Display` gives the text for
/// Authentication-Results comments and logs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// The body hash differs from `bh=` (RFC 6376 §6.1.3).
    BodyHashMismatch,
    /// The body is shorter than `l=` (RFC 6376 §3.5 `l=`).
    BodyTooShort,
    /// The signature verifies but `l=` covers only part of the body: the rest is unsigned
    /// content anyone could have appended (RFC 6376 §8.2). Result `policy` unless the
    /// verifier allows partial bodies.
    PartialBody {
        /// Canonical bytes the signature covers (`l=`).
        signed: u64,
        /// Canonical bytes of the whole body.
        total: u64,
    },
    /// The header signature does not verify (RFC 6376 §6.1.3).
    SignatureMismatch,
    /// `x=` is in the past (RFC 6376 §3.5 `x=`).
    Expired,
    /// `t=` is further in the future than the allowed clock skew (RFC 6376 §3.5 `t=`).
    FutureTimestamp,
    /// The DKIM-Signature does not parse or lacks a required tag (RFC 6376 §6.1.1).
    SignatureSyntax(String),
    /// `v=` is not 1 (RFC 6376 §6.1.1).
    UnsupportedVersion(String),
    /// `a=` names an unknown algorithm (RFC 6376 §3.5).
    UnsupportedAlgorithm(String),
    /// `c=` names an unknown canonicalization (RFC 6376 §3.5).
    UnsupportedCanonicalization(String),
    /// `q=` does not include dns/txt (RFC 6376 §3.5).
    UnsupportedQueryMethod(String),
    /// `h=` does not include From (RFC 6376 §6.1.1).
    FromNotSigned,
    /// The `i=` domain is not `d=` or a subdomain of it (RFC 6376 §6.1.1).
    IdentityMismatch,
    /// `x=` is not after `t=` (RFC 6376 §3.5 `x=`: "MUST be greater than").
    ExpiryBeforeTimestamp,
    /// rsa-sha1 is historic (RFC 8301 §3.1).
    RsaSha1NotAcceptable,
    /// The key record's name does not exist or has no TXT (RFC 6376 §6.1.2 "no key for signature").
    NoKeyRecord,
    /// The key record does not parse (RFC 6376 §3.6.1).
    KeySyntax(String),
    /// `p=` is empty (RFC 6376 §3.6.1 "key revoked").
    KeyRevoked,
    /// The key is not a valid public key of its type.
    InvalidPublicKey,
    /// The RSA key has fewer than 1024 bits (RFC 8301 §3.2).
    KeyTooSmall {
        /// Modulus size.
        bits: u32,
    },
    /// The RSA key has more than 8192 bits.
    KeyTooLarge {
        /// Modulus size.
        bits: u32,
    },
    /// Key `k=` does not match the signature's algorithm (RFC 6376 §6.1.2).
    KeyTypeMismatch,
    /// Key `h=` excludes the signature's hash (RFC 6376 §3.6.1).
    HashNotAllowed,
    /// Key `s=` excludes email (RFC 6376 §3.6.1).
    ServiceNotEmail,
    /// Key `t=s` but `i=` is a subdomain of `d=` (RFC 6376 §3.6.1).
    StrictIdentity,
    /// Key `k=` in another case than `rsa` / `ed25519` (RFC 6376 §3.2: values are case
    /// sensitive); our verifier reads it, dkimpy does not. Only the publication check says it.
    KeyTypeCase(String),
    /// Key `s=` other than exactly `email` or `*` (a list, another case: RFC 6376 §3.2, §3.6.1);
    /// our verifier reads a list holding `email`, dkimpy does not. Only the publication check
    /// says it.
    ServiceListRefused(String),
    /// The key record holds an empty tag-spec (`;;`, RFC 6376 §3.2); our verifier reads it,
    /// dkimpy does not. Only the publication check says it.
    EmptyTagSpec,
    /// RSA `p=` as a bare PKCS#1 RSAPublicKey, not the SubjectPublicKeyInfo generators write
    /// (RFC 6376 §3.6.1 `p=`); our verifier reads it, OpenDKIM does not. Only the publication
    /// check says it.
    RsaKeyNotSpki,
    /// The key lookup timed out (RFC 6376 §6.1.2 TEMPFAIL).
    DnsTimeout,
    /// The key lookup failed temporarily (SERVFAIL or other).
    DnsFailure(String),
    /// The caller never supplied the key lookup's answer.
    KeyNotFetched,
    /// The body hash was not computed: it was asked for after the body had begun (RFC 6376
    /// §6.1.3 needs the whole body), a caller's error, not a mismatch.
    BodyHashNotComputed,
    /// Beyond the per-message limit on evaluated signatures (not evaluated).
    TooManySignatures,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::BodyHashMismatch => f.write_str("body hash did not verify"),
            Reason::BodyTooShort => f.write_str("body shorter than l="),
            Reason::PartialBody { signed, total } => write!(
                f,
                "l={signed} signs only part of the {total}-byte body: the rest is unsigned"
            ),
            Reason::SignatureMismatch => f.write_str("signature did not verify"),
            Reason::Expired => f.write_str("signature expired"),
            Reason::FutureTimestamp => f.write_str("signature timestamp in the future"),
            Reason::SignatureSyntax(s) => write!(f, "signature syntax error: {s}"),
            Reason::UnsupportedVersion(v) => write!(f, "unsupported version {v:?}"),
            Reason::UnsupportedAlgorithm(a) => write!(f, "unsupported algorithm {a:?}"),
            Reason::UnsupportedCanonicalization(c) => {
                write!(f, "unsupported canonicalization {c:?}")
            }
            Reason::UnsupportedQueryMethod(q) => write!(f, "unsupported query method {q:?}"),
            Reason::FromNotSigned => f.write_str("From header not signed"),
            Reason::IdentityMismatch => f.write_str("i= domain is not within d="),
            Reason::ExpiryBeforeTimestamp => f.write_str("x= is before t="),
            Reason::RsaSha1NotAcceptable => f.write_str("rsa-sha1 is not acceptable (RFC 8301)"),
            Reason::NoKeyRecord => f.write_str("no key record"),
            Reason::KeySyntax(s) => write!(f, "key record syntax error: {s}"),
            Reason::KeyRevoked => f.write_str("key revoked"),
            Reason::InvalidPublicKey => f.write_str("public key is not valid"),
            Reason::KeyTooSmall { bits } => write!(f, "key too small ({bits} bits)"),
            Reason::KeyTooLarge { bits } => write!(f, "key too large ({bits} bits)"),
            Reason::KeyTypeMismatch => f.write_str("key type does not match algorithm"),
            Reason::HashNotAllowed => f.write_str("key does not allow this hash"),
            Reason::ServiceNotEmail => f.write_str("key not for email (s=)"),
            Reason::StrictIdentity => f.write_str("key requires i= domain equal to d= (t=s)"),
            Reason::KeyTypeCase(k) => write!(
                f,
                "k={k}: tag values are case sensitive (RFC 6376 §3.2) and dkimpy refuses it (\"unknown algorithm in k= tag\"); write it in lower case"
            ),
            Reason::ServiceListRefused(s) => write!(
                f,
                "s={s}: dkimpy takes a key for email only when s= is exactly `email` or `*` (\"key not for email\"; tag values are case sensitive, RFC 6376 §3.2); write s=email or leave s= out"
            ),
            Reason::EmptyTagSpec => f.write_str(
                "an empty tag (`;;`): RFC 6376 §3.2 allows none and dkimpy refuses the record (\"invalid tag spec\"); remove the extra `;`",
            ),
            Reason::RsaKeyNotSpki => f.write_str(
                "p= is a bare PKCS#1 RSAPublicKey, not the SubjectPublicKeyInfo key generators publish: OpenDKIM refuses it (\"unable to apply public key\")",
            ),
            Reason::DnsTimeout => f.write_str("DNS timeout"),
            Reason::DnsFailure(e) => write!(f, "DNS failure: {e}"),
            Reason::KeyNotFetched => f.write_str("key lookup not completed"),
            Reason::BodyHashNotComputed => f.write_str("body hash not computed"),
            Reason::TooManySignatures => f.write_str("too many signatures (not evaluated)"),
        }
    }
}

/// The outcome for one DKIM-Signature header field, with what Authentication-Results needs
/// (RFC 8601 §2.7.1: `header.d`, `header.i`, `header.s`, `header.a`, `header.b`, RFC 6008).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureResult {
    /// The result.
    pub result: DkimResult,
    /// Why (None for pass).
    pub reason: Option<Reason>,
    /// `d=` as written (empty if the signature did not parse that far).
    pub domain: String,
    /// `s=` as written (empty if unknown).
    pub selector: String,
    /// `a=` if it named a known algorithm.
    pub algorithm: Option<Algorithm>,
    /// `i=` as written, if present.
    pub identity: Option<String>,
    /// The shortest prefix (at least 8 characters) of `b=` that is unique among this message's
    /// signatures (RFC 6008 §4), for `header.b`.
    pub header_b: String,
    /// The key record had `t=y` (testing, RFC 6376 §3.6.1).
    pub testing: bool,
    /// The key size in bits when the key was parsed.
    pub key_bits: Option<u32>,
    /// `l=` if present (the body was only partly signed).
    pub body_length: Option<u64>,
    /// Position of the header field among the message's DKIM-Signature fields, 0 = topmost.
    pub index: usize,
}

impl SignatureResult {
    /// The `d=` domain, lowercase, for DMARC alignment (RFC 7489 §3.1.1).
    pub fn domain_lowercase(&self) -> String {
        self.domain.to_ascii_lowercase()
    }
}
