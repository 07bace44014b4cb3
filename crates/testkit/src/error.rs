//! The testkit's one error type.

use std::time::Duration;

use milter_proto::{ProtocolError, Response};

/// What can go wrong while playing the MTA.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestkitError {
    /// Socket error.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The milter sent bytes we cannot decode, or we tried to encode something invalid.
    #[error("protocol error: {0}")]
    Protocol(#[from] ProtocolError),
    /// No (complete) reply within the deadline.
    #[error("timed out after {after:?} waiting for the reply to {waiting_for}")]
    Timeout {
        /// The command whose reply was awaited.
        waiting_for: &'static str,
        /// The deadline that expired.
        after: Duration,
    },
    /// The milter closed the connection.
    #[error("the milter closed the connection while we waited for the reply to {waiting_for}")]
    Closed {
        /// The command whose reply was awaited.
        waiting_for: &'static str,
    },
    /// The milter answered with something an MTA would treat as a protocol error.
    #[error("unexpected response {response:?} to {command}: {reason}")]
    Unexpected {
        /// The command being answered.
        command: &'static str,
        /// What arrived.
        response: Box<Response>,
        /// Why an MTA would refuse it.
        reason: &'static str,
    },
    /// The milter sent data although no reply was due (design doc §0 rule 2, §8.4).
    #[error("the milter sent {bytes} bytes although no reply was due (before {before})")]
    StrayReply {
        /// Number of unexpected bytes buffered.
        bytes: usize,
        /// The command we were about to send.
        before: &'static str,
    },
    /// The milter's OPTNEG reply would be refused by the MTA (design doc §2.1).
    #[error("negotiation failed: {0}")]
    Negotiation(&'static str),
    /// A high-level call made in the wrong order (e.g. before `negotiate`).
    #[error("usage error: {0}")]
    Usage(&'static str),
}
