//! The lexical tokens of a `From:` field value (RFC 5322 §3.2): atoms, quoted strings,
//! domain literals and specials, with comments and folding white space skipped.

use crate::error::DmarcError;

/// A lexical token of a structured header field (RFC 5322 §3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Tok {
    /// A run of atext, dots and 8-bit bytes; `space_before` tells whether CFWS preceded it.
    Atom { text: Vec<u8>, space_before: bool },
    /// A quoted string, unquoted.
    Quoted(Vec<u8>),
    /// A domain literal, brackets included.
    Literal(Vec<u8>),
    /// One of `< > @ , : ;` (and stray specials).
    Special(u8),
}

/// Most tokens one From field may hold: a list of 5,000 authors is ~20,000 (each `a@b.c,`
/// four), past any `max_author_domains`; half a megabyte of `@` (inside the header limits)
/// would be 500,000 tokens, ~64 MiB while parsed.
pub(super) const MAX_TOKENS: usize = 1 << 16;

/// Splits a field value into tokens (RFC 5322 §3.2.2–§3.2.5); an unterminated quoted string,
/// comment or domain literal is an error, and so are more than [`MAX_TOKENS`].
pub(super) fn tokenize(value: &[u8]) -> Result<Vec<Tok>, DmarcError> {
    // `"Name" <user@example.com>` is about ten tokens: one allocation instead of three
    let mut out = Vec::with_capacity(16);
    let mut i = 0usize;
    let mut space = true;
    while let Some(&b) = value.get(i) {
        if out.len() > MAX_TOKENS {
            return Err(DmarcError::FromSyntax(format!(
                "too many tokens in From (more than {MAX_TOKENS})"
            )));
        }
        match b {
            b' ' | b'\t' | b'\r' | b'\n' => {
                space = true;
                i += 1;
            }
            b'(' => {
                i = skip_comment(value, i)?;
                space = true;
            }
            b'"' => {
                let (text, next) = quoted(value, i)?;
                out.push(Tok::Quoted(text));
                i = next;
                space = false;
            }
            b'[' => {
                let end = value
                    .get(i..)
                    .and_then(|rest| rest.iter().position(|&c| c == b']'))
                    .ok_or_else(|| DmarcError::FromSyntax("unterminated domain literal".into()))?;
                out.push(Tok::Literal(
                    value.get(i..=i + end).unwrap_or_default().to_vec(),
                ));
                i += end + 1;
                space = false;
            }
            b'<' | b'>' | b'@' | b',' | b':' | b';' | b'\\' | b']' | b')' => {
                out.push(Tok::Special(b));
                i += 1;
                space = false;
            }
            _ => {
                let start = i;
                while value.get(i).is_some_and(|&c| is_atom_byte(c)) {
                    i += 1;
                }
                if i == start {
                    // a control byte: skip it
                    i += 1;
                    continue;
                }
                out.push(Tok::Atom {
                    text: value.get(start..i).unwrap_or_default().to_vec(),
                    space_before: space,
                });
                space = false;
            }
        }
    }
    Ok(out)
}

fn is_atom_byte(c: u8) -> bool {
    c >= 0x80
        || c.is_ascii_alphanumeric()
        || matches!(
            c,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'/'
                | b'='
                | b'?'
                | b'^'
                | b'_'
                | b'`'
                | b'{'
                | b'|'
                | b'}'
                | b'~'
                | b'.'
        )
}

/// Skips a (nested) comment starting at `start`; returns the index after it.
fn skip_comment(value: &[u8], start: usize) -> Result<usize, DmarcError> {
    let mut depth = 0usize;
    let mut i = start;
    while let Some(&b) = value.get(i) {
        match b {
            b'\\' => i += 1,
            b'(' => depth += 1,
            b')' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Ok(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    Err(DmarcError::FromSyntax("unterminated comment".into()))
}

/// Reads a quoted string starting at the `"` at `start`; returns its content and the index
/// after the closing quote.
fn quoted(value: &[u8], start: usize) -> Result<(Vec<u8>, usize), DmarcError> {
    let mut out = Vec::new();
    let mut i = start + 1;
    while let Some(&b) = value.get(i) {
        match b {
            b'"' => return Ok((out, i + 1)),
            b'\\' => {
                if let Some(&n) = value.get(i + 1) {
                    out.push(n);
                }
                i += 2;
            }
            b'\r' | b'\n' => i += 1,
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    Err(DmarcError::FromSyntax("unterminated quoted string".into()))
}
