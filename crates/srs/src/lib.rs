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

#![warn(missing_docs)]

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
