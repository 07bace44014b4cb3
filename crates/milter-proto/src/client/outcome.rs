//! What the MTA side learns: per-command replies, the end-of-message outcome, and how
//! bodies are cut into chunks (docs/design/milter-protocol.md §2.8).

use crate::{CommandCode, MILTER_CHUNK_SIZE, Response};
use bytes::Bytes;

/// The outcome of one command (docs/design/milter-protocol.md §0 rule 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// The milter's final reply.
    Response(Response),
    /// Sent, but the negotiated `NR_*` bit means no reply comes.
    NoReply,
    /// Not sent: the milter disabled this event (`NO*` bit) or the version lacks it.
    NotSent,
}

impl Reply {
    /// True if an MTA would carry on: CONTINUE, no reply, or not sent.
    pub fn is_continue(&self) -> bool {
        matches!(
            self,
            Self::Response(Response::Continue) | Self::NoReply | Self::NotSent
        )
    }

    /// The response, if one came.
    pub fn response(&self) -> Option<&Response> {
        match self {
            Self::Response(r) => Some(r),
            _ => None,
        }
    }
}

/// Everything the milter answered at end of message (docs/design/milter-protocol.md §2.8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EomOutcome {
    /// Modification packets in the order they arrived (REPLBODY chunks one by one).
    pub modifications: Vec<Response>,
    /// Number of PROGRESS packets.
    pub progress: usize,
    /// The final reply.
    pub final_response: Response,
    /// Where the decision came from: `BodyEob` normally, or the content command that got a
    /// non-continue reply (then `modifications` is empty).
    pub decided_at: CommandCode,
}

impl EomOutcome {
    /// Headers the milter inserted or added: `(index or None for ADDHEADER, name, value)`.
    pub fn added_headers(&self) -> Vec<(Option<u32>, &Bytes, &Bytes)> {
        self.modifications
            .iter()
            .filter_map(|m| match m {
                Response::InsHeader { index, name, value } => Some((Some(*index), name, value)),
                Response::AddHeader { name, value } => Some((None, name, value)),
                _ => None,
            })
            .collect()
    }

    /// The value of the first added or inserted header with this name.
    pub fn added_header(&self, name: &str) -> Option<&Bytes> {
        self.added_headers()
            .into_iter()
            .find(|(_, n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, _, v)| v)
    }

    /// CHGHEADER deletes (empty value): `(index, name)` in the order sent.
    pub fn deleted_headers(&self) -> Vec<(u32, &Bytes)> {
        self.modifications
            .iter()
            .filter_map(|m| match m {
                Response::ChgHeader { index, name, value } if value.is_empty() => {
                    Some((*index, name))
                }
                _ => None,
            })
            .collect()
    }

    /// True for CONTINUE or ACCEPT (both mean accept at end of message).
    pub fn is_accept(&self) -> bool {
        matches!(self.final_response, Response::Continue | Response::Accept)
    }

    /// True for a permanent refusal: REJECT or a 5xx REPLYCODE.
    pub fn is_reject(&self) -> bool {
        match &self.final_response {
            Response::Reject => true,
            Response::ReplyCode(r) => r.code() / 100 == 5,
            _ => false,
        }
    }

    /// True for a temporary refusal: TEMPFAIL or a 4xx REPLYCODE.
    pub fn is_tempfail(&self) -> bool {
        match &self.final_response {
            Response::Tempfail => true,
            Response::ReplyCode(r) => r.code() / 100 == 4,
            _ => false,
        }
    }

    /// The action as the milter's log names it: `accept`, `reject`, `tempfail`, `discard`,
    /// or `quarantine` (accepted with a QUARANTINE modification).
    pub fn action(&self) -> &'static str {
        if self.is_reject() {
            "reject"
        } else if self.is_tempfail() {
            "tempfail"
        } else if matches!(self.final_response, Response::Discard) {
            "discard"
        } else if self
            .modifications
            .iter()
            .any(|m| matches!(m, Response::Quarantine(_)))
        {
            "quarantine"
        } else {
            "accept"
        }
    }
}

/// How to cut a body into BODY chunks (docs/design/milter-protocol.md §2.8, §11.2 "Chunking").
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum BodySplit {
    /// 65535-byte chunks, the last one shorter (both MTAs).
    #[default]
    Standard,
    /// Chunk sizes taken in turn from the list (each clamped to 1..=65535).
    Sizes(Vec<usize>),
    /// Split after the CR of every CRLF, so every line end straddles two chunks.
    CrLfAcrossChunks,
}

/// Cuts `body` into BODY chunks of at most 65535 bytes as `split` says.
pub fn chunk_body<'a>(body: &'a [u8], split: &BodySplit) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    match split {
        BodySplit::Standard => out.extend(body.chunks(MILTER_CHUNK_SIZE)),
        BodySplit::Sizes(sizes) => {
            let mut rest = body;
            let mut i = 0usize;
            while !rest.is_empty() {
                let n = sizes
                    .get(i % sizes.len().max(1))
                    .copied()
                    .unwrap_or(MILTER_CHUNK_SIZE);
                let n = n.clamp(1, MILTER_CHUNK_SIZE).min(rest.len());
                let (a, b) = rest.split_at(n);
                out.push(a);
                rest = b;
                i += 1;
            }
        }
        BodySplit::CrLfAcrossChunks => {
            let mut start = 0usize;
            for (i, w) in body.windows(2).enumerate() {
                if w == b"\r\n" {
                    if let Some(piece) = body.get(start..=i) {
                        out.extend(piece.chunks(MILTER_CHUNK_SIZE));
                    }
                    start = i + 1;
                }
            }
            if let Some(piece) = body.get(start..) {
                out.extend(piece.chunks(MILTER_CHUNK_SIZE));
            }
        }
    }
    out.retain(|c| !c.is_empty());
    out
}

/// An outcome decided before end of message (a non-continue reply to `at`).
pub fn decided(resp: Response, at: CommandCode) -> EomOutcome {
    EomOutcome {
        modifications: Vec::new(),
        progress: 0,
        final_response: resp,
        decided_at: at,
    }
}
