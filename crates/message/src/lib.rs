//! The message model every check shares (RFC 5322 §2): header fields kept once, in their
//! original order, as raw bytes, each with its per-name occurrence index, and the split of a
//! raw message into header fields and body the way an MTA does it.
//!
//! DKIM verification and signing, ARC, DMARC's From extraction and the removal of forged
//! Authentication-Results all borrow the same [`Headers`]; nobody copies or re-indexes them.
//!
//! ```
//! let msg = message::parse_message(b"From: a@example.com\nSubject: hi\n\nbody\n");
//! assert_eq!(msg.headers.len(), 2);
//! assert_eq!(msg.headers.named("from").count(), 1);
//! assert_eq!(msg.body, b"body\r\n");
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod encoded_words;
mod field;
mod headers;
mod line_endings;
mod name_key;
mod parse;
mod postfix_view;

pub use field::{ControlChar, HeaderField, trim_wsp_end};
pub use headers::Headers;
pub use line_endings::{lf_to_crlf, normalize_line_endings};
pub use parse::{HeaderEnd, Message, parse_message};
pub use postfix_view::{
    DROPPED_BY_POSTFIX, dropped_by_postfix, parse_as_postfix_passes, postfix_view,
};
