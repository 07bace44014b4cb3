//! Splitting a raw message into header fields and body (RFC 5322 §2.1, §2.2) the way an MTA
//! does it, so that offline tools see the header fields a milter would be shown.
//!
//! Postfix (checked against Postfix 3.7 behind the milter, `tests/e2e/postfix.rs`) and
//! Sendmail read lines up to LF. A line is a header field when it is a name of printable
//! US-ASCII other than `:`, optionally followed by spaces or tabs, then a colon; a line that
//! starts with a space or tab continues the field above it. The first line that is neither
//! ends the header section and starts the body: an empty line (the normal case), a line that
//! is not a field (no colon, 8-bit or control bytes in the name), or a continuation line with
//! no field above it (a header block that starts with whitespace). The MTA then inserts the
//! empty separator line itself, so the "hidden" lines become body text for every reader.

use crate::field::HeaderField;
use crate::headers::Headers;
use crate::line_endings::lf_to_crlf;

/// A message split into header fields and body (RFC 5322 §2.1), CRLF line endings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Header fields, top to bottom, with their occurrence indexes.
    pub headers: Headers,
    /// The body: everything after the header section, CRLF line endings.
    pub body: Vec<u8>,
    /// What ended the header section.
    pub header_end: HeaderEnd,
}

impl Message {
    /// The message with each field named as Postfix and Sendmail name it to a milter: without
    /// the white space the obsolete syntax allows before the colon (RFC 5322 §4.5.2, `To :`),
    /// which both drop (and Postfix queues `To:`; docs/dmarc.md). Offline tools that must
    /// agree with the milter on signed bytes (DKIM `c=simple`, RFC 6376 §3.4.1) read this.
    pub fn with_milter_names(self) -> Message {
        let fields: Vec<HeaderField> = self
            .headers
            .fields()
            .iter()
            .map(|f| HeaderField {
                name: f.canonical_name().to_vec(),
                value: f.value.clone(),
            })
            .collect();
        Message {
            headers: Headers::from(fields),
            ..self
        }
    }
}

/// What ended the header section of a raw message (RFC 5322 §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderEnd {
    /// The empty line (the well-formed case).
    EmptyLine,
    /// The input ended inside the header section (no body).
    EndOfInput,
    /// A line that is not a header field (1-based line number): it and what follows are the
    /// body, as an MTA treats them.
    NotAField(usize),
    /// The header section starts with a continuation line (RFC 5322 §2.2: folding white
    /// space continues a field; here there is none): body from there on, as an MTA does it.
    LeadingContinuation,
}

impl HeaderEnd {
    /// True unless an empty line ended the header section or the input had no body.
    pub fn is_malformed(self) -> bool {
        matches!(
            self,
            HeaderEnd::NotAField(_) | HeaderEnd::LeadingContinuation
        )
    }
}

/// Splits a raw message (LF or CRLF line endings) into header fields and body the way an MTA
/// does (module docs). A leading mbox `From ` line is skipped.
pub fn parse_message(raw: &[u8]) -> Message {
    let data = lf_to_crlf(raw);
    let mut rest: &[u8] = &data;
    let mut line_no = 1usize;
    if rest.starts_with(b"From ")
        && let Some(p) = find_crlf(rest)
    {
        rest = rest.get(p + 2..).unwrap_or(&[]);
        line_no += 1;
    }
    let mut fields: Vec<HeaderField> = Vec::new();
    let header_end = loop {
        if rest.is_empty() {
            break HeaderEnd::EndOfInput;
        }
        if let Some(after) = rest.strip_prefix(b"\r\n") {
            rest = after;
            break HeaderEnd::EmptyLine;
        }
        let end = find_crlf(rest).unwrap_or(rest.len());
        let line = rest.get(..end).unwrap_or(rest);
        if line.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
            match fields.last_mut() {
                Some(last) => {
                    last.value.extend_from_slice(b"\r\n");
                    last.value.extend_from_slice(line);
                }
                None => break HeaderEnd::LeadingContinuation,
            }
        } else {
            match field_name_len(line) {
                Some(colon) => fields.push(HeaderField {
                    name: line.get(..colon).unwrap_or_default().to_vec(),
                    value: line.get(colon + 1..).unwrap_or_default().to_vec(),
                }),
                None => break HeaderEnd::NotAField(line_no),
            }
        }
        rest = rest.get(end + 2..).unwrap_or(&[]);
        line_no += 1;
    };
    Message {
        headers: Headers::from(fields),
        body: rest.to_vec(),
        header_end,
    }
}

/// The position of the colon when `line` is a header field: a non-empty name of printable
/// US-ASCII other than `:` (RFC 5322 §2.2 ftext), optionally followed by spaces or tabs
/// (RFC 5322 §4.5.2), then the colon.
fn field_name_len(line: &[u8]) -> Option<usize> {
    let mut name_len = 0usize;
    let mut in_space = false;
    for (i, &b) in line.iter().enumerate() {
        match b {
            b':' => return (name_len > 0).then_some(i),
            b' ' | b'\t' if name_len > 0 => in_space = true,
            33..=126 if !in_space => name_len += 1,
            _ => return None,
        }
    }
    None
}

fn find_crlf(s: &[u8]) -> Option<usize> {
    s.windows(2).position(|w| w == b"\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_lf_message() {
        let m = parse_message(b"From: a@b\nSubject: x\n  y\nTo:c\n\nbody\n");
        assert_eq!(m.headers.len(), 3);
        assert_eq!(m.headers[0].value, b" a@b");
        assert_eq!(m.headers[1].value, b" x\r\n  y");
        assert_eq!(m.headers[2].value, b"c");
        assert_eq!(m.body, b"body\r\n");
        assert_eq!(m.header_end, HeaderEnd::EmptyLine);
    }

    #[test]
    fn obsolete_whitespace_before_colon_is_a_field() {
        let m =
            parse_message(b"Subject: s\nFrom : Evil <e@evil.example>\nFrom: g@good.example\n\nb\n");
        assert_eq!(m.headers.count("from"), 2);
        assert_eq!(m.headers[1].name, b"From ");
        assert_eq!(m.headers[1].value, b" Evil <e@evil.example>");
    }

    #[test]
    fn a_leading_continuation_line_starts_the_body() {
        let m = parse_message(b" From: e@evil.example\nFrom: g@good.example\n\nb\n");
        assert!(m.headers.is_empty());
        assert_eq!(m.header_end, HeaderEnd::LeadingContinuation);
        assert!(m.header_end.is_malformed());
        assert_eq!(
            m.body,
            b" From: e@evil.example\r\nFrom: g@good.example\r\n\r\nb\r\n"
        );
    }

    #[test]
    fn a_line_that_is_not_a_field_starts_the_body() {
        for (raw, line) in [
            (
                &b"From: g@good.example\ngarbage line\nFrom: e@evil.example\n\nb\n"[..],
                2usize,
            ),
            (
                b"From: g@good.example\nFr\xc3\xb6m: e@evil.example\n\nb\n",
                2,
            ),
            (b"From: g@good.example\n: empty name\n\nb\n", 2),
            (b"From: g@good.example\nX Y: two words\n\nb\n", 2),
        ] {
            let m = parse_message(raw);
            assert_eq!(m.headers.len(), 1, "{raw:?}");
            assert_eq!(m.header_end, HeaderEnd::NotAField(line));
            assert!(
                m.body
                    .starts_with(&raw[raw.iter().position(|&b| b == b'\n').unwrap() + 1..][..3])
            );
        }
    }

    #[test]
    fn lone_cr_is_data_and_mbox_line_is_skipped() {
        let m = parse_message(b"From x@y Mon\nFrom: a@b\rFrom: c@d\n\n");
        assert_eq!(m.headers.len(), 1);
        assert_eq!(m.headers[0].value, b" a@b\rFrom: c@d");
        assert_eq!(m.body, b"");
    }

    /// Postfix and Sendmail pass `To :` to a milter as `To` (docs/dmarc.md): the milter's view
    /// names it so, and keeps every value byte.
    #[test]
    fn milter_names_drop_white_space_before_the_colon() {
        let m = parse_message(b"To  : b@c\nSubject\t:\tx\n  y\nFrom: a@b\n\nbody\n");
        assert_eq!(m.headers[0].name, b"To  ");
        let v = m.clone().with_milter_names();
        let names: Vec<&[u8]> = v.headers.iter().map(|h| h.name.as_slice()).collect();
        assert_eq!(names, [&b"To"[..], b"Subject", b"From"]);
        assert_eq!(v.headers[1].value, b"\tx\r\n  y");
        assert_eq!((v.body, v.header_end), (m.body, m.header_end));
        assert_eq!(v.headers.count("to"), 1);
    }

    #[test]
    fn no_body() {
        let m = parse_message(b"From: a@b\n");
        assert_eq!(m.header_end, HeaderEnd::EndOfInput);
        assert_eq!(m.headers.len(), 1);
        assert!(m.body.is_empty());
    }
}
