//! A small, bounded MIME reader (RFC 5322 §2.2, RFC 2045–2046) for finding report attachments
//! in received messages. It unfolds header fields, reads `Content-Type` /
//! `Content-Disposition` parameters (with RFC 2231 `name*=` values), splits multiparts on
//! their boundary and decodes base64 and quoted-printable bodies. It never copies more than
//! one decoded body at a time, and the caller bounds depth and part count. Only the header
//! fields ([`READ_FIELDS`]) and parameters ([`READ_PARAMETERS`]) it reads are kept, the first
//! of each: a sender's megabytes of other fields or parameters cost no memory (RFC 9990 §8.1).
//!
//! Written here rather than taken from a crate: the needed subset is small, it keeps every
//! limit in our hands, and mail-parser (the well-kept candidate) needs a newer Rust than ours.

use std::borrow::Cow;

use base64::Engine;

use crate::error::ReportsError;

/// The header fields an [`Entity`] keeps (RFC 2045 §5, §6; RFC 2183 §2); the others are
/// skipped unread.
const READ_FIELDS: [&str; 3] = [
    "content-type",
    "content-disposition",
    "content-transfer-encoding",
];

/// The parameters [`param_value`] is asked for: `boundary` (RFC 2046 §5.1.1), `charset`
/// (RFC 2046 §4.1.2, RFC 7303 §3.2), `report-type` (RFC 6522 §3), `filename` (RFC 2183 §2.3)
/// and `name` (RFC 2045 §7 of RFC 1341), also in their RFC 2231 forms; the others are
/// skipped unread.
const READ_PARAMETERS: [&str; 5] = ["boundary", "charset", "report-type", "filename", "name"];

/// The RFC 2231 §3 continuation sections of one parameter read (`name*0` to `name*15`).
const MAX_SECTIONS: usize = 16;

/// One MIME entity: its header fields of [`READ_FIELDS`] (names lowercase, values unfolded,
/// the first of each name) and its raw body.
#[derive(Debug)]
pub(crate) struct Entity<'a> {
    pub headers: Vec<(String, String)>,
    pub body: &'a [u8],
}

impl<'a> Entity<'a> {
    /// Splits header block and body at the first empty line (CRLF or LF).
    pub fn parse(data: &'a [u8]) -> Entity<'a> {
        let (head, body) = split_head(data);
        Entity {
            headers: parse_headers(head),
            body,
        }
    }

    /// The first field named `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// `type/subtype` lowercase and the parameters; `text/plain` by default (RFC 2045 §5.2).
    pub fn content_type(&self) -> (String, Vec<(String, String)>) {
        match self.header("content-type") {
            Some(v) => {
                let (value, params) = parse_parameters(v);
                let value = token_value(&value);
                if value.contains('/') {
                    (value, params)
                } else {
                    ("text/plain".to_string(), params)
                }
            }
            None => ("text/plain".to_string(), Vec::new()),
        }
    }

    /// Whether `Content-Disposition` says `attachment` (RFC 2183 §2.2; type compared as
    /// [`token_value`]), as opposed to inline or absent.
    pub fn is_attachment(&self) -> bool {
        self.header("content-disposition")
            .map(parse_parameters)
            .is_some_and(|(value, _)| token_value(&value) == "attachment")
    }

    /// The file name: `Content-Disposition` `filename`, else `Content-Type` `name`; RFC 2047
    /// encoded-words in it decoded (not allowed in a parameter by RFC 2047 §5, but what
    /// Outlook and others write for long names, and what every MUA reads).
    pub fn filename(&self) -> Option<String> {
        let from = |field: &str, param: &str| {
            self.header(field)
                .map(parse_parameters)
                .and_then(|(_, p)| param_value(&p, param))
        };
        from("content-disposition", "filename")
            .or_else(|| from("content-type", "name"))
            .map(|name| decode_encoded_words(&name))
    }

    /// The body with its Content-Transfer-Encoding undone (RFC 2045 §6): a copy for base64
    /// and quoted-printable, the body itself for the identity encodings (7bit, 8bit, binary).
    pub fn decoded_body(&self) -> Result<Cow<'a, [u8]>, ReportsError> {
        let cte = self
            .header("content-transfer-encoding")
            .map(|v| v.trim().to_ascii_lowercase())
            .unwrap_or_default();
        match cte.as_str() {
            "base64" => decode_base64(self.body).map(Cow::Owned),
            "quoted-printable" => Ok(Cow::Owned(decode_quoted_printable(self.body))),
            _ => Ok(Cow::Borrowed(self.body)),
        }
    }
}

/// Header block and body.
fn split_head(data: &[u8]) -> (&[u8], &[u8]) {
    let mut start = 0;
    while start < data.len() {
        let end = data
            .get(start..)
            .and_then(|rest| rest.iter().position(|&b| b == b'\n'))
            .map_or(data.len(), |i| start + i + 1);
        let line = data.get(start..end).unwrap_or_default();
        if line == b"\n" || line == b"\r\n" {
            return (
                data.get(..start).unwrap_or_default(),
                data.get(end..).unwrap_or_default(),
            );
        }
        start = end;
    }
    (data, &[])
}

/// The unfolded header fields of [`READ_FIELDS`], the first of each name (RFC 5322 §2.2.3,
/// white space before a colon dropped per §4.5.2); other fields, with their continuation
/// lines, and lines that are not fields are skipped.
fn parse_headers(head: &[u8]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    // whether the continuation lines that follow belong to a field kept
    let mut keeping = false;
    for raw in head.split(|&b| b == b'\n') {
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if line.is_empty() {
            continue;
        }
        if matches!(line.first(), Some(b' ' | b'\t')) {
            if let Some((_, value)) = out.last_mut().filter(|_| keeping) {
                value.push(' ');
                value.push_str(String::from_utf8_lossy(line).trim());
            }
            continue;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = field_name(line.get(..colon).unwrap_or_default());
        if name.is_empty() || !name.iter().all(|b| b.is_ascii_graphic()) {
            continue;
        }
        let read = READ_FIELDS
            .iter()
            .find(|f| f.as_bytes().eq_ignore_ascii_case(name));
        keeping = match read {
            Some(f) if !out.iter().any(|(n, _)| n == f) => {
                let value = line.get(colon + 1..).unwrap_or_default();
                out.push((
                    (*f).to_string(),
                    String::from_utf8_lossy(value).trim().to_string(),
                ));
                true
            }
            _ => false,
        };
    }
    out
}

/// A field name as written before its colon, without the white space RFC 5322 §4.5.2
/// (obs-optional) allows there (`Content-Type :`), as the MTA passes it to the milter.
pub(crate) fn field_name(before_colon: &[u8]) -> &[u8] {
    before_colon.trim_ascii_end()
}

/// `value; a=b; c="d"` → (`value` lowercase, [(a, b), (c, d)]) with parameter names
/// lowercase: those of [`READ_PARAMETERS`], the first of each name.
fn parse_parameters(field: &str) -> (String, Vec<(String, String)>) {
    let mut parts = split_unquoted(field, ';');
    let value = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
    let mut params: Vec<(String, String)> = Vec::new();
    for p in parts {
        let Some((name, v)) = p.split_once('=') else {
            continue;
        };
        let name = name.trim();
        if !is_read_parameter(name) {
            continue;
        }
        let name = name.to_ascii_lowercase();
        if params.iter().any(|(n, _)| *n == name) {
            continue;
        }
        let v = v.trim();
        let v = match v.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
            Some(inner) => unquote(inner),
            None => v.to_string(),
        };
        params.push((name, v));
    }
    (value, params)
}

/// A field's value before its parameters as RFC 2045 §5.1 tokens: comments (nested, with
/// quoted-pairs) and white space, which may stand around the tokens and the `/` and which
/// unfolding leaves in place, dropped; lowercase (`Multipart/ (x) report` → `multipart/report`).
fn token_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut depth = 0usize;
    let mut escaped = false;
    for c in value.chars() {
        if depth > 0 {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '(' => depth += 1,
                ')' => depth -= 1,
                _ => {}
            }
            continue;
        }
        match c {
            '(' => depth = 1,
            c if c.is_whitespace() => {}
            c => out.push(c.to_ascii_lowercase()),
        }
    }
    out
}

/// Whether [`param_value`] may ask for the parameter `name` (any case): one of
/// [`READ_PARAMETERS`], as `name`, `name*` or section `name*N` / `name*N*` with N under
/// [`MAX_SECTIONS`] written without leading zeros (RFC 2231 §3). At most 5 × 34 names pass,
/// so the list [`parse_parameters`] keeps is short whatever the field holds.
fn is_read_parameter(name: &str) -> bool {
    let (base, section) = name.split_once('*').unwrap_or((name, ""));
    if !READ_PARAMETERS.iter().any(|p| p.eq_ignore_ascii_case(base)) {
        return false;
    }
    let digits = section.strip_suffix('*').unwrap_or(section);
    section.is_empty()
        || (digits == "0" || !digits.starts_with('0'))
            && digits.parse::<usize>().is_ok_and(|n| n < MAX_SECTIONS)
            && digits.bytes().all(|b| b.is_ascii_digit())
}

/// A parameter, also in its RFC 2231 forms `name*=charset''pct-encoded` and `name*0=`.
pub(crate) fn param_value(params: &[(String, String)], name: &str) -> Option<String> {
    if let Some((_, v)) = params.iter().find(|(n, _)| n == name) {
        return Some(v.clone());
    }
    let extended = format!("{name}*");
    if let Some((_, v)) = params.iter().find(|(n, _)| *n == extended) {
        let encoded = v.splitn(3, '\'').nth(2).unwrap_or(v);
        return Some(percent_decode(encoded));
    }
    let mut joined = String::new();
    for i in 0..16 {
        let plain = format!("{name}*{i}");
        let star = format!("{name}*{i}*");
        match params.iter().find(|(n, _)| *n == plain || *n == star) {
            Some((n, v)) if n.ends_with('*') => {
                let encoded = if i == 0 {
                    v.splitn(3, '\'').nth(2).unwrap_or(v)
                } else {
                    v
                };
                joined.push_str(&percent_decode(encoded));
            }
            Some((_, v)) => joined.push_str(v),
            None => break,
        }
    }
    (!joined.is_empty()).then_some(joined)
}

/// `text` with its RFC 2047 encoded-words decoded as mail readers decode them
/// ([`message::encoded_words::decode`]: any charset, white space in a word, bad Base64),
/// as UTF-8 (a broken sequence becomes U+FFFD); `text` itself when it has none.
fn decode_encoded_words(text: &str) -> String {
    match message::encoded_words::decode(text.as_bytes()) {
        Some(decoded) => String::from_utf8_lossy(&decoded).into_owned(),
        None => text.to_string(),
    }
}

/// The pieces of `s` between the `sep`s outside quoted strings, one at a time (a field of
/// millions of pieces is never held as a list of them).
fn split_unquoted(s: &str, sep: char) -> impl Iterator<Item = &str> {
    let mut rest = Some(s);
    std::iter::from_fn(move || {
        let s = rest?;
        let (mut quoted, mut escaped) = (false, false);
        for (i, c) in s.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' if quoted => escaped = true,
                '"' => quoted = !quoted,
                c if c == sep && !quoted => {
                    rest = s.get(i + c.len_utf8()..);
                    return s.get(..i);
                }
                _ => {}
            }
        }
        rest = None;
        Some(s)
    })
}

fn unquote(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut escaped = false;
    for c in s.chars() {
        if escaped || c != '\\' {
            out.push(c);
            escaped = false;
        } else {
            escaped = true;
        }
    }
    out
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let pair = (
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        );
        match (b, pair) {
            (b'%', (Some(h), Some(l))) => {
                out.push(h << 4 | l);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Base64 as RFC 2045 §6.8 reads it: characters outside the alphabet (line breaks, a stray
/// `*`, a junk line) are ignored, the first `=` ends the data, padding is optional.
fn decode_base64(body: &[u8]) -> Result<Vec<u8>, ReportsError> {
    let clean: Vec<u8> = body
        .iter()
        .copied()
        .take_while(|&b| b != b'=')
        .filter(|&b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
        .collect();
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    engine
        .decode(&clean)
        .map_err(|e| ReportsError::Mime(format!("bad base64: {e}")))
}

/// Quoted-printable (RFC 2045 §6.7); malformed escapes are kept as they are. `=` and then
/// only transport padding (spaces, tabs) to the line end is a soft line break (rule 3).
fn decode_quoted_printable(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while let Some(&b) = body.get(i) {
        if b != b'=' {
            out.push(b);
            i += 1;
            continue;
        }
        let padding = body
            .get(i + 1..)
            .unwrap_or_default()
            .iter()
            .take_while(|&&c| c == b' ' || c == b'\t')
            .count();
        if padding > 0 {
            match body.get(i + 1 + padding..) {
                Some([b'\r', b'\n', ..]) => {
                    i += padding + 3;
                    continue;
                }
                Some([b'\n', ..]) => {
                    i += padding + 2;
                    continue;
                }
                _ => {}
            }
        }
        match (body.get(i + 1).copied(), body.get(i + 2).copied()) {
            (Some(b'\r'), Some(b'\n')) => i += 3,
            (Some(b'\n'), _) => i += 2,
            (Some(h), Some(l)) => match (hex(h), hex(l)) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 3;
                }
                _ => {
                    out.push(b);
                    i += 1;
                }
            },
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// The body parts of a multipart body (RFC 2046 §5.1.1): the content between delimiter lines
/// `--boundary`, up to the close delimiter `--boundary--`. Preamble and epilogue are dropped.
/// At most `max` parts are returned.
pub(crate) fn split_multipart<'a>(body: &'a [u8], boundary: &str, max: usize) -> Vec<&'a [u8]> {
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let mut parts = Vec::new();
    let mut current: Option<usize> = None; // start of the current part's content
    let mut pos = 0;
    while pos < body.len() {
        let end = body
            .get(pos..)
            .and_then(|rest| rest.iter().position(|&b| b == b'\n'))
            .map_or(body.len(), |i| pos + i + 1);
        let line = body.get(pos..end).unwrap_or_default();
        let trimmed = trim_end(line);
        if let Some(rest) = trimmed.strip_prefix(delimiter) {
            let close = rest == b"--";
            if rest.is_empty() || close {
                if let Some(start) = current.take() {
                    // the CRLF before the delimiter belongs to the delimiter
                    let mut stop = pos;
                    if stop > start && body.get(stop - 1) == Some(&b'\n') {
                        stop -= 1;
                        if stop > start && body.get(stop - 1) == Some(&b'\r') {
                            stop -= 1;
                        }
                    }
                    parts.push(body.get(start..stop).unwrap_or_default());
                }
                if close || parts.len() >= max {
                    return parts;
                }
                current = Some(end);
            }
        }
        pos = end;
    }
    // no close delimiter: keep what was there
    if let Some(start) = current {
        parts.push(body.get(start..).unwrap_or_default());
    }
    parts
}

fn trim_end(line: &[u8]) -> &[u8] {
    let end = line
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    line.get(..end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_and_parameters() {
        let msg = b"Content-Type: multipart/mixed;\r\n\tboundary=\"b 1\"\r\nX: y\r\n\r\nbody";
        let e = Entity::parse(msg);
        let (ct, params) = e.content_type();
        assert_eq!(ct, "multipart/mixed");
        assert_eq!(param_value(&params, "boundary").as_deref(), Some("b 1"));
        assert_eq!(e.body, b"body");
        let e =
            Entity::parse(b"Content-Disposition: attachment; filename*=utf-8''a%21b.xml.gz\n\nx");
        assert_eq!(e.filename().as_deref(), Some("a!b.xml.gz"));
    }

    /// RFC 9990 §8.1: the header fields the reader never looks at are not kept, nor a second
    /// copy of one it does (a 32 MB block of `X-A: b` lines was held as ~470 MB of name/value
    /// pairs by `report import`, ~150 MB for a 10 MB mail to the report inbox).
    #[test]
    fn only_the_header_fields_read_are_kept() {
        let mut msg = b"Content-Type: text/xml;\r\n charset=utf-8\r\n".to_vec();
        for _ in 0..100_000 {
            msg.extend_from_slice(
                b"X-A: b\r\n Content-Type: text/plain\r\nContent-Type: text/plain\r\n",
            );
        }
        msg.extend_from_slice(b"Content-Transfer-Encoding: base64\r\n\r\nPGE+");
        let e = Entity::parse(&msg);
        assert_eq!(e.headers.len(), 2);
        let (ctype, params) = e.content_type();
        assert_eq!(ctype, "text/xml");
        assert_eq!(param_value(&params, "charset").as_deref(), Some("utf-8"));
        assert_eq!(e.decoded_body().unwrap().as_ref(), b"<a>");
    }

    /// RFC 9990 §8.1: the parameters no reader asks for are not kept, nor a second copy of one
    /// (a 32 MB `Content-Type` of `; a=b` held ~1.4 GB as name/value pairs).
    #[test]
    fn only_the_parameters_read_are_kept() {
        let field = format!(
            "Multipart/Mixed{}; boundary=\"b;1\"; name*0=a; name*1*=%41; name*16=z; name*01=z{}",
            "; a=b; ;;".repeat(100_000),
            "; boundary=x; name*0=y".repeat(100_000),
        );
        let (value, params) = parse_parameters(&field);
        assert_eq!(value, "multipart/mixed");
        assert_eq!(params.len(), 3, "{:?}", params.get(..10));
        assert_eq!(param_value(&params, "boundary").as_deref(), Some("b;1"));
        assert_eq!(param_value(&params, "name").as_deref(), Some("aA"));
    }

    #[test]
    fn multipart_split() {
        let body = b"preamble\r\n--xx\r\nA: 1\r\n\r\none\r\n--xx \r\n\r\ntwo\r\n--xx--\r\nepilogue";
        let parts = split_multipart(body, "xx", 10);
        assert_eq!(parts, vec![&b"A: 1\r\n\r\none"[..], &b"\r\ntwo"[..]]);
        assert_eq!(split_multipart(body, "xx", 1).len(), 1);
    }

    #[test]
    fn encoded_words() {
        assert_eq!(decode_encoded_words("=?UTF-8?B?YS54bWwuZ3o=?="), "a.xml.gz");
        assert_eq!(
            decode_encoded_words("=?utf-8*en?Q?a_b=21?= =?x?q?c?=.gz"),
            "a b!c.gz"
        );
        assert_eq!(decode_encoded_words("=?ISO-8859-1?Q?=E9?="), "é");
        // not encoded-words: kept
        for s in ["a=?b", "=?utf-8?X?a?=", "=??Q?a?="] {
            assert_eq!(decode_encoded_words(s), s);
        }
        // read as mail readers read them: white space inside a word, Base64 skipping what is
        // not of its alphabet
        assert_eq!(decode_encoded_words("x =?a?q?b c?="), "x b c");
        assert_eq!(decode_encoded_words("=?utf-8?B?!YS54bWw=!?="), "a.xml");
        assert_eq!(decode_encoded_words("x =?a?q?b?= y"), "x b y");
    }

    #[test]
    fn transfer_encodings() {
        assert_eq!(decode_quoted_printable(b"a=3Db=\r\nc=ZZ"), b"a=bc=ZZ");
        assert_eq!(decode_quoted_printable(b"a= \t\r\nb= \nc= d="), b"abc= d=");
        assert_eq!(decode_base64(b"aGVs\r\nbG8").unwrap(), b"hello");
        // one character too many for whole bytes: no base64 at all
        assert!(decode_base64(b"aGVsb").is_err());
    }
}
