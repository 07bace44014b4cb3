//! DMARC policy evaluation, RFC 9989 (DMARCbis) and RFC 7489.

#![warn(missing_docs)]
