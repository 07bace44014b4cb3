//! A validated SMTP reply for `SMFIR_REPLYCODE` (milter-protocol.md §3.1).

use std::fmt;

use crate::error::ProtocolError;

/// libmilter's limit on one reply line (§3.1, Appendix A).
pub const MAX_REPLY_LINE: usize = 980;
/// libmilter's limit on the number of reply lines (§3.1, Appendix A).
pub const MAX_REPLY_LINES: usize = 32;

/// An RFC 3463 enhanced status code `class.subject.detail` (§3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EnhancedCode {
    class: u8,
    subject: u16,
    detail: u16,
}

/// An SMTP reply the MTAs will accept as is (§3.1): 4xx/5xx, enhanced class equal to the first
/// digit, no NUL/CR/LF inside a line, at most 32 lines of at most 980 bytes (after `%` → `%%`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SmtpReply {
    code: u16,
    enhanced: Option<EnhancedCode>,
    lines: Vec<Vec<u8>>,
}

impl EnhancedCode {
    /// A code from its parts; class 4 or 5 (2 is allowed by RFC 3463 but never in a milter reply).
    pub fn new(class: u8, subject: u16, detail: u16) -> Result<Self, ProtocolError> {
        if !matches!(class, 4 | 5) {
            return Err(ProtocolError::InvalidReply(
                "enhanced status class must be 4 or 5",
            ));
        }
        if subject > 999 || detail > 999 {
            return Err(ProtocolError::InvalidReply(
                "enhanced status subject and detail have at most 3 digits",
            ));
        }
        Ok(Self {
            class,
            subject,
            detail,
        })
    }

    /// Parses `"5.7.1"`.
    pub fn parse(s: &[u8]) -> Result<Self, ProtocolError> {
        let bad = ProtocolError::InvalidReply("enhanced status code is not class.subject.detail");
        let mut parts = s.split(|&b| b == b'.');
        let (Some(c), Some(sub), Some(det), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad);
        };
        let class = match c {
            [d] if d.is_ascii_digit() => d - b'0',
            _ => return Err(bad),
        };
        Self::new(
            class,
            digits(sub).ok_or(bad.clone())?,
            digits(det).ok_or(bad)?,
        )
    }

    /// The class digit (4 or 5).
    pub fn class(&self) -> u8 {
        self.class
    }

    /// The subject number.
    pub fn subject(&self) -> u16 {
        self.subject
    }

    /// The detail number.
    pub fn detail(&self) -> u16 {
        self.detail
    }
}

impl fmt::Display for EnhancedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

impl SmtpReply {
    /// A one-line reply, e.g. `SmtpReply::new(550, Some("5.7.23"), "SPF fail")`.
    pub fn new(
        code: u16,
        enhanced: Option<&str>,
        text: impl AsRef<[u8]>,
    ) -> Result<Self, ProtocolError> {
        Self::multiline(code, enhanced, [text])
    }

    /// A reply of one or more lines; each line gets the same code and enhanced code (§3.1).
    pub fn multiline<I, T>(
        code: u16,
        enhanced: Option<&str>,
        lines: I,
    ) -> Result<Self, ProtocolError>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        let enhanced = enhanced
            .map(|e| EnhancedCode::parse(e.as_bytes()))
            .transpose()?;
        let lines: Vec<Vec<u8>> = lines.into_iter().map(|l| l.as_ref().to_vec()).collect();
        Self::from_parts(code, enhanced, lines)
    }

    /// Builds and validates a reply from typed parts (§3.1).
    pub fn from_parts(
        code: u16,
        enhanced: Option<EnhancedCode>,
        mut lines: Vec<Vec<u8>>,
    ) -> Result<Self, ProtocolError> {
        if !(400..=599).contains(&code) {
            return Err(ProtocolError::InvalidReply("reply code must be 4xx or 5xx"));
        }
        let first = (code / 100) as u8;
        if let Some(e) = enhanced
            && e.class != first
        {
            return Err(ProtocolError::InvalidReply(
                "enhanced status class differs from the reply code's first digit",
            ));
        }
        if lines.is_empty() {
            lines.push(Vec::new());
        }
        if lines.len() > MAX_REPLY_LINES {
            return Err(ProtocolError::InvalidReply("more than 32 lines"));
        }
        let reply = Self {
            code,
            enhanced,
            lines,
        };
        for (i, line) in reply.lines.iter().enumerate() {
            if line.iter().any(|&b| matches!(b, 0 | b'\r' | b'\n')) {
                return Err(ProtocolError::InvalidReply("NUL, CR or LF inside a line"));
            }
            if reply.wire_line(i, line).len() > MAX_REPLY_LINE {
                return Err(ProtocolError::InvalidReply(
                    "a line is longer than 980 bytes",
                ));
            }
        }
        Ok(reply)
    }

    /// Parses the wire form (client side): `ddd-x.y.z a\r\nddd x.y.z b`, `%%` → `%` (§3.1).
    pub fn parse(wire: &[u8]) -> Result<Self, ProtocolError> {
        let raw_lines: Vec<&[u8]> = split_crlf(wire);
        let count = raw_lines.len();
        let mut code = None;
        let mut enhanced: Option<Option<EnhancedCode>> = None;
        let mut lines = Vec::with_capacity(count);
        for (i, raw) in raw_lines.into_iter().enumerate() {
            let (Some(digits3), rest) = (raw.get(..3), raw.get(3..).unwrap_or_default()) else {
                return Err(ProtocolError::InvalidReply(
                    "line shorter than a 3-digit code",
                ));
            };
            let c = digits(digits3)
                .filter(|_| digits3.iter().all(u8::is_ascii_digit))
                .ok_or(ProtocolError::InvalidReply("reply code is not 3 digits"))?;
            if *code.get_or_insert(c) != c {
                return Err(ProtocolError::InvalidReply(
                    "lines carry different reply codes",
                ));
            }
            let last = i + 1 == count;
            let text = match rest.split_first() {
                None => rest,
                Some((b'-', t)) if !last => t,
                Some((b' ', t)) if last => t,
                _ => {
                    return Err(ProtocolError::InvalidReply(
                        "continuation lines need '-' and the last line ' ' after the code",
                    ));
                }
            };
            let (enh, text) = split_enhanced(text, (c / 100) as u8);
            match enhanced {
                None => enhanced = Some(enh),
                Some(prev) if prev == enh => {}
                Some(_) => {
                    return Err(ProtocolError::InvalidReply(
                        "lines carry different enhanced status codes",
                    ));
                }
            }
            lines.push(unescape_percent(text));
        }
        let code = code.ok_or(ProtocolError::InvalidReply("empty reply"))?;
        Self::from_parts(code, enhanced.flatten(), lines)
    }

    /// The 3-digit reply code.
    pub fn code(&self) -> u16 {
        self.code
    }

    /// The enhanced status code, if any.
    pub fn enhanced(&self) -> Option<EnhancedCode> {
        self.enhanced
    }

    /// The text lines, unescaped.
    pub fn lines(&self) -> &[Vec<u8>] {
        &self.lines
    }

    /// True for a 4xx reply (the MTA tempfails), false for 5xx (it rejects).
    pub fn is_temporary(&self) -> bool {
        self.code < 500
    }

    /// The wire string without the NUL: lines joined by CRLF, `%` written as `%%` (§3.1).
    pub fn to_wire(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, line) in self.lines.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(&self.wire_line(i, line));
        }
        out
    }

    fn wire_line(&self, i: usize, text: &[u8]) -> Vec<u8> {
        let last = i + 1 == self.lines.len();
        let mut out = format!("{}{}", self.code, if last { ' ' } else { '-' }).into_bytes();
        if let Some(e) = self.enhanced {
            out.extend_from_slice(e.to_string().as_bytes());
            if !text.is_empty() {
                out.push(b' ');
            }
        }
        for &b in text {
            if b == b'%' {
                out.push(b'%');
            }
            out.push(b);
        }
        out
    }
}

impl fmt::Display for SmtpReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.to_wire()))
    }
}

fn digits(s: &[u8]) -> Option<u16> {
    if s.is_empty() || s.len() > 3 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        s.iter()
            .fold(0u16, |acc, &d| acc * 10 + u16::from(d - b'0')),
    )
}

fn split_crlf(s: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(pos) = rest.windows(2).position(|w| w == b"\r\n") {
        out.push(rest.get(..pos).unwrap_or_default());
        rest = rest.get(pos + 2..).unwrap_or_default();
    }
    out.push(rest);
    out
}

/// Splits a leading enhanced code of the given class off the text, with its following space.
fn split_enhanced(text: &[u8], class: u8) -> (Option<EnhancedCode>, &[u8]) {
    let end = text.iter().position(|&b| b == b' ').unwrap_or(text.len());
    let (token, rest) = text.split_at(end);
    match EnhancedCode::parse(token) {
        Ok(e) if e.class == class => (Some(e), rest.strip_prefix(b" ").unwrap_or(rest)),
        _ => (None, text),
    }
}

fn unescape_percent(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut it = s.iter().peekable();
    while let Some(&b) = it.next() {
        out.push(b);
        if b == b'%' && it.peek() == Some(&&b'%') {
            it.next();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_with_percent() {
        let r = SmtpReply::new(550, Some("5.7.23"), "see https://x/?a=%41").unwrap();
        assert_eq!(r.to_wire(), b"550 5.7.23 see https://x/?a=%%41");
        assert_eq!(SmtpReply::parse(&r.to_wire()).unwrap(), r);
    }

    #[test]
    fn multi_line_uses_dash_continuation() {
        let r = SmtpReply::multiline(451, Some("4.7.1"), ["try", "later"]).unwrap();
        assert_eq!(r.to_wire(), b"451-4.7.1 try\r\n451 4.7.1 later");
        assert_eq!(SmtpReply::parse(&r.to_wire()).unwrap(), r);
        assert!(r.is_temporary());
    }

    #[test]
    fn class_mismatch_and_bad_codes_are_refused() {
        assert!(SmtpReply::new(550, Some("4.7.1"), "x").is_err());
        assert!(SmtpReply::new(250, None, "ok").is_err());
        assert!(SmtpReply::new(354, None, "go").is_err());
        assert!(SmtpReply::new(600, None, "x").is_err());
        assert!(SmtpReply::new(550, Some("5.7"), "x").is_err());
        assert!(SmtpReply::new(550, Some("5.1000.1"), "x").is_err());
        assert!(
            SmtpReply::parse(b"550 4.7.1 x")
                .unwrap()
                .enhanced()
                .is_none()
        );
    }

    #[test]
    fn control_bytes_and_limits() {
        assert!(SmtpReply::new(550, None, "a\r\nb").is_err());
        assert!(SmtpReply::new(550, None, "a\0b").is_err());
        assert!(SmtpReply::new(550, None, vec![b'x'; 976]).is_ok());
        assert!(SmtpReply::new(550, None, vec![b'x'; 977]).is_err());
        // '%' doubles and counts twice
        assert!(SmtpReply::new(550, None, vec![b'%'; 489]).is_err());
        assert!(SmtpReply::multiline(550, None, vec!["l"; 32]).is_ok());
        assert!(SmtpReply::multiline(550, None, vec!["l"; 33]).is_err());
    }

    #[test]
    fn empty_text_has_no_trailing_space() {
        let r = SmtpReply::new(421, Some("4.7.0"), "").unwrap();
        assert_eq!(r.to_wire(), b"421 4.7.0");
        assert_eq!(SmtpReply::parse(b"421 4.7.0").unwrap(), r);
        assert_eq!(SmtpReply::parse(b"421").unwrap().code(), 421);
    }

    #[test]
    fn parse_rejects_garbage() {
        for bad in [
            &b""[..],
            b"55",
            b"abc x",
            b"550-x",
            b"550 a\r\n551 b",
            b"550 x\r\n550 y",
        ] {
            assert!(
                SmtpReply::parse(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
