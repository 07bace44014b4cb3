//! iprev: forward-confirmed reverse DNS of the client address, RFC 8601 section 3.

#![warn(missing_docs)]
