//! The fake MTA against a tiny in-test milter built on `milter_proto::Session` (a loopback of
//! the protocol): profiles, NR handling, multiple messages, abort/quit, timeouts, raw mode.

mod faults;
mod milter;
mod negotiated;
mod profiles;
