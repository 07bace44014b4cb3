//! The testkit's one error type.

use std::time::Duration;

use milter_proto::ProtocolError;

/// What can go wrong while playing the MTA.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestkitError {
    /// Socket error.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The milter sent bytes we cannot decode, answered something an MTA treats as a protocol
    /// error (`UnexpectedResponse`, `NegotiationRefused`), or we tried to encode garbage.
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
    /// The milter sent data although no reply was due (docs/design/milter-protocol.md §0 rule 2, §8.4).
    #[error("the milter sent {bytes} bytes although no reply was due (before {before})")]
    StrayReply {
        /// Number of unexpected bytes buffered.
        bytes: usize,
        /// The command we were about to send.
        before: &'static str,
    },
    /// A high-level call made in the wrong order (e.g. before `negotiate`).
    #[error("usage error: {0}")]
    Usage(&'static str),
}
