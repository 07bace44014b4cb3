//! DKIM signatures: streaming verification and signing, RFC 6376, RFC 8301, RFC 8463.
//!
//! Sans-IO except key lookups, which go through [`dns::Resolver`]. The milter drives
//! verification in stages so that DNS overlaps the body transfer:
//!
//! ```no_run
//! # async fn demo(resolver: &dns::memory::MemoryResolver, headers: Vec<dkim::HeaderField>, chunks: Vec<Vec<u8>>) {
//! let verifier = dkim::Verifier::new(dkim::VerifyOptions::default());
//! // end of headers: parse signatures, start key lookups
//! let mut mv = verifier.begin(&headers, dkim::unix_now());
//! let names = mv.key_queries(); // spawn resolver.txt(name) for each (or mv.lookup_keys later)
//! // body chunks as they arrive
//! for c in &chunks { mv.body(c); }
//! // end of message: hand over the answers, then evaluate
//! for n in &names { let a = dns::Resolver::txt(resolver, n).await; mv.set_key_answer(n, a); }
//! for r in mv.finish(&headers) { println!("dkim={} header.d={} ({:?})", r.result, r.domain, r.reason); }
//! # }
//! ```
//!
//! When several consumers need the body (DKIM verification, our own signatures, ARC), create
//! one [`BodyHashes`], start each with [`Verifier::begin_shared`] / [`Signer::start_shared`],
//! feed the body once to [`BodyHashes::update`], and finish each with the
//! [`FinishedBodyHashes`]: every distinct canonical body hash is computed once.
//!
//! Signing: [`Signer::start`] at end of headers (or any time before the body), feed
//! [`SigningSession::body`], then [`SigningSession::finish`] with the header fields, and insert
//! [`SignatureHeader::value`] (folded with `"\n"` for milters) under
//! [`SignatureHeader::name`].

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod body_hashes;
pub mod canon;
pub mod check;
mod error;
pub mod fold;
#[doc(hidden)]
pub mod fuzzing;
mod header_list;
mod key_lookups;
pub mod keys;
pub mod message;
mod parsed_records;
pub mod record;
mod result;
pub mod sign;
pub mod signature;
pub mod tag;
mod tag_values;
pub mod verify;

pub use body_hashes::{BodyHashId, BodyHashKey, BodyHashes, FinishedBodyHashes};
pub use canon::{BodyHash, BodyHasher};
pub use error::{DkimError, TagError};
pub use fold::FoldedHeader;
pub use header_list::HeaderList;
pub use key_lookups::{KeyAnswer, KeyLookups};
pub use keys::{DnsKeyRecord, GeneratedKey, KeyAlgorithm, TestKeyOutcome, generate_key, test_key};
pub use message::{
    HeaderEnd, HeaderField, Headers, Message, normalize_line_endings, parse_message,
};
pub use record::{KeyRecord, refused_by_major_verifiers};
pub use result::{DkimResult, Reason, SignatureResult};
pub use sign::{SignatureHeader, SignedHeaders, Signer, SignerConfig, SigningSession};
pub use signature::{Algorithm, Canonicalization, Signature, SignatureKind};
pub use verify::{MessageVerification, RsaSha1Policy, Verifier, VerifyOptions, key_name};

use dns::Resolver;

/// Seconds since the Unix epoch from the system clock (the default clock for `now`).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Verifies a whole raw message (LF or CRLF line endings; RFC 6376 §6), looking keys up through
/// `resolver`; built on the streaming API.
pub async fn verify_message<R: Resolver + ?Sized>(
    verifier: &Verifier,
    resolver: &R,
    raw: &[u8],
    now: u64,
) -> Vec<SignatureResult> {
    verify_parsed(verifier, resolver, &parse_message(raw), now, |_| false).await
}

/// Verifies a message already split into header fields and body (RFC 6376 §6), for callers
/// that present the fields their own way (`authmilter dkim verify`: as the milter is shown
/// them, [`Message::with_milter_names`]); built on the streaming API. Past the signature
/// budget, those whose `d=` `could_align` with the author domain are evaluated first
/// ([`Verifier::begin_shared`]).
pub async fn verify_parsed<R: Resolver + ?Sized>(
    verifier: &Verifier,
    resolver: &R,
    msg: &Message,
    now: u64,
    could_align: impl Fn(&str) -> bool,
) -> Vec<SignatureResult> {
    let mut mv = verifier.begin_preferring(&msg.headers, now, could_align);
    mv.lookup_keys(resolver).await;
    mv.body(&msg.body);
    mv.finish(&msg.headers)
}

/// Signs a whole raw message (LF or CRLF line endings; RFC 6376 §5) and returns the header to
/// prepend; built on the streaming API.
pub fn sign_message(signer: &Signer, raw: &[u8], now: u64) -> Result<SignatureHeader, DkimError> {
    sign_parsed(signer, &parse_message(raw), now)
}

/// Signs a message already split into header fields and body (RFC 6376 §5) and returns the
/// header to prepend (`authmilter dkim sign` signs the fields as the milter is shown them,
/// [`Message::with_milter_names`]).
pub fn sign_parsed(signer: &Signer, msg: &Message, now: u64) -> Result<SignatureHeader, DkimError> {
    let mut session = signer.start();
    session.body(&msg.body);
    session.finish(&msg.headers, now)
}
