//! The SPF macro language (RFC 7208 §7): parsing of macro strings and their expansion.
//!
//! A [`MacroString`] is parsed once (with the record) and expanded per evaluation with a
//! [`MacroContext`]. Expansion is synchronous: the only macro that needs DNS, `%{p}`, is resolved
//! by the evaluator beforehand and handed in as [`MacroContext::validated_name`].

use std::fmt::Write as _;
use std::net::IpAddr;

use crate::error::SpfError;

/// Longest expansion produced before giving up (a guard against records full of `%{s}`).
pub const MAX_EXPANSION: usize = 64 * 1024;

/// Where a macro string appears, which decides the characters and letters allowed (RFC 7208 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacroKind {
    /// A `domain-spec` of a mechanism, `redirect=` or `exp=`: no spaces, no `c`, `r`, `t`.
    DomainSpec,
    /// The value of an unknown modifier: any macro letter, no spaces (RFC 7208 §6, `macro-string`).
    Modifier,
    /// An explanation TXT record (`explain-string`, RFC 7208 §6.2): spaces and `c`, `r`, `t` allowed.
    Explanation,
}

/// A macro letter (RFC 7208 §7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacroLetter {
    /// `s`: the sender, `local-part@domain`.
    Sender,
    /// `l`: the sender's local-part.
    LocalPart,
    /// `o`: the sender's domain.
    SenderDomain,
    /// `d`: the current `<domain>`.
    Domain,
    /// `i`: the client IP (dotted quad, or dotted nibbles for IPv6).
    Ip,
    /// `p`: the validated domain name of the client IP.
    ValidatedName,
    /// `v`: `in-addr` or `ip6`.
    IpVersion,
    /// `h`: the HELO/EHLO domain.
    Helo,
    /// `c`: the client IP in its readable form (explanations only).
    ClientIp,
    /// `r`: the receiving host's name (explanations only).
    Receiver,
    /// `t`: the current time in seconds since the epoch (explanations only).
    Timestamp,
}

impl MacroLetter {
    fn from_byte(b: u8) -> Option<Self> {
        Some(match b.to_ascii_lowercase() {
            b's' => Self::Sender,
            b'l' => Self::LocalPart,
            b'o' => Self::SenderDomain,
            b'd' => Self::Domain,
            b'i' => Self::Ip,
            b'p' => Self::ValidatedName,
            b'v' => Self::IpVersion,
            b'h' => Self::Helo,
            b'c' => Self::ClientIp,
            b'r' => Self::Receiver,
            b't' => Self::Timestamp,
            _ => return None,
        })
    }

    fn explanation_only(self) -> bool {
        matches!(self, Self::ClientIp | Self::Receiver | Self::Timestamp)
    }
}

/// One `%{...}` expansion (RFC 7208 §7.1 `macro-expand`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MacroExpand {
    /// The letter.
    pub letter: MacroLetter,
    /// Upper-case letter: URL-escape the result (RFC 7208 §7.3).
    pub url_escape: bool,
    /// Keep this many right-hand parts (the DIGIT transformer, never zero).
    pub keep: Option<usize>,
    /// The `r` transformer: reverse the parts.
    pub reverse: bool,
    /// Delimiters to split on (empty: `.`).
    pub delimiters: Vec<u8>,
}

impl MacroExpand {
    fn transforms(&self) -> bool {
        self.keep.is_some() || self.reverse || !self.delimiters.is_empty()
    }
}

/// A piece of a macro string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// Literal text, copied as is.
    Literal(Vec<u8>),
    /// `%%`, `%_` or `%-`: expands to `%`, a space, or `%20` (RFC 7208 §7.1).
    Escape(&'static [u8]),
    /// A `%{...}` macro.
    Macro(MacroExpand),
}

/// A parsed macro string: a `domain-spec`, a modifier value or an `explain-string` (RFC 7208 §7.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MacroString {
    tokens: Vec<Token>,
    source: Vec<u8>,
}

/// The values macros expand to (RFC 7208 §7.2).
#[derive(Debug, Clone, Copy)]
pub struct MacroContext<'a> {
    /// `<sender>` local-part (already `postmaster` when the sender had none, RFC 7208 §4.3).
    pub local_part: &'a [u8],
    /// `<sender>` domain.
    pub sender_domain: &'a [u8],
    /// The current `<domain>`.
    pub domain: &'a [u8],
    /// The client IP (IPv4-mapped IPv6 already turned into IPv4 by the evaluator).
    pub ip: IpAddr,
    /// The HELO/EHLO parameter.
    pub helo: &'a [u8],
    /// The validated name for `%{p}`; `None` expands to `unknown`.
    pub validated_name: Option<&'a [u8]>,
    /// The receiving host for `%{r}`; `None` expands to `unknown`.
    pub receiver: Option<&'a [u8]>,
    /// Seconds since the epoch for `%{t}`.
    pub timestamp: u64,
}

impl MacroString {
    /// Parses `input` as a macro string of `kind` (RFC 7208 §7.1).
    pub fn parse(input: &[u8], kind: MacroKind) -> Result<Self, SpfError> {
        let mut tokens: Vec<Token> = Vec::new();
        let mut literal = Vec::new();
        let mut i = 0;
        while let Some(&b) = input.get(i) {
            match b {
                b'%' => {
                    let err = |reason| SpfError::Macro {
                        position: i,
                        reason,
                    };
                    let next = input.get(i + 1).copied();
                    let token = match next {
                        Some(b'%') => Token::Escape(b"%"),
                        Some(b'_') => Token::Escape(b" "),
                        Some(b'-') => Token::Escape(b"%20"),
                        Some(b'{') => {
                            let (expand, end) = parse_expand(input, i + 2, kind)?;
                            if !literal.is_empty() {
                                tokens.push(Token::Literal(std::mem::take(&mut literal)));
                            }
                            tokens.push(Token::Macro(expand));
                            i = end;
                            continue;
                        }
                        _ => return Err(err("'%' not followed by '{', '%', '_' or '-'")),
                    };
                    if !literal.is_empty() {
                        tokens.push(Token::Literal(std::mem::take(&mut literal)));
                    }
                    tokens.push(token);
                    i += 2;
                }
                b' ' if kind == MacroKind::Explanation => {
                    literal.push(b);
                    i += 1;
                }
                0x21..=0x7e => {
                    literal.push(b);
                    i += 1;
                }
                _ => {
                    return Err(SpfError::Macro {
                        position: i,
                        reason: "character not allowed in a macro string",
                    });
                }
            }
        }
        if !literal.is_empty() {
            tokens.push(Token::Literal(literal));
        }
        Ok(Self {
            tokens,
            source: input.to_vec(),
        })
    }

    /// The tokens, in order.
    pub fn tokens(&self) -> &[Token] {
        &self.tokens
    }

    /// The text as published.
    pub fn as_bytes(&self) -> &[u8] {
        &self.source
    }

    /// True when the string is empty.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// True when `%{p}` occurs (the evaluator must look up the validated name first, RFC 7208 §7.3).
    pub fn uses_validated_name(&self) -> bool {
        self.tokens
            .iter()
            .any(|t| matches!(t, Token::Macro(m) if m.letter == MacroLetter::ValidatedName))
    }

    /// True when `%{s}` or `%{l}` occurs: the expansion depends on the local-part
    /// (RFC 7208 §7.3, RFC 8601 §2.7.2).
    pub fn uses_local_part(&self) -> bool {
        self.tokens.iter().any(|t| {
            matches!(t, Token::Macro(m) if matches!(m.letter, MacroLetter::Sender | MacroLetter::LocalPart))
        })
    }

    /// True when the string satisfies `domain-spec = macro-string domain-end`, i.e. it ends in a
    /// macro or in `"." toplabel ["."]` (RFC 7208 §7.1).
    pub fn is_domain_spec(&self) -> bool {
        match self.tokens.last() {
            None => false,
            Some(Token::Macro(_) | Token::Escape(_)) => true,
            Some(Token::Literal(text)) => {
                let text = text.strip_suffix(b".").unwrap_or(text);
                match text.iter().rposition(|&b| b == b'.') {
                    Some(dot) => text.get(dot + 1..).is_some_and(is_toplabel),
                    None => false,
                }
            }
        }
    }

    /// Expands the string (RFC 7208 §7.3). Fails only when the result would exceed
    /// [`MAX_EXPANSION`] bytes.
    pub fn expand(&self, ctx: &MacroContext<'_>) -> Result<Vec<u8>, SpfError> {
        let too_long = || SpfError::Macro {
            position: 0,
            reason: "expansion too long",
        };
        let mut out = Vec::new();
        for token in &self.tokens {
            match token {
                Token::Literal(text) => out.extend_from_slice(text),
                Token::Escape(text) => out.extend_from_slice(text),
                Token::Macro(m) => expand_one(m, ctx, &mut out),
            }
            if out.len() > MAX_EXPANSION {
                return Err(too_long());
            }
        }
        Ok(out)
    }
}

/// Parses `letter transformers *delimiter "}"` starting at `start`; returns the macro and the
/// index after the closing brace.
fn parse_expand(
    input: &[u8],
    start: usize,
    kind: MacroKind,
) -> Result<(MacroExpand, usize), SpfError> {
    let err = |position, reason| SpfError::Macro { position, reason };
    let mut i = start;
    let raw = *input.get(i).ok_or(err(i, "unterminated macro"))?;
    let letter = MacroLetter::from_byte(raw).ok_or(err(i, "unknown macro letter"))?;
    if letter.explanation_only() && kind == MacroKind::DomainSpec {
        return Err(err(
            i,
            "macro letters c, r and t are only allowed in explanations",
        ));
    }
    i += 1;
    let mut keep: Option<usize> = None;
    while let Some(&d) = input.get(i).filter(|d| d.is_ascii_digit()) {
        let so_far = keep.unwrap_or(0);
        // Saturate: any count above the number of parts means "all parts" (RFC 7208 §7.3).
        keep = Some(
            so_far
                .saturating_mul(10)
                .saturating_add(usize::from(d - b'0'))
                .min(1000),
        );
        i += 1;
    }
    if keep == Some(0) {
        return Err(err(i, "macro digit transformer must not be zero"));
    }
    let mut reverse = false;
    if input.get(i).is_some_and(|b| b.eq_ignore_ascii_case(&b'r')) {
        reverse = true;
        i += 1;
    }
    let mut delimiters = Vec::new();
    loop {
        match input.get(i) {
            Some(b'}') => break,
            Some(&d @ (b'.' | b'-' | b'+' | b',' | b'/' | b'_' | b'=')) => {
                if !delimiters.contains(&d) {
                    delimiters.push(d);
                }
                i += 1;
            }
            Some(_) => return Err(err(i, "invalid character in macro")),
            None => return Err(err(i, "unterminated macro")),
        }
    }
    Ok((
        MacroExpand {
            letter,
            url_escape: raw.is_ascii_uppercase(),
            keep,
            reverse,
            delimiters,
        },
        i + 1,
    ))
}

fn expand_one(m: &MacroExpand, ctx: &MacroContext<'_>, out: &mut Vec<u8>) {
    let value = letter_value(m.letter, ctx);
    let transformed = if m.transforms() {
        transform(&value, m)
    } else {
        value
    };
    if m.url_escape {
        url_escape(&transformed, out);
    } else {
        out.extend_from_slice(&transformed);
    }
}

fn letter_value(letter: MacroLetter, ctx: &MacroContext<'_>) -> Vec<u8> {
    match letter {
        MacroLetter::Sender => {
            let mut s = ctx.local_part.to_vec();
            s.push(b'@');
            s.extend_from_slice(ctx.sender_domain);
            s
        }
        MacroLetter::LocalPart => ctx.local_part.to_vec(),
        MacroLetter::SenderDomain => ctx.sender_domain.to_vec(),
        MacroLetter::Domain => ctx.domain.to_vec(),
        MacroLetter::Ip => dotted_ip(ctx.ip).into_bytes(),
        MacroLetter::ValidatedName => ctx.validated_name.unwrap_or(b"unknown").to_vec(),
        MacroLetter::IpVersion => match ctx.ip {
            IpAddr::V4(_) => b"in-addr".to_vec(),
            IpAddr::V6(_) => b"ip6".to_vec(),
        },
        MacroLetter::Helo => ctx.helo.to_vec(),
        MacroLetter::ClientIp => ctx.ip.to_string().into_bytes(),
        MacroLetter::Receiver => match ctx.receiver {
            Some(r) if !r.is_empty() => r.to_vec(),
            _ => b"unknown".to_vec(),
        },
        MacroLetter::Timestamp => ctx.timestamp.to_string().into_bytes(),
    }
}

/// `%{i}`: dotted quad for IPv4, 32 dot-separated nibbles for IPv6 (RFC 7208 §7.3).
pub fn dotted_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let mut s = String::with_capacity(63);
            for byte in v6.octets() {
                for nibble in [byte >> 4, byte & 0x0f] {
                    if !s.is_empty() {
                        s.push('.');
                    }
                    let _ = write!(s, "{nibble:x}");
                }
            }
            s
        }
    }
}

/// Splits on the delimiters, reverses, keeps the right-hand parts and joins with `.`
/// (RFC 7208 §7.3).
fn transform(value: &[u8], m: &MacroExpand) -> Vec<u8> {
    let delimiters: &[u8] = if m.delimiters.is_empty() {
        b"."
    } else {
        &m.delimiters
    };
    let mut parts: Vec<&[u8]> = value.split(|b| delimiters.contains(b)).collect();
    if m.reverse {
        parts.reverse();
    }
    let keep = m.keep.unwrap_or(parts.len()).min(parts.len());
    let skip = parts.len().saturating_sub(keep);
    let kept = parts.get(skip..).unwrap_or(&[]);
    kept.join(&b'.')
}

/// URL-escapes every byte outside RFC 3986 `unreserved` (RFC 7208 §7.3).
fn url_escape(value: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in value {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b);
        } else {
            out.push(b'%');
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0x0f)]);
        }
    }
}

/// `toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum )`
/// (RFC 7208 §7.1).
pub fn is_toplabel(label: &[u8]) -> bool {
    let (Some(first), Some(last)) = (label.first(), label.last()) else {
        return false;
    };
    if !label
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
    {
        return false;
    }
    if label.contains(&b'-') {
        first.is_ascii_alphanumeric() && last.is_ascii_alphanumeric()
    } else {
        label.iter().any(u8::is_ascii_alphabetic)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(ip: &str) -> MacroContext<'static> {
        MacroContext {
            local_part: b"strong-bad",
            sender_domain: b"email.example.com",
            domain: b"email.example.com",
            ip: ip.parse().unwrap(),
            helo: b"mx.example.org",
            validated_name: Some(b"mx.example.org"),
            receiver: Some(b"rx.example.net"),
            timestamp: 1_700_000_000,
        }
    }

    fn exp(s: &str, ip: &str) -> String {
        let m = MacroString::parse(s.as_bytes(), MacroKind::Explanation).unwrap();
        String::from_utf8(m.expand(&ctx(ip)).unwrap()).unwrap()
    }

    /// Every row of the RFC 7208 §7.4 table.
    #[test]
    fn rfc7208_section_7_4_examples() {
        let v4 = "192.0.2.3";
        for (macro_, want) in [
            ("%{s}", "strong-bad@email.example.com"),
            ("%{o}", "email.example.com"),
            ("%{d}", "email.example.com"),
            ("%{d4}", "email.example.com"),
            ("%{d3}", "email.example.com"),
            ("%{d2}", "example.com"),
            ("%{d1}", "com"),
            ("%{dr}", "com.example.email"),
            ("%{d2r}", "example.email"),
            ("%{l}", "strong-bad"),
            ("%{l-}", "strong.bad"),
            ("%{lr}", "strong-bad"),
            ("%{lr-}", "bad.strong"),
            ("%{l1r-}", "strong"),
            (
                "%{ir}.%{v}._spf.%{d2}",
                "3.2.0.192.in-addr._spf.example.com",
            ),
            ("%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"),
            (
                "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}",
                "bad.strong.lp.3.2.0.192.in-addr._spf.example.com",
            ),
            (
                "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}",
                "3.2.0.192.in-addr.strong.lp._spf.example.com",
            ),
            (
                "%{d2}.trusted-domains.example.net",
                "example.com.trusted-domains.example.net",
            ),
        ] {
            assert_eq!(exp(macro_, v4), want, "{macro_}");
        }
        assert_eq!(
            exp("%{ir}.%{v}._spf.%{d2}", "2001:db8::cb01"),
            "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com"
        );
    }

    #[test]
    fn each_letter() {
        assert_eq!(exp("%{i}", "192.0.2.3"), "192.0.2.3");
        assert_eq!(exp("%{c}", "2001:db8::cb01"), "2001:db8::cb01");
        assert_eq!(exp("%{v}", "2001:db8::cb01"), "ip6");
        assert_eq!(exp("%{h}", "192.0.2.3"), "mx.example.org");
        assert_eq!(exp("%{p}", "192.0.2.3"), "mx.example.org");
        assert_eq!(exp("%{r}", "192.0.2.3"), "rx.example.net");
        assert_eq!(exp("%{t}", "192.0.2.3"), "1700000000");
        let mut c = ctx("192.0.2.3");
        c.validated_name = None;
        c.receiver = None;
        let m = MacroString::parse(b"%{p} %{r}", MacroKind::Explanation).unwrap();
        assert_eq!(m.expand(&c).unwrap(), b"unknown unknown");
    }

    #[test]
    fn escapes_and_url_encoding() {
        assert_eq!(exp("a%%b%_c%-d", "192.0.2.3"), "a%b c%20d");
        let mut c = ctx("192.0.2.3");
        c.local_part = b"~jack&jill=up-a_b3.c";
        let m = MacroString::parse(b"%{L}", MacroKind::Explanation).unwrap();
        assert_eq!(m.expand(&c).unwrap(), b"~jack%26jill%3Dup-a_b3.c");
        c.local_part = b"caf\xc3\xa9 x";
        assert_eq!(m.expand(&c).unwrap(), b"caf%C3%A9%20x");
    }

    #[test]
    fn transformers() {
        let mut c = ctx("192.0.2.3");
        c.local_part = b"foo-bar+zip+quux";
        let m = MacroString::parse(b"%{l2r+-}", MacroKind::DomainSpec).unwrap();
        assert_eq!(m.expand(&c).unwrap(), b"bar.foo");
        // more digits than parts: all parts; large digits saturate
        assert_eq!(exp("%{d127}", "192.0.2.3"), "email.example.com");
        assert_eq!(
            exp("%{d99999999999999999999}", "192.0.2.3"),
            "email.example.com"
        );
        // empty parts are kept (RFC 7208 §7.3)
        c.local_part = b"a..b";
        let m = MacroString::parse(b"%{lr}", MacroKind::DomainSpec).unwrap();
        assert_eq!(m.expand(&c).unwrap(), b"b..a");
        // upper-case R transformer is the same as r
        assert_eq!(exp("%{dR}", "192.0.2.3"), "com.example.email");
    }

    #[test]
    fn syntax_errors() {
        for bad in [
            "%", "%x", "%(ir)", "%{", "%{d", "%{x}", "%{d0}", "%{d2rr}", "%{d!}", "a b",
        ] {
            assert!(
                MacroString::parse(bad.as_bytes(), MacroKind::DomainSpec).is_err(),
                "{bad}"
            );
        }
        for letter in ["c", "r", "t"] {
            let s = format!("%{{{letter}}}");
            assert!(MacroString::parse(s.as_bytes(), MacroKind::DomainSpec).is_err());
            assert!(MacroString::parse(s.as_bytes(), MacroKind::Explanation).is_ok());
        }
        assert!(MacroString::parse(b"a b", MacroKind::Explanation).is_ok());
        assert!(MacroString::parse(b"\x80", MacroKind::Explanation).is_err());
    }

    #[test]
    fn domain_end() {
        let ok = |s: &str| {
            MacroString::parse(s.as_bytes(), MacroKind::DomainSpec)
                .unwrap()
                .is_domain_spec()
        };
        assert!(ok("example.com"));
        assert!(ok("example.com."));
        assert!(ok("%{d}"));
        assert!(ok("foo.%{d}"));
        assert!(ok("foo:bar/baz.example.com"));
        assert!(ok("foo.example.xn--zckzah"));
        assert!(!ok("museum"));
        assert!(!ok("museum."));
        assert!(!ok("abc.123"));
        assert!(!ok("example.-com"));
        assert!(!ok("example.com:8080"));
        assert!(!ok("%{d}com"));
        assert!(!ok(""));
    }
}
