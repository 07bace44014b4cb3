//! The crate's one error type (milter-protocol.md §1.2, §3, §4.2).

/// Everything that can go wrong while decoding, encoding or driving a milter session.
///
/// Framing and payload errors ([`is_fatal`](Self::is_fatal)) mean the byte stream can no longer be
/// trusted: close the connection and let the MTA apply its default action (§4.2). The other
/// variants are refusals of something *we* tried to send; nothing was written and the connection
/// is still usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// §1.2: a frame length of 0 (the length always counts the code byte).
    #[error("milter frame with length 0 (the length must count at least the code byte)")]
    ZeroLength,
    /// §1.2: the payload is larger than the configured cap (checked before allocating).
    #[error("milter frame payload of {len} bytes exceeds the cap of {max} bytes")]
    FrameTooLarge {
        /// Payload length announced by the peer.
        len: u64,
        /// The decoder's cap.
        max: usize,
    },
    /// §2: a command code we do not know.
    #[error("unknown milter command code {0:#04x}")]
    UnknownCommand(u8),
    /// §3: a response code we do not know or that must never be sent (`'f'`, `'4'`, `'l'`).
    #[error("unknown or unsupported milter response code {0:#04x}")]
    UnknownResponse(u8),
    /// §2/§3: a payload that cannot be parsed (missing NUL, short fixed fields, bad family...).
    #[error("malformed {packet} payload: {reason}")]
    Malformed {
        /// Name of the packet (`"SMFIC_CONNECT"`, `"SMFIR_CHGHEADER"`, ...).
        packet: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// §0 rule 10: end of stream in the middle of a frame.
    #[error("connection closed in the middle of a milter frame ({buffered} bytes buffered)")]
    Truncated {
        /// Bytes of the incomplete frame that were received.
        buffered: usize,
    },
    /// §2.1: the MTA offered a protocol version below 2.
    #[error("MTA offered milter protocol version {0}; versions below 2 are not supported")]
    UnsupportedVersion(u32),
    /// §3.1: an SMTP reply that the MTAs would refuse or mangle.
    #[error("invalid SMTP reply for SMFIR_REPLYCODE: {0}")]
    InvalidReply(&'static str),
    /// §3.2: a header name that is empty or not printable ASCII without space and colon.
    #[error("invalid header name: {0}")]
    InvalidHeaderName(&'static str),
    /// §3.2: a header value with NUL, a bare CR, or a line break not followed by whitespace.
    #[error("invalid header value: {0}")]
    InvalidHeaderValue(&'static str),
    /// §1.3/§3: a field that cannot be encoded (NUL inside a C string, empty address or reason...).
    #[error("invalid {field}: {reason}")]
    InvalidField {
        /// Which field (`"recipient"`, `"quarantine reason"`, ...).
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// §2.2: a modification whose action bit was not negotiated.
    #[error("{response} needs the {action} action, which was not negotiated")]
    NotNegotiated {
        /// The response we tried to send.
        response: &'static str,
        /// The `SMFIF_*` / `SMFIP_*` bit it needs.
        action: &'static str,
    },
    /// §0 rules 2–4, §3: a response that is not legal at this point of the session.
    #[error("{response} is not allowed here: {reason}")]
    IllegalResponse {
        /// The response we tried to send.
        response: &'static str,
        /// Why the session refused it.
        reason: &'static str,
    },
    /// Client side: the milter answered with something an MTA treats as a protocol error.
    #[error("unexpected response {response:?} to {command}: {reason}")]
    UnexpectedResponse {
        /// The command being answered.
        command: &'static str,
        /// What arrived.
        response: Box<crate::Response>,
        /// Why an MTA would refuse it.
        reason: &'static str,
    },
    /// Client side: the milter's OPTNEG reply would be refused by the MTA (§2.1).
    #[error("negotiation refused: {0}")]
    NegotiationRefused(&'static str),
}

impl ProtocolError {
    /// True for errors in what the peer sent (framing or payload): the connection must be closed.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            Self::ZeroLength
                | Self::FrameTooLarge { .. }
                | Self::UnknownCommand(_)
                | Self::UnknownResponse(_)
                | Self::Malformed { .. }
                | Self::Truncated { .. }
                | Self::UnsupportedVersion(_)
                | Self::UnexpectedResponse { .. }
                | Self::NegotiationRefused(_)
        )
    }

    /// True when the session refused a response we tried to send (nothing was written).
    pub fn is_refusal(&self) -> bool {
        !self.is_fatal()
    }
}
