//! Sender Policy Framework evaluation, RFC 7208.

#![warn(missing_docs)]
