//! Authentication-Results header model, builder and parser, RFC 8601.

#![warn(missing_docs)]
