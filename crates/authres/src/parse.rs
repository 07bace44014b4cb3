//! The parser (RFC 8601 §2.2), tolerant of CFWS and comments everywhere, and the cheap
//! authserv-id extraction.

use crate::format::is_tspecial;
use crate::{AuthResError, AuthenticationResults, MethodResult, Property};

/// Parses an Authentication-Results value by the RFC 8601 §2.2 grammar. Accepted on top of
/// the ABNF, because real producers emit them: a trailing `;`, `.` and `_` in method and
/// result keywords (`gateway.spf`, `dkim_pass`), and any printable non-special characters in
/// an unquoted pvalue (`header.b=Iww3/TIUS`, `smtp.mailfrom=a=b@example.com`).
pub fn parse(value: &[u8]) -> Result<AuthenticationResults, AuthResError> {
    Parser::new(value, false).payload()
}

/// Parses like [`parse`], and also accepts the common non-RFC forms: no authserv-id
/// (Microsoft 365: the value starts with `spf=...`; `authserv_id` is then empty), a bare
/// authserv-id without `; none`, bare domain items between method results, vendor
/// `name=value` items without a ptype (kept as properties with an empty `ptype`), and an
/// empty pvalue before `;`. For display and statistics, not for trust decisions.
pub fn parse_lenient(value: &[u8]) -> Result<AuthenticationResults, AuthResError> {
    Parser::new(value, true).payload()
}

/// Parses an ARC-Authentication-Results value: `i=<instance>;` then an A-R payload
/// (RFC 8617 §4.1.1).
pub fn parse_arc(value: &[u8]) -> Result<(u32, AuthenticationResults), AuthResError> {
    let mut p = Parser::new(value, false);
    p.cfws()?;
    let start = p.pos;
    let name = p.keyword(false);
    if !name.eq_ignore_ascii_case("i") {
        return Err(p.expected_at("i=", start));
    }
    p.cfws()?;
    p.expect(b'=', "=")?;
    p.cfws()?;
    let instance = p.number().ok_or_else(|| p.expected("instance number"))?;
    p.cfws()?;
    p.expect(b';', ";")?;
    let ar = p.payload()?;
    Ok((instance, ar))
}

/// The authserv-id of a field value, without parsing the rest (RFC 8601 §2.5): the first
/// value after optional CFWS, unquoted. `None` when there is none (e.g. the value starts with
/// `method=`) or the value is malformed before it. What follows the id is not checked, except
/// that `id=` means the field has no authserv-id.
pub fn authserv_id(value: &[u8]) -> Option<String> {
    let mut p = Parser::new(value, false);
    p.cfws().ok()?;
    let id = p.value().ok()??;
    // a broken comment after the id still names it (CVE-2020-12272: `example.net(.example.com`)
    if p.cfws().is_ok() && matches!(p.peek(), Some(b'=' | b'/' | b'.')) {
        return None;
    }
    Some(id)
}

pub(crate) struct Parser<'a> {
    s: &'a [u8],
    pub(crate) pos: usize,
    lenient: bool,
    /// Comments read by the last `cfws` call.
    comments: Vec<String>,
}

impl<'a> Parser<'a> {
    pub(crate) fn new(s: &'a [u8], lenient: bool) -> Self {
        Parser {
            s,
            pos: 0,
            lenient,
            comments: Vec::new(),
        }
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    fn expected(&self, what: &'static str) -> AuthResError {
        self.expected_at(what, self.pos)
    }

    fn expected_at(&self, what: &'static str, offset: usize) -> AuthResError {
        AuthResError::Expected { what, offset }
    }

    fn expect(&mut self, b: u8, what: &'static str) -> Result<(), AuthResError> {
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.expected(what))
        }
    }

    /// Skips folding white space and comments (RFC 5322 §3.2.2 CFWS), keeping the comments.
    pub(crate) fn cfws(&mut self) -> Result<(), AuthResError> {
        self.comments.clear();
        while let Some(b) = self.peek() {
            match b {
                b' ' | b'\t' | b'\r' | b'\n' => self.pos += 1,
                b'(' => {
                    let c = self.comment()?;
                    self.comments.push(c);
                }
                _ => break,
            }
        }
        Ok(())
    }

    /// A (nested) comment; returns its text with quoted-pairs resolved and folding removed.
    fn comment(&mut self) -> Result<String, AuthResError> {
        let start = self.pos;
        let mut depth = 0usize;
        let mut text = Vec::new();
        while let Some(b) = self.peek() {
            self.pos += 1;
            match b {
                b'(' => {
                    if depth > 0 {
                        text.push(b);
                    }
                    depth += 1;
                }
                b')' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return Ok(String::from_utf8_lossy(&text).into_owned());
                    }
                    text.push(b);
                }
                b'\\' => {
                    if let Some(n) = self.peek() {
                        text.push(n);
                        self.pos += 1;
                    }
                }
                b'\r' | b'\n' => {}
                _ => text.push(b),
            }
        }
        Err(AuthResError::UnterminatedComment { offset: start })
    }

    /// A quoted string starting at `"` (RFC 5322 §3.2.4, UTF-8 per RFC 6532).
    fn quoted(&mut self) -> Result<String, AuthResError> {
        let start = self.pos;
        self.pos += 1;
        let mut text = Vec::new();
        while let Some(b) = self.peek() {
            self.pos += 1;
            match b {
                b'"' => return Ok(String::from_utf8_lossy(&text).into_owned()),
                b'\\' => {
                    if let Some(n) = self.peek() {
                        text.push(n);
                        self.pos += 1;
                    }
                }
                b'\r' | b'\n' => {}
                _ => text.push(b),
            }
        }
        Err(AuthResError::UnterminatedQuote { offset: start })
    }

    /// An RFC 2045 token (8-bit bytes allowed for EAI, RFC 6532).
    fn token(&mut self) -> Option<String> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|b| b >= 0x80 || ((0x21..0x7f).contains(&b) && !is_tspecial(b)))
        {
            self.pos += 1;
        }
        (self.pos > start).then(|| {
            String::from_utf8_lossy(self.s.get(start..self.pos).unwrap_or_default()).into_owned()
        })
    }

    /// `value` = token / quoted-string (RFC 2045 §5.1). `Ok(None)` when neither starts here.
    pub(crate) fn value(&mut self) -> Result<Option<String>, AuthResError> {
        if self.peek() == Some(b'"') {
            return self.quoted().map(Some);
        }
        Ok(self.token())
    }

    /// A keyword: a letter or digit, then letters, digits, `-`, `_` (and `.` if `dots`).
    /// Lowercased. Empty when none starts here.
    fn keyword(&mut self, dots: bool) -> String {
        let start = self.pos;
        if self.peek().is_some_and(|b| b.is_ascii_alphanumeric()) {
            self.pos += 1;
            while self.peek().is_some_and(|b| {
                b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || (dots && b == b'.')
            }) {
                self.pos += 1;
            }
        }
        String::from_utf8_lossy(self.s.get(start..self.pos).unwrap_or_default())
            .to_ascii_lowercase()
    }

    /// 1*DIGIT as u32.
    fn number(&mut self) -> Option<u32> {
        let start = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        std::str::from_utf8(self.s.get(start..self.pos)?)
            .ok()?
            .parse()
            .ok()
    }

    /// `authres-payload` (RFC 8601 §2.2).
    fn payload(&mut self) -> Result<AuthenticationResults, AuthResError> {
        let mut ar = AuthenticationResults::default();
        self.cfws()?;
        let start = self.pos;
        match self.value()? {
            Some(id) => {
                let after = self.pos;
                self.cfws()?;
                if self.lenient && matches!(self.peek(), Some(b'=' | b'/' | b'.')) {
                    // no authserv-id: the value starts with a resinfo
                    self.pos = start;
                    let first = self.resinfo()?;
                    ar.results.push(first);
                } else {
                    ar.authserv_id = id;
                    if self.peek().is_some_and(|b| b.is_ascii_digit()) && after < self.pos {
                        // too large to hold is an unknown version, never the absent one
                        ar.version = Some(self.number().ok_or_else(|| self.expected("version"))?);
                        self.cfws()?;
                    }
                    if self.lenient {
                        self.skip_vendor_items()?;
                    }
                }
            }
            None => return Err(AuthResError::MissingAuthservId { offset: self.pos }),
        }
        let mut saw_none = false;
        loop {
            self.cfws()?;
            if self.at_end() {
                break;
            }
            self.expect(b';', ";")?;
            self.cfws()?;
            if self.at_end() {
                if ar.results.is_empty() && !saw_none && !self.lenient {
                    return Err(self.expected("method or none"));
                }
                break;
            }
            if saw_none {
                return Err(self.expected("end after none"));
            }
            let here = self.pos;
            let word = self.keyword(true);
            let after_word = self.pos;
            self.cfws()?;
            if word == "none" && matches!(self.peek(), None | Some(b';')) {
                if !ar.results.is_empty() {
                    return Err(self.expected_at("method", here));
                }
                saw_none = true;
                // `none (not checked: timeout)`: the comment says why there is no result
                ar.none_comment = self.comments.first().cloned();
                continue;
            }
            if self.lenient && word.contains('.') && matches!(self.peek(), Some(b';')) {
                // a bare domain between results (Microsoft 365): must be a clean domain and
                // be followed by another result
                if word.split('.').any(str::is_empty) || after_word == here {
                    return Err(self.expected_at("method", here));
                }
                let save = self.pos;
                self.pos += 1;
                self.cfws()?;
                if self.at_end() {
                    return Err(self.expected("method"));
                }
                self.pos = save;
                continue;
            }
            self.pos = here;
            let r = self.resinfo()?;
            ar.results.push(r);
        }
        if ar.results.is_empty() && !saw_none && !self.lenient {
            return Err(self.expected("; none or a method result"));
        }
        Ok(ar)
    }

    /// Lenient: `name=value` items between the authserv-id and the first `;` (old Yahoo).
    fn skip_vendor_items(&mut self) -> Result<(), AuthResError> {
        while self.peek().is_some_and(|b| b.is_ascii_alphanumeric()) {
            let start = self.pos;
            self.keyword(false);
            self.cfws()?;
            if self.peek() != Some(b'=') {
                return Err(self.expected_at(";", start));
            }
            self.pos += 1;
            self.cfws()?;
            self.pvalue(true)?;
            self.cfws()?;
        }
        Ok(())
    }

    /// `resinfo` without the leading `;` (RFC 8601 §2.2).
    fn resinfo(&mut self) -> Result<MethodResult, AuthResError> {
        let mut r = MethodResult::default();
        let start = self.pos;
        r.method = self.keyword(true);
        if r.method.is_empty() {
            return Err(self.expected_at("method", start));
        }
        self.cfws()?;
        if self.peek() == Some(b'/') {
            self.pos += 1;
            self.cfws()?;
            r.method_version = Some(
                self.number()
                    .ok_or_else(|| self.expected("method version"))?,
            );
            self.cfws()?;
        }
        self.expect(b'=', "=")?;
        self.cfws()?;
        r.result = self.keyword(true);
        if r.result.is_empty() {
            return Err(self.expected("result"));
        }
        self.cfws()?;
        r.result_comment = self.comments.first().cloned();
        loop {
            if matches!(self.peek(), None | Some(b';')) {
                return Ok(r);
            }
            let start = self.pos;
            let word = self.keyword(false);
            if word.is_empty() {
                return Err(self.expected_at("reason or property", start));
            }
            self.cfws()?;
            match self.peek() {
                Some(b'=') if word == "reason" && r.reason.is_none() && r.properties.is_empty() => {
                    self.pos += 1;
                    self.cfws()?;
                    let v = self.value()?.ok_or_else(|| self.expected("reason value"))?;
                    r.reason = Some(v);
                    self.cfws()?;
                }
                Some(b'.') => {
                    self.pos += 1;
                    self.cfws()?;
                    let name = self.keyword(true);
                    if name.is_empty() {
                        return Err(self.expected("property"));
                    }
                    self.cfws()?;
                    self.expect(b'=', "=")?;
                    self.cfws()?;
                    let value = self.pvalue(self.lenient)?;
                    self.cfws()?;
                    r.properties.push(Property {
                        ptype: word.into(),
                        name: name.into(),
                        value,
                        comment: self.comments.first().cloned(),
                    });
                }
                Some(b'=') if self.lenient => {
                    self.pos += 1;
                    self.cfws()?;
                    let value = self.pvalue(true)?;
                    self.cfws()?;
                    r.properties.push(Property {
                        ptype: "".into(),
                        name: word.into(),
                        value,
                        comment: self.comments.first().cloned(),
                    });
                }
                _ => return Err(self.expected_at("ptype.property=value", start)),
            }
        }
    }

    /// `pvalue` (RFC 8601 §2.2): quoted-string (optionally `"local"@domain`) or a run of
    /// printable characters other than CFWS starters, `;` and `"`. Empty only when
    /// `allow_empty` and a `;` follows.
    fn pvalue(&mut self, allow_empty: bool) -> Result<String, AuthResError> {
        let mut out = String::new();
        if self.peek() == Some(b'"') {
            out = self.quoted()?;
            if self.peek() != Some(b'@') {
                return Ok(out);
            }
        }
        let start = self.pos;
        while self.peek().is_some_and(|b| {
            b >= 0x80
                || ((0x21..0x7f).contains(&b) && !matches!(b, b';' | b'(' | b')' | b'"' | b'\\'))
        }) {
            self.pos += 1;
        }
        out.push_str(&String::from_utf8_lossy(
            self.s.get(start..self.pos).unwrap_or_default(),
        ));
        if out.is_empty() && !(allow_empty && self.peek() == Some(b';')) {
            return Err(self.expected("property value"));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claims_authserv_id;

    #[test]
    fn parses_rfc_example() {
        let ar = parse(b" example.com;\r\n\tspf=pass smtp.mailfrom=example.net").unwrap();
        assert_eq!(ar.authserv_id, "example.com");
        assert_eq!(
            ar.results[0].property("smtp", "mailfrom"),
            Some("example.net")
        );
    }

    #[test]
    fn authserv_id_extraction() {
        assert_eq!(
            authserv_id(b" (c) \"mx.example.com\" ; none").as_deref(),
            Some("mx.example.com")
        );
        assert_eq!(
            authserv_id(b"example.net(.example.com; spf=pass").as_deref(),
            Some("example.net")
        );
        assert_eq!(authserv_id(b"spf=pass smtp.mailfrom=x"), None);
        assert_eq!(authserv_id(b"(unterminated"), None);
        assert!(claims_authserv_id(
            b"MX.EXAMPLE.COM.; none",
            "mx.example.com"
        ));
        assert!(!claims_authserv_id(
            b"mx.example.com.evil; none",
            "mx.example.com"
        ));
        // an id from the configuration with white space around it (`remove_ids = [" mx2"]`)
        // still finds the forged fields, and an empty one claims nothing
        assert!(claims_authserv_id(b"mx2.example; none", " mx2.example\t"));
        assert!(!claims_authserv_id(b"mx2.example; none", " "));
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse(b"").is_err());
        assert!(parse(b"example.com").is_err());
        assert!(parse(b"example.com; none; spf=pass").is_err());
        assert!(parse(b"example.com; spf=pass x").is_err());
        assert!(parse_lenient(b"example.com").is_ok());
        // RFC 8601 §2.6: a version too large to hold is not version 1 (nor absent)
        assert!(parse(b"example.com 4294967296; none").is_err());
        assert!(parse(b"example.com; spf/4294967296=pass").is_err());
        assert_eq!(parse(b"example.com 01; none").unwrap().version, Some(1));
    }

    /// RFC 8601 §2.2: CFWS may follow `none`; its comment is kept (it says why).
    #[test]
    fn the_comment_after_none_is_kept() {
        let ar = parse(b"mx.example; none (not checked: timeout)").unwrap();
        assert!(ar.results.is_empty());
        assert_eq!(ar.none_comment.as_deref(), Some("not checked: timeout"));
        assert_eq!(parse(b"mx.example; none").unwrap().none_comment, None);
    }
}
