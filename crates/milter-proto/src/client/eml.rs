//! Splitting a raw message into headers and body the way Postfix shows them to a milter
//! (docs/design/milter-protocol.md §2.8).

/// One header as the MTA sends it, before the LEADSPC rule is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmlHeader {
    /// Field name (whitespace before the colon dropped, as Postfix does).
    pub name: Vec<u8>,
    /// Everything after the colon, continuation lines joined with bare `\n`, no terminator.
    pub value: Vec<u8>,
}

/// A message split into headers and a CRLF body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Eml {
    /// Headers in order.
    pub headers: Vec<EmlHeader>,
    /// The body with CRLF line ends (every line, including the last, ends in CRLF); empty if
    /// the message has no body.
    pub body: Vec<u8>,
}

impl Eml {
    /// Parses raw message bytes (CRLF or LF line ends).
    ///
    /// Headers end at the first empty line, or at the first line that is neither a header nor a
    /// continuation (it then starts the body). The empty separator line is not part of the body.
    pub fn parse(raw: &[u8]) -> Self {
        let mut lines = split_lines(raw).into_iter().peekable();
        let mut headers: Vec<EmlHeader> = Vec::new();
        let mut body_lines: Vec<&[u8]> = Vec::new();
        for line in lines.by_ref() {
            if line.is_empty() {
                break;
            }
            if matches!(line.first(), Some(b' ' | b'\t'))
                && let Some(last) = headers.last_mut()
            {
                last.value.push(b'\n');
                last.value.extend_from_slice(line);
                continue;
            }
            match split_header(line) {
                Some(h) => headers.push(h),
                None => {
                    body_lines.push(line);
                    break;
                }
            }
        }
        body_lines.extend(lines);
        let mut body = Vec::new();
        for l in body_lines {
            body.extend_from_slice(l);
            body.extend_from_slice(b"\r\n");
        }
        Self { headers, body }
    }
}

/// Lines without their terminators; a final line without a terminator is kept, a final
/// terminator does not start an empty line.
fn split_lines(raw: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = raw;
    while !rest.is_empty() {
        match rest.iter().position(|&b| b == b'\n') {
            Some(i) => {
                let (line, tail) = rest.split_at(i);
                out.push(line.strip_suffix(b"\r").unwrap_or(line));
                rest = tail.get(1..).unwrap_or_default();
            }
            None => {
                out.push(rest);
                rest = &[];
            }
        }
    }
    out
}

fn split_header(line: &[u8]) -> Option<EmlHeader> {
    let colon = line.iter().position(|&b| b == b':')?;
    let (name, value) = line.split_at(colon);
    let name = name.trim_ascii_end();
    if name.is_empty() || !name.iter().all(|&b| b.is_ascii_graphic()) {
        return None;
    }
    Some(EmlHeader {
        name: name.to_vec(),
        value: value.get(1..).unwrap_or_default().to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postfix_style_split() {
        let raw = b"From: Alice <a@example.org>\r\nSubject : folded\r\n\tline\r\nX-Empty:\r\n\r\nHello\nBob";
        let eml = Eml::parse(raw);
        assert_eq!(eml.headers.len(), 3);
        assert_eq!(eml.headers[0].name, b"From");
        assert_eq!(eml.headers[0].value, b" Alice <a@example.org>");
        assert_eq!(eml.headers[1].name, b"Subject");
        assert_eq!(eml.headers[1].value, b" folded\n\tline");
        assert_eq!(eml.headers[2].value, b"");
        assert_eq!(eml.body, b"Hello\r\nBob\r\n");
    }

    #[test]
    fn no_body_and_non_header_line() {
        assert!(Eml::parse(b"A: b\r\n").body.is_empty());
        assert!(Eml::parse(b"A: b\r\n\r\n").body.is_empty());
        let eml = Eml::parse(b"A: b\r\nnot a header\r\nx\r\n");
        assert_eq!(eml.headers.len(), 1);
        assert_eq!(eml.body, b"not a header\r\nx\r\n");
    }
}
