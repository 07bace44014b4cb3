//! Building messages to submit and taking delivered ones apart.

use std::sync::atomic::{AtomicUsize, Ordering};

/// A parsed message: headers in order (raw and unfolded) and the body.
#[derive(Debug, Clone)]
pub struct Message {
    /// Headers in order, top first.
    pub headers: Vec<Header>,
    /// Everything after the blank line.
    pub body: Vec<u8>,
}

/// One header field.
#[derive(Debug, Clone)]
pub struct Header {
    /// The name as written.
    pub name: String,
    /// The value with folding removed and surrounding whitespace trimmed.
    pub value: String,
    /// The whole field as it was in the message, CRLF included.
    pub raw: Vec<u8>,
}

impl Header {
    /// True when the name matches, ASCII case-insensitively.
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }
}

impl Message {
    /// Splits a raw message (CRLF or LF line ends) into headers and body.
    pub fn parse(raw: &[u8]) -> Message {
        let mut headers: Vec<Header> = Vec::new();
        let mut pos = 0;
        while pos < raw.len() {
            let end = raw[pos..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(raw.len(), |i| pos + i + 1);
            let line = &raw[pos..end];
            if line == b"\r\n" || line == b"\n" {
                pos = end;
                break;
            }
            if matches!(line.first(), Some(b' ' | b'\t')) {
                if let Some(h) = headers.last_mut() {
                    h.raw.extend_from_slice(line);
                }
            } else {
                headers.push(Header {
                    name: String::new(),
                    value: String::new(),
                    raw: line.to_vec(),
                });
            }
            pos = end;
        }
        for h in &mut headers {
            let text = String::from_utf8_lossy(&h.raw).into_owned();
            let (name, value) = text.split_once(':').unwrap_or((text.as_str(), ""));
            h.name = name.trim().to_string();
            h.value = value
                .split(['\r', '\n'])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
        }
        Message {
            headers,
            body: raw.get(pos..).unwrap_or_default().to_vec(),
        }
    }

    /// The values of every header called `name`, top first.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|h| h.is(name))
            .map(|h| h.value.as_str())
            .collect()
    }

    /// The header names in order, for failure messages.
    pub fn names(&self) -> Vec<&str> {
        self.headers.iter().map(|h| h.name.as_str()).collect()
    }

    /// The message written back out without the headers for which `drop` holds.
    pub fn without(&self, drop: impl Fn(&Header) -> bool) -> Vec<u8> {
        let mut out = Vec::new();
        for h in self.headers.iter().filter(|h| !drop(h)) {
            out.extend_from_slice(&h.raw);
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        out
    }
}

/// A unique Message-ID for one test message; tests find their message at the sink by it.
pub fn message_id(tag: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    format!(
        "<{tag}.{}.{}@client.example>",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A small RFC 5322 message with CRLF line ends. `extra` headers go on top (each a full
/// `Name: value` line without the line end).
pub fn compose(from: &str, to: &str, subject: &str, id: &str, extra: &[&str]) -> Vec<u8> {
    let mut m = String::new();
    for h in extra {
        m.push_str(h);
        m.push_str("\r\n");
    }
    m.push_str(&format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\n\
         Date: Sun, 22 Nov 2026 12:00:00 +0000\r\nMessage-ID: {id}\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n\
         Hello from the authmilter Postfix end-to-end tests.\r\n\
         .A line that starts with a dot (dot-stuffing must survive the trip).\r\n\
         \r\n-- \r\nthe tests\r\n"
    ));
    m.into_bytes()
}
