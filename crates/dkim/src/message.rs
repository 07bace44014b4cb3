//! Header fields and whole raw messages come from the shared `message` crate (RFC 5322 §2):
//! DKIM, ARC, DMARC and the milter pipeline all use the same types.

pub use ::message::{
    HeaderEnd, HeaderField, Headers, Message, lf_to_crlf, normalize_line_endings, parse_message,
};
