//! Per-message state kept by the session: envelope, headers with per-name indexes (§3.3, §4.2).

use std::collections::HashMap;

use bytes::Bytes;

use crate::command::Envelope;

/// One header as the MTA showed it, with its indexes (§2.8, §3.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderField {
    /// Header name as sent.
    pub name: Bytes,
    /// Value exactly as the MTA sent it (`\n` folding; leading space only with LEADSPC).
    pub value: Bytes,
    /// 1-based occurrence among headers of the same name (case-insensitive): the CHGHEADER index.
    pub index: u32,
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
    /// RCPT TO in arrival order.
    pub recipients: Vec<Envelope>,
    /// Headers in arrival order.
    pub headers: Vec<HeaderField>,
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
    counts: HashMap<Vec<u8>, u32>,
}

impl Message {
    /// Records a header and returns it with its per-name index (1-based) and position.
    pub(crate) fn push_header(&mut self, name: Bytes, value: Bytes, leadspc: bool) -> HeaderField {
        let count = self.counts.entry(name.to_ascii_lowercase()).or_insert(0);
        *count = count.saturating_add(1);
        let field = HeaderField {
            index: *count,
            position: u32::try_from(self.headers.len()).unwrap_or(u32::MAX),
            name,
            value,
            leadspc,
        };
        self.headers.push(field.clone());
        field
    }

    /// Headers with this name (case-insensitive), in order; each carries its CHGHEADER index.
    pub fn headers_named<'a>(&'a self, name: &'a [u8]) -> impl Iterator<Item = &'a HeaderField> {
        self.headers.iter().filter(move |h| h.is(name))
    }

    /// How many headers of this name were shown.
    pub fn header_count(&self, name: &[u8]) -> u32 {
        self.counts
            .get(&name.to_ascii_lowercase())
            .copied()
            .unwrap_or(0)
    }

    /// The first header of this name.
    pub fn header(&self, name: &[u8]) -> Option<&HeaderField> {
        self.headers.iter().find(|h| h.is(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_name_indexes_are_case_insensitive_and_one_based() {
        let mut m = Message::default();
        for (n, v) in [
            ("Authentication-Results", "a"),
            ("From", "x"),
            ("authentication-results", "b"),
            ("AUTHENTICATION-RESULTS", "c"),
        ] {
            m.push_header(Bytes::from(n), Bytes::from(v), true);
        }
        let idx: Vec<(u32, u32)> = m
            .headers_named(b"Authentication-Results")
            .map(|h| (h.index, h.position))
            .collect();
        assert_eq!(idx, vec![(1, 0), (2, 2), (3, 3)]);
        assert_eq!(m.header_count(b"authentication-RESULTS"), 3);
        assert_eq!(m.header(b"from").unwrap().index, 1);
    }

    #[test]
    fn raw_line_restores_the_space_only_without_leadspc() {
        let h = HeaderField {
            name: Bytes::from("Subject"),
            value: Bytes::from(" hi\n\tthere"),
            index: 1,
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
