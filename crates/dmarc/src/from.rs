//! Author domain extraction from `From:` fields (RFC 5322 §3.4, §3.6.2, §4.4; RFC 7489 §6.6.1;
//! RFC 9989 §5.3.1).
//!
//! The parser is deliberately tolerant of the sloppy forms seen in real mail (a quoted display
//! name followed by a bare address, stray angle brackets, a leading `From:` word) but refuses
//! input whose meaning is ambiguous: an unterminated quoted string, comment or domain literal.

use crate::error::DmarcError;
use crate::types::{Config, FromProblem, MultiFrom};
use crate::util::normalize_domain;

/// One mailbox of a `From:` field (RFC 5322 §3.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FromAddress {
    /// The display name as written (quoted strings unquoted, comments dropped, encoded words
    /// left as they are), empty if none.
    pub display_name: Vec<u8>,
    /// The local-part (quoted strings unquoted).
    pub local_part: Vec<u8>,
    /// The domain as written (without `@`), `None` if the mailbox has no `@`.
    pub domain: Option<Vec<u8>>,
}

impl FromAddress {
    /// The author domain: A-label, lowercase, no trailing dot (RFC 9989 §5.3.1).
    pub fn author_domain(&self) -> Result<String, DmarcError> {
        let raw = self
            .domain
            .as_deref()
            .ok_or_else(|| DmarcError::InvalidDomain(String::new()))?;
        if raw.first() == Some(&b'[') {
            return Err(DmarcError::InvalidDomain(
                String::from_utf8_lossy(raw).into_owned(),
            ));
        }
        normalize_domain(raw)
    }
}

/// Parses one `From:` field value into its mailboxes (RFC 5322 §3.6.2 `from`, with the
/// obsolete syntax of §4.4 and group syntax). Empty groups produce no mailbox.
pub fn parse_from(value: &[u8]) -> Result<Vec<FromAddress>, DmarcError> {
    let tokens = tokenize(value)?;
    let mut out = Vec::new();
    let mut entry: Vec<Tok> = Vec::new();
    let mut depth = 0usize;
    for tok in tokens {
        match tok {
            Tok::Special(b'<') => {
                depth = depth.saturating_add(1);
                entry.push(tok);
            }
            Tok::Special(b'>') => {
                depth = depth.saturating_sub(1);
                entry.push(tok);
            }
            // a group's display name ends at ':' (outside an angle-addr, where ':' ends a route)
            Tok::Special(b':') if depth == 0 => entry.clear(),
            Tok::Special(b',' | b';') if depth == 0 => {
                if let Some(a) = mailbox(&entry) {
                    out.push(a);
                }
                entry.clear();
            }
            other => entry.push(other),
        }
    }
    if let Some(a) = mailbox(&entry) {
        out.push(a);
    }
    Ok(out)
}

/// The distinct author domains of the message's `From:` field values, applying the
/// configured multiple-From behaviour (RFC 7489 §6.6.1, RFC 9989 §5.3.1, §11.5).
pub fn author_domains<T: AsRef<[u8]>>(
    fields: &[T],
    config: &Config,
) -> Result<Vec<String>, FromProblem> {
    if fields.is_empty() {
        return Err(FromProblem::NoFromField);
    }
    if fields.len() > 1 && config.multi_from == MultiFrom::Reject {
        return Err(FromProblem::MultipleFromFields(fields.len()));
    }
    let mut addresses = Vec::new();
    for f in fields {
        let parsed = parse_from(f.as_ref()).map_err(|e| FromProblem::Unparseable(e.to_string()))?;
        addresses.extend(parsed);
    }
    if addresses.is_empty() {
        return Err(FromProblem::NoAddress);
    }
    if addresses.len() == 1 && addresses.first().is_some_and(|a| a.domain.is_none()) {
        return Err(FromProblem::NoAddress);
    }
    if addresses.len() > 1
        && config.multi_from == MultiFrom::Reject
        && config.reject_multiple_addresses
    {
        return Err(FromProblem::MultipleAddresses(addresses.len()));
    }
    let mut domains: Vec<String> = Vec::new();
    for a in &addresses {
        let d = a.author_domain().map_err(|_| match &a.domain {
            Some(d) => FromProblem::InvalidDomain(String::from_utf8_lossy(d).into_owned()),
            // `"Name", <a@b.example>`: an entry without '@' has no domain to name
            None => FromProblem::EntryWithoutAddress,
        })?;
        if !domains.contains(&d) {
            domains.push(d);
        }
    }
    if domains.len() > 1 {
        if config.multi_from == MultiFrom::Reject {
            return Err(FromProblem::MultipleAuthorDomains(domains));
        }
        if domains.len() > config.max_author_domains {
            return Err(FromProblem::TooManyAuthorDomains(domains.len()));
        }
    }
    Ok(domains)
}

/// A lexical token of a structured header field (RFC 5322 §3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    /// A run of atext, dots and 8-bit bytes; `space_before` tells whether CFWS preceded it.
    Atom { text: Vec<u8>, space_before: bool },
    /// A quoted string, unquoted.
    Quoted(Vec<u8>),
    /// A domain literal, brackets included.
    Literal(Vec<u8>),
    /// One of `< > @ , : ;` (and stray specials).
    Special(u8),
}

fn tokenize(value: &[u8]) -> Result<Vec<Tok>, DmarcError> {
    let mut out = Vec::new();
    let mut i = 0usize;
    let mut space = true;
    while let Some(&b) = value.get(i) {
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

/// Builds a mailbox from one comma-separated entry (RFC 5322 §3.4 `mailbox`), tolerating
/// sloppy forms. Returns `None` for an entry without any word.
fn mailbox(entry: &[Tok]) -> Option<FromAddress> {
    if !entry
        .iter()
        .any(|t| matches!(t, Tok::Atom { .. } | Tok::Quoted(_) | Tok::Literal(_)))
    {
        return None;
    }
    // angle-addr: the innermost <...> pair that holds an '@', the last such one
    let mut open: Option<usize> = None;
    let mut best: Option<(usize, usize)> = None;
    for (i, t) in entry.iter().enumerate() {
        match t {
            Tok::Special(b'<') => open = Some(i + 1),
            Tok::Special(b'>') => {
                if let Some(s) = open.take() {
                    let inner = entry.get(s..i).unwrap_or_default();
                    if inner.contains(&Tok::Special(b'@')) {
                        best = Some((s, i));
                    }
                }
            }
            _ => {}
        }
    }
    let (display_end, addr) = match best {
        Some((s, e)) => {
            let inner = entry.get(s..e).unwrap_or_default();
            // obs-route: "@a,@b:" before the addr-spec
            let after_route = inner
                .iter()
                .rposition(|t| *t == Tok::Special(b':'))
                .map_or(0, |p| p + 1);
            (
                s.saturating_sub(1),
                inner.get(after_route..).unwrap_or_default(),
            )
        }
        None => (0, entry),
    };
    let display_name = words(entry.get(..display_end).unwrap_or_default());
    let Some(at) = addr.iter().rposition(|t| *t == Tok::Special(b'@')) else {
        return Some(FromAddress {
            display_name: words(entry),
            local_part: Vec::new(),
            domain: None,
        });
    };
    let domain = domain_part(addr.get(at + 1..).unwrap_or_default());
    let local_part = local_part(addr.get(..at).unwrap_or_default());
    Some(FromAddress {
        display_name,
        local_part,
        domain: Some(domain),
    })
}

/// Joins the domain tokens after '@': atoms glued by dots (CFWS allowed around dots,
/// RFC 5322 §4.4 obs-domain), or a domain literal.
fn domain_part(toks: &[Tok]) -> Vec<u8> {
    let mut out: Vec<u8> = Vec::new();
    for t in toks {
        match t {
            Tok::Literal(l) if out.is_empty() => return l.clone(),
            Tok::Atom { text, space_before } => {
                let glued = out.is_empty()
                    || !*space_before
                    || out.last() == Some(&b'.')
                    || text.first() == Some(&b'.');
                if !glued {
                    break;
                }
                out.extend_from_slice(text);
            }
            _ => break,
        }
    }
    out
}

/// The local-part before '@': the last quoted string or dot-joined atoms (obs-local-part).
fn local_part(toks: &[Tok]) -> Vec<u8> {
    let mut parts: Vec<&[u8]> = Vec::new();
    for t in toks.iter().rev() {
        match t {
            Tok::Quoted(q) => {
                parts.push(q);
                if !parts.iter().any(|p| p.starts_with(b".")) {
                    break;
                }
            }
            Tok::Atom { text, space_before } => {
                let glued = parts.is_empty()
                    || parts.last().is_some_and(|p| p.starts_with(b"."))
                    || text.ends_with(b".");
                if !glued {
                    break;
                }
                parts.push(text);
                if *space_before && !text.starts_with(b".") {
                    break;
                }
            }
            _ => break,
        }
    }
    parts.iter().rev().flat_map(|p| p.iter().copied()).collect()
}

/// The words of a display name, joined by single spaces.
fn words(toks: &[Tok]) -> Vec<u8> {
    let mut out = Vec::new();
    for t in toks {
        let w: &[u8] = match t {
            Tok::Atom { text, .. } => text,
            Tok::Quoted(q) => q,
            _ => continue,
        };
        if !out.is_empty() {
            out.push(b' ');
        }
        out.extend_from_slice(w);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domains(v: &str) -> Vec<String> {
        parse_from(v.as_bytes())
            .unwrap()
            .iter()
            .map(|a| a.author_domain().unwrap_or_else(|_| "?".into()))
            .collect()
    }

    #[test]
    fn common_forms() {
        assert_eq!(domains("Joe <joe@Example.COM>"), ["example.com"]);
        assert_eq!(domains("\"Doe, John\" <j@a.example>"), ["a.example"]);
        assert_eq!(domains("j@a.example (John)"), ["a.example"]);
        assert_eq!(
            domains("a@x.example, B <b@y.example>"),
            ["x.example", "y.example"]
        );
        assert_eq!(
            domains("Team: a@x.example, b@y.example;"),
            ["x.example", "y.example"]
        );
        assert_eq!(
            domains("<@r1.example,@r2.example:u@z.example>"),
            ["z.example"]
        );
        assert_eq!(domains("u @ sub . example . com"), ["sub.example.com"]);
        assert_eq!(domains("=?UTF-8?B?QQ==?= <u@b.example>"), ["b.example"]);
        assert_eq!(domains("u@bücher.example"), ["xn--bcher-kva.example"]);
        assert_eq!(
            domains("\"a@evil.example\" <u@good.example>"),
            ["good.example"]
        );
    }

    #[test]
    fn empty_group_and_display_only() {
        assert!(parse_from(b"undisclosed-recipients:;").unwrap().is_empty());
        let a = parse_from(b"\"Test User\"").unwrap();
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].domain, None);
    }

    #[test]
    fn an_entry_without_address_next_to_an_address_is_named_as_such() {
        // corpus case spam_headers (authentication_milter): a quoted display name, a comma,
        // then an address; the reason used to read "unusable From domain: " with no domain
        let value =
            b"\"Dear Customer\r\n \r\n Happy new Year\r\n \",\r\n        <noreply@example.com>";
        for multi_from in [MultiFrom::Reject, MultiFrom::Strictest] {
            let config = Config {
                multi_from,
                ..Config::default()
            };
            let problem = author_domains(&[&value[..]], &config).unwrap_err();
            assert_eq!(problem, FromProblem::EntryWithoutAddress);
            assert_eq!(problem.to_string(), "a From entry has no address");
        }
        let problem = author_domains(&[&b"alice, bob@example.com"[..]], &Config::default());
        assert_eq!(problem, Err(FromProblem::EntryWithoutAddress));
        // an unusable domain is still named
        let problem = author_domains(&[&b"a@[192.0.2.1], b@example.com"[..]], &Config::default());
        assert_eq!(
            problem,
            Err(FromProblem::InvalidDomain("[192.0.2.1]".into()))
        );
        // a display name alone is a From without any address
        let problem = author_domains(&[&b"\"Test User\""[..]], &Config::default());
        assert_eq!(problem, Err(FromProblem::NoAddress));
    }

    #[test]
    fn unterminated_is_an_error() {
        assert!(parse_from(b"\"unterminated <a@b.example>").is_err());
        assert!(parse_from(b"(comment a@b.example").is_err());
    }

    #[test]
    fn domain_literal_is_unusable() {
        let a = parse_from(b"u@[192.0.2.1]").unwrap();
        assert!(a[0].author_domain().is_err());
    }
}
