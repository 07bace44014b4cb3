//! Header fields and whole raw messages (RFC 5322 §2.1, §2.2), as DKIM needs them: raw bytes
//! kept, names compared case-insensitively, line endings normalised to CRLF (RFC 6376 §5.3).

use std::borrow::Cow;

/// One header field: its name and its raw value (RFC 5322 §2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderField {
    /// The field name as written (no colon).
    pub name: Vec<u8>,
    /// Everything after the colon, exactly as in the message (a leading space included),
    /// folds as CRLF, without the final CRLF.
    pub value: Vec<u8>,
}

impl HeaderField {
    /// A field from a name and a raw value; bare LF folds in `value` (as milter delivers them)
    /// become CRLF.
    pub fn new(name: impl Into<Vec<u8>>, value: impl AsRef<[u8]>) -> Self {
        HeaderField {
            name: name.into(),
            value: normalize_line_endings(value.as_ref()).into_owned(),
        }
    }

    /// A field as a milter delivers it (SMFIC_HEADER). Unless the MTA was asked for the
    /// leading space (SMFIP_HDR_LEADSPC), the MTA stripped the single space after the colon;
    /// it is put back so that `simple` header canonicalization sees the original bytes.
    pub fn from_milter(name: &[u8], value: &[u8], leading_space_included: bool) -> Self {
        let mut v = Vec::with_capacity(value.len() + 1);
        if !leading_space_included {
            v.push(b' ');
        }
        v.extend_from_slice(value);
        Self::new(name.to_vec(), v)
    }

    /// Case-insensitive name match (RFC 5322 §1.2.2).
    pub fn name_is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name.as_bytes())
    }
}

/// A message split into header fields and body (RFC 5322 §2.1), line endings normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Header fields, top to bottom.
    pub headers: Vec<HeaderField>,
    /// The body after the empty line, CRLF line endings.
    pub body: Vec<u8>,
}

/// Splits a raw message (LF or CRLF line endings) into header fields and body. A leading
/// mbox `From ` line is skipped. Lines in the header without a colon are ignored.
pub fn parse_message(raw: &[u8]) -> Message {
    let data = normalize_line_endings(raw);
    let mut rest: &[u8] = &data;
    if rest.starts_with(b"From ")
        && let Some(p) = find_crlf(rest)
    {
        rest = rest.get(p + 2..).unwrap_or(&[]);
    }
    let mut headers: Vec<HeaderField> = Vec::new();
    loop {
        if rest.is_empty() {
            break;
        }
        if rest.starts_with(b"\r\n") {
            rest = rest.get(2..).unwrap_or(&[]);
            break;
        }
        let end = find_crlf(rest).unwrap_or(rest.len());
        let line = rest.get(..end).unwrap_or(rest);
        rest = rest.get(end + 2..).unwrap_or(&[]);
        if line.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
            // Continuation of the previous field.
            if let Some(last) = headers.last_mut() {
                last.value.extend_from_slice(b"\r\n");
                last.value.extend_from_slice(line);
            }
            continue;
        }
        match line.iter().position(|&b| b == b':') {
            Some(colon) => headers.push(HeaderField {
                name: line.get(..colon).unwrap_or(&[]).to_vec(),
                value: line.get(colon + 1..).unwrap_or(&[]).to_vec(),
            }),
            None => continue,
        }
    }
    Message {
        headers,
        body: rest.to_vec(),
    }
}

/// Turns bare LF (and bare CR) line endings into CRLF (RFC 5322 §2.1; RFC 6376 §5.3 requires
/// CRLF before canonicalization). Borrows when nothing changes.
pub fn normalize_line_endings(raw: &[u8]) -> Cow<'_, [u8]> {
    let mut prev = 0u8;
    let mut clean = true;
    for &b in raw {
        if (b == b'\n' && prev != b'\r') || (prev == b'\r' && b != b'\n') {
            clean = false;
            break;
        }
        prev = b;
    }
    let clean = clean && prev != b'\r';
    if clean {
        return Cow::Borrowed(raw);
    }
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 32);
    let mut iter = raw.iter().copied().peekable();
    while let Some(b) = iter.next() {
        match b {
            b'\r' => {
                out.extend_from_slice(b"\r\n");
                if iter.peek() == Some(&b'\n') {
                    iter.next();
                }
            }
            b'\n' => out.extend_from_slice(b"\r\n"),
            _ => out.push(b),
        }
    }
    Cow::Owned(out)
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
    }

    #[test]
    fn normalizes() {
        assert!(matches!(
            normalize_line_endings(b"a\r\nb"),
            Cow::Borrowed(_)
        ));
        assert_eq!(&*normalize_line_endings(b"a\nb\r\n\rc"), b"a\r\nb\r\n\r\nc");
    }

    #[test]
    fn milter_values() {
        let h = HeaderField::from_milter(b"Subject", b"a\n\tb", false);
        assert_eq!(h.value, b" a\r\n\tb");
    }
}
