//! Author domain extraction from `From:` fields (RFC 5322 §3.4, §3.6.2, §4.4; RFC 7489 §6.6.1;
//! RFC 9989 §5.3.1).
//!
//! The parser accepts the RFC 5322 grammar with its obsolete forms (§4.4: CFWS around dots,
//! routes, empty list elements) and one sloppy form seen in real mail (display words before a
//! bare address, `"Joe" joe@example.com`), but refuses every input whose meaning readers could
//! disagree on, so that no reading of the field gives a pass for a domain the reader does not
//! see: control characters (NUL, ESC, a lone CR…), an unterminated quoted string, comment,
//! domain literal or angle address, several angle addresses in one mailbox, an `@` or text
//! outside the angle address (`victim@bank.example <attacker@evil.example>`), several `@` in
//! a bare address, stray specials.

use crate::domain::normalize_domain;
use crate::error::DmarcError;
use crate::{Config, FromProblem, MultiFrom};
use std::collections::HashSet;

mod tokens;

use tokens::{Tok, tokenize};

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
/// obsolete syntax of §4.4 and group syntax). Empty groups produce no mailbox; an empty group
/// with a name next to a mailbox is refused (readers show the name as an author).
pub fn parse_from(value: &[u8]) -> Result<Vec<FromAddress>, DmarcError> {
    if let Some(b) = control_character(value) {
        return Err(DmarcError::FromSyntax(format!(
            "control character 0x{b:02X} in From"
        )));
    }
    let tokens = tokenize(value)?;
    let mut out = Vec::new();
    let mut entry: Vec<Tok> = Vec::new();
    let mut depth = 0usize;
    // the open group: whether it has a name, and how many mailboxes came before it
    let mut group: Option<(bool, usize)> = None;
    let mut named_empty_group = false;
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
            // a group's display name ends at ':' (outside an angle-addr, where ':' ends a route);
            // it is a phrase (§3.2.5): an address there would be dropped unseen by DMARC
            Tok::Special(b':') if depth == 0 => {
                if entry
                    .iter()
                    .any(|t| !matches!(t, Tok::Atom { .. } | Tok::Quoted(_)))
                {
                    return Err(DmarcError::FromSyntax(
                        "an address or special character in a group name in From".into(),
                    ));
                }
                // a second ':' (`Acme: Billing: <b@acme.example>`, sloppy but seen) continues
                // the same group's name
                let named = !entry.is_empty() || group.is_some_and(|(named, _)| named);
                group = Some((named, group.map_or(out.len(), |(_, start)| start)));
                entry.clear();
            }
            Tok::Special(b',' | b';') if depth == 0 => {
                if let Some(a) = mailbox(&entry)? {
                    out.push(a);
                }
                entry.clear();
                if tok == Tok::Special(b';')
                    && let Some((named, start)) = group.take()
                {
                    named_empty_group |= named && out.len() == start;
                }
            }
            other => entry.push(other),
        }
    }
    if let Some(a) = mailbox(&entry)? {
        out.push(a);
    }
    if let Some((named, start)) = group {
        named_empty_group |= named && out.len() == start;
    }
    if named_empty_group && !out.is_empty() {
        return Err(DmarcError::FromSyntax(
            "an empty group next to an address in From".into(),
        ));
    }
    Ok(out)
}

/// The first byte RFC 5322 does not allow in a header value (§2.2, §3.2.2): a C0 control
/// other than HTAB, or DEL; CR and LF only as a fold (CR LF or LF, then space or tab).
pub fn control_character(value: &[u8]) -> Option<u8> {
    let mut i = 0usize;
    while let Some(&b) = value.get(i) {
        match b {
            b'\r'
                if value.get(i + 1) == Some(&b'\n')
                    && matches!(value.get(i + 2), Some(b' ' | b'\t')) =>
            {
                i += 3;
            }
            b'\n' if matches!(value.get(i + 1), Some(b' ' | b'\t')) => i += 2,
            b'\t' => i += 1,
            0..=0x1f | 0x7f => return Some(b),
            _ => i += 1,
        }
    }
    None
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
    let mut empty_field = false;
    for f in fields {
        if let Some(b) = control_character(f.as_ref()) {
            return Err(FromProblem::ControlCharacter(b));
        }
        let parsed = parse_from(f.as_ref()).map_err(|e| {
            FromProblem::Unparseable(match e {
                DmarcError::FromSyntax(why) => why,
                other => other.to_string(),
            })
        })?;
        empty_field |= parsed.is_empty();
        addresses.extend(parsed);
    }
    if addresses.is_empty() {
        return Err(FromProblem::NoAddress);
    }
    if empty_field {
        // a From field without any address (`"ceo@bank.example" <>`, an empty group) next
        // to one with an address: readers may show the empty one as the author
        return Err(FromProblem::EntryWithoutAddress);
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
    // distinct domains counted in a set, and the first few kept in order: comparing every
    // address with every domain kept so far was quadratic (36,527 domains: 1.2 s of CPU)
    let keep = config.max_author_domains.max(1).saturating_add(1);
    let mut seen: HashSet<String> = HashSet::new();
    let mut domains: Vec<String> = Vec::new();
    for a in &addresses {
        let d = a.author_domain().map_err(|_| match &a.domain {
            Some(d) => FromProblem::InvalidDomain(String::from_utf8_lossy(d).into_owned()),
            // `"Name", <a@b.example>`: an entry without '@' has no domain to name
            None => FromProblem::EntryWithoutAddress,
        })?;
        if domains.len() < keep && !seen.contains(&d) {
            domains.push(d.clone());
        }
        seen.insert(d);
    }
    let count = seen.len();
    if count > 1 {
        if config.multi_from == MultiFrom::Reject {
            return Err(FromProblem::MultipleAuthorDomains {
                count,
                first: domains,
            });
        }
        if count > config.max_author_domains {
            return Err(FromProblem::TooManyAuthorDomains(count));
        }
    }
    Ok(domains)
}

/// Builds a mailbox from one comma-separated entry (RFC 5322 §3.4 `mailbox`); `None` for an
/// entry without any word (an empty list element, obs-mbox-list). Refuses entries whose
/// address readers could disagree on (module docs).
fn mailbox(entry: &[Tok]) -> Result<Option<FromAddress>, DmarcError> {
    let bad = |why: &str| Err(DmarcError::FromSyntax(why.to_string()));
    if !entry
        .iter()
        .any(|t| matches!(t, Tok::Atom { .. } | Tok::Quoted(_) | Tok::Literal(_)))
    {
        if entry.iter().any(|t| matches!(t, Tok::Special(b'<'))) {
            // `<>`: an angle address with nothing in it
            return Ok(None);
        }
        if let Some(Tok::Special(c)) = entry.first() {
            return bad(&format!("stray {:?} in From", char::from(*c)));
        }
        return Ok(None);
    }
    if let Some(Tok::Special(c)) = entry
        .iter()
        .find(|t| matches!(t, Tok::Special(b'\\' | b']' | b')')))
    {
        return bad(&format!("stray {:?} in From", char::from(*c)));
    }
    let opens: Vec<usize> = positions(entry, b'<');
    let closes: Vec<usize> = positions(entry, b'>');
    match (opens.as_slice(), closes.as_slice()) {
        ([], []) => bare_address(entry),
        ([open], [close]) if open < close => {
            let (display, rest) = entry.split_at(*open);
            let inner = rest.get(1..close - open).unwrap_or_default();
            if rest
                .get(close - open + 1..)
                .is_some_and(|after| !after.is_empty())
            {
                return bad("text after the angle address in From");
            }
            // a display name that is an address (`support@example.com <support@example.com>`,
            // common from sloppy software) is no phrase; readers may show either address, so
            // it is accepted only when both name one domain, else refused
            let shown_domain = if display
                .iter()
                .any(|t| !matches!(t, Tok::Atom { .. } | Tok::Quoted(_)))
            {
                if display.iter().any(is_encoded_word) {
                    return bad(ENCODED_WORD_IN_ADDRESS);
                }
                match addr_spec(display) {
                    Ok(Some(FromAddress {
                        domain: Some(d), ..
                    })) => Some(d),
                    _ => {
                        return bad("an address or special character in the display name of From");
                    }
                }
            } else {
                None
            };
            // obs-route: "@a,@b:" before the addr-spec
            let (route, addr) = match inner.iter().position(|t| *t == Tok::Special(b':')) {
                Some(p) => (
                    Some(inner.get(..p).unwrap_or_default()),
                    inner.get(p + 1..).unwrap_or_default(),
                ),
                None => (None, inner),
            };
            if route.is_some_and(|r| !is_route(r)) {
                return bad("a route that is not a list of @domains in From");
            }
            if addr.is_empty() && route.is_some() {
                return bad("a route without an address in From");
            }
            if addr.is_empty() {
                // `<>` shows nothing; `"ceo@bank.example" <>` shows its display name as the
                // author: an entry without an address, never dropped unseen
                return Ok((!display.is_empty()).then(|| FromAddress {
                    display_name: words(display),
                    local_part: Vec::new(),
                    domain: None,
                }));
            }
            if addr.iter().any(is_encoded_word) {
                return bad(ENCODED_WORD_IN_ADDRESS);
            }
            let Some(mut a) = addr_spec(addr)? else {
                return bad("an angle address without @ in From");
            };
            if let Some(shown) = shown_domain
                && !a.domain.as_deref().is_some_and(|d| same_domain(d, &shown))
            {
                return bad("an address or special character in the display name of From");
            }
            a.display_name = words(display);
            Ok(Some(a))
        }
        ([_], []) => bad("unterminated angle address in From"),
        ([], [_]) | ([_], [_]) => bad("stray '>' in From"),
        _ => bad("more than one angle address in one From mailbox"),
    }
}

/// The tokens before the ':' of an obs-route are an obs-domain-list (RFC 5322 §4.4):
/// `*(CFWS / ",") "@" domain *("," [CFWS] ["@" domain])`.
fn is_route(toks: &[Tok]) -> bool {
    let mut seen_domain = false;
    let mut i = 0usize;
    while let Some(t) = toks.get(i) {
        match t {
            Tok::Special(b',') => i += 1,
            Tok::Special(b'@') => {
                let rest = toks.get(i + 1..).unwrap_or_default();
                let (domain, used, _) = domain_part(rest);
                if domain.is_empty() || !matches!(rest.get(used), None | Some(Tok::Special(b','))) {
                    return false;
                }
                seen_domain = true;
                i += 1 + used;
            }
            _ => return false,
        }
    }
    seen_domain
}

/// Two domains as written name the same domain: ASCII case and a final dot aside.
fn same_domain(a: &[u8], b: &[u8]) -> bool {
    let trim = |d: &[u8]| d.strip_suffix(b".").unwrap_or(d).to_ascii_lowercase();
    trim(a) == trim(b)
}

fn positions(entry: &[Tok], special: u8) -> Vec<usize> {
    entry
        .iter()
        .enumerate()
        .filter(|(_, t)| **t == Tok::Special(special))
        .map(|(i, _)| i)
        .collect()
}

/// A mailbox without angle brackets: `local@domain`, optionally after display words (a sloppy
/// form: `"Joe" joe@example.com`). A display-name-only entry has no domain.
fn bare_address(entry: &[Tok]) -> Result<Option<FromAddress>, DmarcError> {
    if !entry.contains(&Tok::Special(b'@')) {
        if entry.iter().any(|t| matches!(t, Tok::Special(_))) {
            return Err(DmarcError::FromSyntax(
                "a special character outside an address in From".into(),
            ));
        }
        return Ok(Some(FromAddress {
            display_name: words(entry),
            local_part: Vec::new(),
            domain: None,
        }));
    }
    // without angle brackets nothing delimits the address from the words before it, and
    // readers decode an encoded-word there into the address they show (Python's `email` reads
    // `=?utf-8?q?ceo=40bank.example?= x@evil.example` as ceo@bank.example)
    if entry.iter().any(is_encoded_word) {
        return Err(DmarcError::FromSyntax(ENCODED_WORD_IN_ADDRESS.into()));
    }
    addr_spec(entry)
}

/// Why a From with an encoded-word in or before its address is refused.
const ENCODED_WORD_IN_ADDRESS: &str =
    "an encoded-word in a From address, or before one not in angle brackets (RFC 2047 section 5)";

/// An atom or quoted string holding what readers decode as an RFC 2047 encoded-word
/// (`=?charset?encoding?text?=`), which must not appear in an addr-spec (RFC 2047 §5 (3)).
fn is_encoded_word(t: &Tok) -> bool {
    let text = match t {
        Tok::Atom { text, .. } | Tok::Quoted(text) => text,
        _ => return false,
    };
    text.windows(2)
        .position(|w| w == b"=?")
        .is_some_and(|start| {
            text.get(start + 2..)
                .is_some_and(|rest| rest.windows(2).any(|w| w == b"?="))
        })
}

/// `local-part "@" domain` (RFC 5322 §3.4.1), with display words tolerated before the local
/// part; exactly one `@` and nothing after the domain.
fn addr_spec(toks: &[Tok]) -> Result<Option<FromAddress>, DmarcError> {
    let ats = positions(toks, b'@');
    let [at] = ats.as_slice() else {
        return Err(DmarcError::FromSyntax(if ats.is_empty() {
            "no @ in the From address".into()
        } else {
            "more than one @ in a From address".into()
        }));
    };
    let (before, after) = toks.split_at(*at);
    let after = after.get(1..).unwrap_or_default();
    if before
        .iter()
        .chain(after)
        .any(|t| matches!(t, Tok::Special(_)))
    {
        return Err(DmarcError::FromSyntax(
            "a special character in the From address".into(),
        ));
    }
    let (domain, used, split) = domain_part(after);
    if split {
        return Err(DmarcError::FromSyntax(
            "white space or a comment inside the domain of the From address".into(),
        ));
    }
    if used < after.len() {
        return Err(DmarcError::FromSyntax(
            "text after the domain of the From address".into(),
        ));
    }
    let local = local_part(before);
    let display_len = before.len().saturating_sub(local.1);
    Ok(Some(FromAddress {
        display_name: words(before.get(..display_len).unwrap_or_default()),
        local_part: local.0,
        domain: Some(domain),
    }))
}

/// Joins the domain tokens after '@': atoms glued by dots (CFWS allowed around dots,
/// RFC 5322 §4.4 obs-domain), or a domain literal. Returns the domain, the number of tokens
/// it used, and whether CFWS first came after a part that is a name with a dot by itself
/// (`bank.example .evil.example`: a reader stopping there shows another domain).
fn domain_part(toks: &[Tok]) -> (Vec<u8>, usize, bool) {
    let mut out: Vec<u8> = Vec::new();
    let mut used = 0usize;
    let mut inner_cfws: Option<bool> = None;
    for t in toks {
        match t {
            Tok::Literal(l) if out.is_empty() => return (l.clone(), 1, false),
            Tok::Atom { text, space_before } => {
                let glued = out.is_empty()
                    || !*space_before
                    || out.last() == Some(&b'.')
                    || text.first() == Some(&b'.');
                if !glued {
                    break;
                }
                if *space_before && !out.is_empty() && inner_cfws.is_none() {
                    let before = out.strip_suffix(b".").unwrap_or(&out);
                    inner_cfws = Some(before.contains(&b'.'));
                }
                out.extend_from_slice(text);
                used += 1;
            }
            _ => break,
        }
    }
    (out, used, inner_cfws == Some(true))
}

/// The local-part before '@': the last quoted string or dot-joined atoms (obs-local-part).
/// Returns it and the number of tokens it used (the ones before are display words).
fn local_part(toks: &[Tok]) -> (Vec<u8>, usize) {
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
    let used = parts.len();
    (
        parts.iter().rev().flat_map(|p| p.iter().copied()).collect(),
        used,
    )
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
mod tests;
