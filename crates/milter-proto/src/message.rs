//! Per-message state kept by the session: envelope and counters (§4.2). Header fields are
//! handed to the application once, as events, and not kept here: the application owns the
//! one copy (and computes the per-name CHGHEADER index, §3.3, from it).

use bytes::Bytes;

use crate::command::Envelope;

/// One header as the MTA showed it (§2.8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderField {
    /// Header name as sent.
    pub name: Bytes,
    /// Value exactly as the MTA sent it (`\n` folding; leading space only with LEADSPC). A NUL
    /// inside the value (the packet held more than `name NUL value NUL`) is kept, so that the
    /// application can see and refuse it rather than read only the part before it.
    pub value: Bytes,
    /// 0-based position among all headers the milter was shown.
    pub position: u32,
    /// Whether `SMFIP_HDR_LEADSPC` was in force when it arrived.
    pub leadspc: bool,
}

impl HeaderField {
    /// The header line as it appears in the message, without the final CRLF (§2.8).
    ///
    /// `Name:` + value. Without LEADSPC the MTA removed one space after the colon, so one is
    /// added back; that is a guess when the original had none or had a tab (§0 rule 5).
    /// Continuation lines keep the bare `\n` the MTA sent.
    pub fn raw_line(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.name.len() + self.value.len() + 2);
        out.extend_from_slice(&self.name);
        out.push(b':');
        if !self.leadspc {
            out.push(b' ');
        }
        out.extend_from_slice(&self.value);
        out
    }

    /// The value as it follows the colon in the message (leading space restored without LEADSPC).
    pub fn value_after_colon(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.value.len() + 1);
        if !self.leadspc {
            out.push(b' ');
        }
        out.extend_from_slice(&self.value);
        out
    }

    /// True if this header's name equals `name`, ASCII case-insensitively.
    pub fn is(&self, name: &[u8]) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }
}

/// One message transaction, from MAIL (or the first content command) to its end (§4.2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    /// MAIL FROM, if it was seen.
    pub sender: Option<Envelope>,
    /// Number of RCPT TO seen (the application keeps the recipients it needs: one copy of
    /// an envelope of thousands, not two).
    pub recipient_count: usize,
    /// Number of header fields shown.
    pub header_count: u32,
    /// DATA was seen.
    pub data_seen: bool,
    /// EOH was seen.
    pub eoh_seen: bool,
    /// Number of body bytes seen (BODY chunks and BODYEOB data).
    pub body_bytes: u64,
    /// Number of body chunks seen.
    pub body_chunks: u64,
    /// We gave a final non-continue answer at MAIL/DATA/HEADER/EOH/BODY: the MTA dropped it.
    pub finished: bool,
}

impl Message {
    /// Counts a header and returns it with its position (0-based among all headers).
    pub(crate) fn push_header(&mut self, name: Bytes, value: Bytes, leadspc: bool) -> HeaderField {
        let field = HeaderField {
            position: self.header_count,
            name,
            value,
            leadspc,
        };
        self.header_count = self.header_count.saturating_add(1);
        field
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_counted_not_kept() {
        let mut m = Message::default();
        let positions: Vec<u32> = ["a", "b", "c"]
            .iter()
            .map(|v| {
                m.push_header(Bytes::from("X"), Bytes::from(*v), true)
                    .position
            })
            .collect();
        assert_eq!(positions, [0, 1, 2]);
        assert_eq!(m.header_count, 3);
    }

    #[test]
    fn raw_line_restores_the_space_only_without_leadspc() {
        let h = HeaderField {
            name: Bytes::from("Subject"),
            value: Bytes::from(" hi\n\tthere"),
            position: 0,
            leadspc: true,
        };
        assert_eq!(h.raw_line(), b"Subject: hi\n\tthere");
        let h = HeaderField {
            value: Bytes::from("hi"),
            leadspc: false,
            ..h
        };
        assert_eq!(h.raw_line(), b"Subject: hi");
        assert_eq!(h.value_after_colon(), b" hi");
    }
}
