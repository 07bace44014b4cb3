//! Sender Rewriting Scheme (SRS0/SRS1, postsrsd-compatible) and the Postfix socketmap protocol.

#![warn(missing_docs)]
