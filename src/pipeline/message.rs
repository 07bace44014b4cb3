//! Per-message state: envelope, headers in order with per-name indexes, body accounting.

use crate::app::App;

use super::decision::HeaderChange;

/// Whether a message is mail from our own users or mail arriving from elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From elsewhere: verify, record results, maybe reject.
    Inbound,
    /// From our users: sign, never reject on our checks.
    Outbound,
}

impl Direction {
    /// `inbound` or `outbound`, for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }
}

/// One header as received: name, value after the colon (leading whitespace kept, folding as
/// CRLF), and its 1-based index among headers of the same name (the CHGHEADER index).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredHeader {
    /// Header name as sent.
    pub name: Vec<u8>,
    /// Everything after the colon, continuation lines joined with CRLF.
    pub value: Vec<u8>,
    /// 1-based occurrence among headers with this name (case-insensitive).
    pub index: u32,
}

impl StoredHeader {
    /// True when the name matches, ASCII case-insensitively.
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name.as_bytes())
    }
}

/// One message transaction.
#[derive(Debug)]
pub struct MessageState {
    /// MAIL FROM without angle brackets (empty for the null sender).
    pub mail_from: Vec<u8>,
    /// MAIL FROM ESMTP parameters.
    pub mail_args: Vec<Vec<u8>>,
    /// Recipients with their ESMTP parameters.
    pub recipients: Vec<(Vec<u8>, Vec<Vec<u8>>)>,
    /// Headers in arrival order.
    pub headers: Vec<StoredHeader>,
    /// End of headers was seen.
    pub headers_done: bool,
    /// Body bytes seen.
    pub body_bytes: u64,
    /// Inbound or outbound.
    pub direction: Direction,
    /// The MTA's queue id, once known.
    pub queue_id: Option<String>,
}

impl MessageState {
    /// A message that began with MAIL FROM.
    pub fn new(
        mail_from: Vec<u8>,
        mail_args: Vec<Vec<u8>>,
        direction: Direction,
        queue_id: Option<String>,
    ) -> Self {
        MessageState {
            mail_from,
            mail_args,
            recipients: Vec::new(),
            headers: Vec::new(),
            headers_done: false,
            body_bytes: 0,
            direction,
            queue_id,
        }
    }

    /// A message whose MAIL FROM we never saw (out-of-order input); treated as inbound.
    pub fn without_envelope() -> Self {
        MessageState::new(Vec::new(), Vec::new(), Direction::Inbound, None)
    }

    /// Records a recipient.
    pub fn add_recipient(&mut self, rcpt: Vec<u8>, args: Vec<Vec<u8>>) {
        self.recipients.push((rcpt, args));
    }

    /// Records a header; `value` is what follows the colon, with `\n` or `\r\n` folding.
    pub fn add_header(&mut self, name: &[u8], value: &[u8]) {
        let index = 1 + self
            .headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case(name))
            .count() as u32;
        self.headers.push(StoredHeader {
            name: name.to_vec(),
            value: crlf_folding(value),
            index,
        });
    }

    /// Accounts for one body chunk.
    pub fn body(&mut self, chunk: &[u8]) {
        self.body_bytes = self.body_bytes.saturating_add(chunk.len() as u64);
    }

    /// Deletions of incoming Authentication-Results headers that claim our authserv-id (or
    /// one of `authres.remove_ids`), highest index first so earlier indexes stay valid
    /// (RFC 8601 §5; milter-protocol.md §3.3).
    pub fn forged_authres_deletions(&self, app: &App) -> Vec<HeaderChange> {
        if !app.config.authres.remove_forged {
            return Vec::new();
        }
        let mut indexes: Vec<u32> = self
            .headers
            .iter()
            .filter(|h| h.is("Authentication-Results"))
            .filter(|h| {
                std::iter::once(app.authserv_id.as_str())
                    .chain(app.config.authres.remove_ids.iter().map(String::as_str))
                    .any(|id| authres::claims_authserv_id(&h.value, id))
            })
            .map(|h| h.index)
            .collect();
        indexes.sort_unstable_by(|a, b| b.cmp(a));
        indexes
            .into_iter()
            .map(|index| HeaderChange::Delete {
                name: "Authentication-Results".into(),
                index,
            })
            .collect()
    }
}

/// Turns bare-LF folding (as milters receive it) into CRLF folding (as in the message).
pub fn crlf_folding(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 8);
    let mut prev = 0u8;
    for &b in value {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_becomes_crlf_once() {
        assert_eq!(crlf_folding(b" a\n\tb"), b" a\r\n\tb");
        assert_eq!(crlf_folding(b" a\r\n\tb"), b" a\r\n\tb");
        assert_eq!(crlf_folding(b""), b"");
    }

    #[test]
    fn per_name_indexes() {
        let mut m = MessageState::without_envelope();
        m.add_header(b"Received", b" a");
        m.add_header(b"authentication-results", b" x; none");
        m.add_header(b"Received", b" b");
        m.add_header(b"Authentication-Results", b" y; none");
        let idx: Vec<u32> = m.headers.iter().map(|h| h.index).collect();
        assert_eq!(idx, [1, 1, 2, 2]);
    }
}
