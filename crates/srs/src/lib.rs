//! Sender Rewriting Scheme (SRS0/SRS1, postsrsd-compatible) and the Postfix socketmap protocol.
//!
//! The crate is sans-IO: strings and bytes in, rewritten addresses and decisions out.
//!
//! - [`Srs`] rewrites envelope senders (`forward`) and recovers them from bounce
//!   recipients (`reverse`) exactly as postsrsd 2.x / libsrs2 ("Guarded" scheme) do:
//!   `SRS0=HHHH=TT=orig.example=user@forwarder.example`.
//! - [`Secrets`] holds the HMAC keys: the first signs, all verify (rotation).
//! - [`socketmap`] is the Postfix socketmap codec (netstrings) and the request → reply
//!   function with postsrsd 2's semantics.
//! - [`milter`] decides, for one SMTP transaction, whether to change MAIL FROM and which
//!   SRS recipients to replace or reject.
//!
//! Addresses are bytes on the inside. The `&str` methods are thin wrappers: SRS only splits
//! on ASCII `=` and `@` and concatenates, so UTF-8 (SMTPUTF8) local parts and domains pass
//! through unchanged; the hash lower-cases ASCII letters only, as postsrsd does in the C
//! locale. The `*_bytes` methods accept any 8-bit input.
//!
//! # Forward and reverse
//!
//! ```
//! use srs::{Clock, Forwarded, Srs, SrsConfig, SrsError, load_secrets};
//!
//! // The first secret signs, all verify.
//! let secrets = load_secrets("# current\ntops3cr3t\n# previous\nold-secret\n")?;
//! let mut config = SrsConfig::new(secrets, "example.com");
//! config.clock = Clock::fixed_unix(1_577_836_860); // for this example; default: system clock
//! let srs = Srs::new(config)?;
//!
//! let Forwarded::Rewritten(addr) = srs.forward("test@otherdomain.com", srs.srs_domain())? else {
//!     unreachable!()
//! };
//! assert_eq!(addr, "SRS0=vmyz=2W=otherdomain.com=test@example.com"); // as postsrsd
//! assert_eq!(srs.reverse(&addr)?, "test@otherdomain.com");
//! assert_eq!(srs.reverse("SRS0=FAKE=2W=otherdomain.com=test@example.com"), Err(SrsError::BadHash));
//! assert!(matches!(srs.forward("", "example.com")?, Forwarded::NotRewritten(_)));
//! # Ok::<(), SrsError>(())
//! ```
//!
//! # Socketmap
//!
//! ```
//! use srs::socketmap::{Decoder, HandlerOptions, Reply, handle_request};
//! # use srs::{Clock, Srs, SrsConfig, DomainSet, load_secrets};
//! # let mut config = SrsConfig::new(load_secrets("tops3cr3t")?, "example.com");
//! # config.clock = Clock::fixed_unix(1_577_836_860);
//! # let srs = Srs::new(config)?;
//! let local: DomainSet = ["example.com"].into_iter().collect();
//! let mut decoder = Decoder::new(); // 100000-byte limit, as Postfix
//! decoder.feed(b"28:forward test@otherdomain.com,"); // whatever the socket read returned
//! let mut out = Vec::new();
//! while let Some(request) = decoder.decode()? {
//!     let reply = handle_request(&srs, &|d| local.contains(d), &HandlerOptions::default(), &request);
//!     out.extend(reply.encode());
//! }
//! assert_eq!(out, b"48:OK SRS0=vmyz=2W=otherdomain.com=test@example.com,");
//! // On a decoder error: write Reply::invalid_query().encode() and close the connection.
//! # Ok::<(), srs::SrsError>(())
//! ```
//!
//! # Milter decision
//!
//! ```
//! use srs::milter::{MilterDecision, MilterOptions, RewriteMode, SrsMilter};
//! # use srs::{Clock, Srs, SrsConfig, DomainSet, load_secrets};
//! # let mut config = SrsConfig::new(load_secrets("tops3cr3t")?, "example.com");
//! # config.clock = Clock::fixed_unix(1_577_836_860);
//! # let srs = Srs::new(config)?;
//! let local: DomainSet = ["example.com"].into_iter().collect();
//! let excluded = DomainSet::new();
//! let milter = SrsMilter {
//!     srs: &srs,
//!     is_local: &|d| local.contains(d),
//!     is_excluded: &|d| excluded.contains(d),
//!     options: MilterOptions { mode: RewriteMode::WhenSpfFails, ..MilterOptions::default() },
//! };
//! // At end of message; the last argument: does the sender's SPF pass for our address?
//! match milter.decide("sender@otherdomain.com", &["friend@thirddomain.com"], Some(false)) {
//!     MilterDecision::Accept(changes) => {
//!         // SMFIR_CHGFROM (keep the ESMTP args); DELRCPT/ADDRCPT for changes.recipients
//!         assert_eq!(changes.new_sender.as_deref(), Some("SRS0=9KJ-=2W=otherdomain.com=sender@example.com"));
//!     }
//!     MilterDecision::Reject(reply) => panic!("{reply}"), // e.g. "550 5.1.1 Invalid SRS address: ..."
//! }
//! # Ok::<(), srs::SrsError>(())
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod address;
mod config;
mod domains;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod hash;
pub mod milter;
mod rewrite;
mod secrets;
pub mod socketmap;

pub use config::{Clock, HashEncoding, Separator, SrsConfig};
pub use domains::DomainSet;
pub use error::{Malformed, SrsError};
pub use rewrite::{Forwarded, NotRewritten, Srs, is_srs_address};
pub use secrets::{Secrets, generate_secret, load_secrets};

/// Default number of hash characters in generated addresses (libsrs2, postsrsd `hash-length`).
pub const DEFAULT_HASH_LENGTH: usize = 4;
/// Largest supported hash length: 27 base64 characters carry all 160 bits of HMAC-SHA1.
pub const MAX_HASH_LENGTH: usize = 27;
/// Default maximum age of an SRS0 timestamp in days (libsrs2 `maxage`, postsrsd has no knob).
pub const DEFAULT_MAX_AGE_DAYS: u32 = 21;
/// Number of distinct day timestamps: two base32 characters, so timestamps wrap every 1024 days.
pub const TIMESTAMP_SLOTS: u64 = 1024;
