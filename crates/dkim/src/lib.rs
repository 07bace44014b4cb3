//! DKIM signatures: streaming verification and signing, RFC 6376, RFC 8301, RFC 8463.

#![warn(missing_docs)]
