//! Authenticated Received Chain, RFC 8617: chain validation and sealing.
//!
//! Sans-IO except key lookups, which go through [`dns::Resolver`]. ARC reuses DKIM's pieces
//! (RFC 8617 §4.1.2, §5.2): the tag-list and signature rules ([`dkim::SignatureKind`]), header
//! canonicalization, key records with the RFC 8301 / RFC 8463 rules, and the body hashes one
//! message shares with DKIM verification and signing ([`dkim::BodyHashes`]), so the body is
//! hashed once per canonicalization whoever asks.
//!
//! The milter drives validation and sealing in the same stages as DKIM:
//!
//! ```no_run
//! # async fn demo(resolver: &dns::memory::MemoryResolver, headers: Vec<dkim::HeaderField>,
//! #     chunks: Vec<Vec<u8>>, sealer: arc::Sealer, our_results: authres::AuthenticationResults) {
//! let verifier = arc::Verifier::default();
//! let mut hashes = dkim::BodyHashes::default();
//! // end of headers: structure checks, body hashes requested, key names known
//! let mut chain = verifier.begin(&headers, dkim::unix_now(), &mut hashes);
//! let sealing = sealer.start(&mut hashes); // only where we seal
//! chain.lookup_keys(resolver).await; // or key_queries() + set_key_answer()
//! // body chunks, once, for DKIM, DKIM signing and ARC together
//! for c in &chunks { hashes.update(c); }
//! let hashes = hashes.finish();
//! let outcome = chain.finish(&hashes);
//! println!("arc={} ({:?})", outcome.result, outcome.reason);
//! // seal over the header fields as they leave, with this hop's results
//! let set = sealing.seal(&hashes, &headers, &outcome, &our_results, dkim::unix_now()).unwrap();
//! for field in set.top_down() { println!("{}: {}", field.name(), field.value("\r\n")); }
//! # }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod chain;
mod error;
mod fields;
#[doc(hidden)]
pub mod fuzzing;
mod hash_input;
mod outcome;
mod seal;
mod trust;
mod verify;

pub use error::ArcError;
pub use fields::{ArcAuthResults, ArcField, ArcSeal, MAX_INSTANCE, MessageSignature};
pub use outcome::{ArcOutcome, ArcSetInfo, ChainStatus, FailReason, SignatureCheck};
pub use seal::{AmsHeaders, ArcSet, Layout, Sealer, SealerConfig, SealingSession};
pub use trust::{PassKind, TrustedPass};
pub use verify::{ChainVerification, Verifier, VerifyOptions};

use dns::Resolver;

/// Validates the chain of a whole raw message (LF or CRLF line endings; RFC 8617 §5.2),
/// looking keys up through `resolver`; built on the staged API.
pub async fn verify_message<R: Resolver + ?Sized>(
    verifier: &Verifier,
    resolver: &R,
    raw: &[u8],
    now: u64,
) -> ArcOutcome {
    verify_parsed(verifier, resolver, &message::parse_message(raw), now).await
}

/// Validates the chain of a message already split into fields and body (RFC 8617 §5.2), for
/// callers that present the fields their own way (`authmilter arc verify`: as the milter is
/// shown them, [`message::Message::with_milter_names`]).
pub async fn verify_parsed<R: Resolver + ?Sized>(
    verifier: &Verifier,
    resolver: &R,
    msg: &message::Message,
    now: u64,
) -> ArcOutcome {
    let mut hashes = dkim::BodyHashes::new(verifier.options().crypto);
    let mut chain = verifier.begin(&msg.headers, now, &mut hashes);
    chain.lookup_keys(resolver).await;
    hashes.update(&msg.body);
    chain.finish(&hashes.finish())
}

/// Validates a whole raw message's chain, then seals it (RFC 8617 §5.1) with this hop's
/// results, which `payload` makes from the validation outcome (e.g. our `arc=` result);
/// returns the validation outcome and the set to prepend.
pub async fn seal_message<R: Resolver + ?Sized>(
    verifier: &Verifier,
    sealer: &Sealer,
    resolver: &R,
    raw: &[u8],
    payload: impl FnOnce(&ArcOutcome) -> authres::AuthenticationResults,
    now: u64,
) -> Result<(ArcOutcome, ArcSet), ArcError> {
    let msg = message::parse_message(raw);
    seal_parsed(verifier, sealer, resolver, &msg, payload, now).await
}

/// [`seal_message`] for a message already split into fields and body (RFC 8617 §5.1), for
/// callers that present the fields their own way (`authmilter arc seal`: as the milter is
/// shown them, [`message::Message::with_milter_names`]).
pub async fn seal_parsed<R: Resolver + ?Sized>(
    verifier: &Verifier,
    sealer: &Sealer,
    resolver: &R,
    msg: &message::Message,
    payload: impl FnOnce(&ArcOutcome) -> authres::AuthenticationResults,
    now: u64,
) -> Result<(ArcOutcome, ArcSet), ArcError> {
    // a header section cut short by a line that is not a field is sealed as the MTA passes
    // it to the milter (that line and the rest are the body), as the milter seals it
    let mut hashes = dkim::BodyHashes::new(verifier.options().crypto);
    let mut chain = verifier.begin(&msg.headers, now, &mut hashes);
    let session = sealer.start(&mut hashes);
    chain.lookup_keys(resolver).await;
    hashes.update(&msg.body);
    let hashes = hashes.finish();
    let outcome = chain.finish(&hashes);
    let set = session.seal(&hashes, &msg.headers, &outcome, &payload(&outcome), now)?;
    Ok((outcome, set))
}
