//! The Postfix socketmap protocol (Postfix `socketmap_table(5)`), sans-IO, and the
//! request → reply function with postsrsd 2's semantics.
//!
//! Postfix sends one netstring per lookup, `<name> <key>`, and reads one netstring back:
//! `OK <data>`, `NOTFOUND `, `TEMP <reason>`, `TIMEOUT <reason>` or `PERM <reason>`. The map
//! names are `forward` (for `sender_canonical_maps`) and `reverse` (for
//! `recipient_canonical_maps`):
//!
//! ```text
//! sender_canonical_maps    = socketmap:unix:/run/authmilter/srs.sock:forward
//! recipient_canonical_maps = socketmap:unix:/run/authmilter/srs.sock:reverse
//! ```
//!
//! A server loop: read bytes, [`Decoder::feed`] them, for each [`Decoder::decode`]d payload
//! write `handle_request(..).encode()`; on a decoder error write
//! [`Reply::invalid_query`]`.encode()` and close the connection (as postsrsd does).

mod netstring;

pub use netstring::{Decoder, POSTFIX_MAX_NETSTRING, encode, encode_into};

use std::borrow::Cow;

use crate::address::{quote, unquote};
use crate::{Forwarded, Srs, SrsError};

/// postsrsd's largest key (address) in a socketmap request: longer ones get `PERM Too big.`.
pub const POSTSRSD_MAX_KEY_LEN: usize = 512;

/// One socketmap request: `<name> <key>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    /// The map name (`forward`, `reverse`).
    pub name: &'a [u8],
    /// The lookup key (an address), everything after the first space following the name.
    pub key: &'a [u8],
}

impl<'a> Request<'a> {
    /// Splits a decoded payload as postsrsd does (`strtok_r` on a space): leading spaces are
    /// skipped, the name ends at the next space, the key is the rest after that one space.
    pub fn parse(payload: &'a [u8]) -> Result<Self, SrsError> {
        // The C code treats the payload as a NUL-terminated string.
        let payload = payload.split(|&b| b == 0).next().unwrap_or_default();
        let start = payload
            .iter()
            .position(|&b| b != b' ')
            .ok_or(SrsError::SocketmapRequest)?;
        let rest = payload.get(start..).unwrap_or_default();
        match rest.iter().position(|&b| b == b' ') {
            Some(sp) => Ok(Request {
                name: rest.get(..sp).unwrap_or_default(),
                key: rest.get(sp + 1..).unwrap_or_default(),
            }),
            None => Ok(Request {
                name: rest,
                key: b"",
            }),
        }
    }

    /// The request as a netstring, as Postfix sends it (for clients and tests).
    pub fn encode(&self) -> Vec<u8> {
        let mut payload = Vec::with_capacity(
            self.name
                .len()
                .saturating_add(self.key.len())
                .saturating_add(1),
        );
        payload.extend_from_slice(self.name);
        payload.push(b' ');
        payload.extend_from_slice(self.key);
        encode(&payload)
    }
}

/// One socketmap reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `OK <data>`: the lookup result (the rewritten address).
    Ok(Vec<u8>),
    /// `NOTFOUND <reason>`: no result; Postfix leaves the address alone.
    NotFound(String),
    /// `TEMP <reason>`: temporary failure; Postfix defers.
    Temp(String),
    /// `TIMEOUT <reason>`: the server timed out; Postfix defers.
    Timeout(String),
    /// `PERM <reason>`: permanent failure (bad request, unsupported key).
    Perm(String),
}

impl Reply {
    /// postsrsd's answer to an undecodable request (`PERM Invalid query.`).
    pub fn invalid_query() -> Self {
        Reply::Perm("Invalid query.".to_owned())
    }

    /// The reply payload (`OK data`, `NOTFOUND reason`, ...), without netstring framing.
    pub fn to_payload(&self) -> Vec<u8> {
        let (word, text): (&str, &[u8]) = match self {
            Reply::Ok(data) => ("OK", data),
            Reply::NotFound(r) => ("NOTFOUND", r.as_bytes()),
            Reply::Temp(r) => ("TEMP", r.as_bytes()),
            Reply::Timeout(r) => ("TIMEOUT", r.as_bytes()),
            Reply::Perm(r) => ("PERM", r.as_bytes()),
        };
        let mut out = Vec::with_capacity(text.len().saturating_add(word.len() + 1));
        out.extend_from_slice(word.as_bytes());
        out.push(b' ');
        out.extend_from_slice(text);
        out
    }

    /// The reply as a netstring, ready to write.
    pub fn encode(&self) -> Vec<u8> {
        encode(&self.to_payload())
    }

    /// Parses a reply payload (for clients and tests); a bare `NOTFOUND` is accepted.
    pub fn parse(payload: &[u8]) -> Result<Self, SrsError> {
        let (word, rest) = match payload.iter().position(|&b| b == b' ') {
            Some(sp) => (payload.get(..sp), payload.get(sp + 1..)),
            None => (Some(payload), Some(&b""[..])),
        };
        let (word, rest) = word.zip(rest).ok_or(SrsError::SocketmapReply)?;
        let text = || String::from_utf8_lossy(rest).into_owned();
        match word {
            b"OK" => Ok(Reply::Ok(rest.to_vec())),
            b"NOTFOUND" => Ok(Reply::NotFound(text())),
            b"TEMP" => Ok(Reply::Temp(text())),
            b"TIMEOUT" => Ok(Reply::Timeout(text())),
            b"PERM" => Ok(Reply::Perm(text())),
            _ => Err(SrsError::SocketmapReply),
        }
    }
}

/// Limits of [`handle_request`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandlerOptions {
    /// Longest key answered; longer ones get `PERM Too big.` (postsrsd: 512).
    pub max_key_len: usize,
}

impl Default for HandlerOptions {
    fn default() -> Self {
        HandlerOptions {
            max_key_len: POSTSRSD_MAX_KEY_LEN,
        }
    }
}

/// Answers one decoded socketmap request as postsrsd 2 does, in Postfix's external address
/// form: a quoted local part in the key is unquoted before SRS (RFC 5321 §4.1.2) and an
/// answer whose local part needs quotes gets them (postsrsd keeps the quotes inside the SRS
/// address, which Postfix then reads as another address).
///
/// - `forward <addr>`: `OK <SRS address>`; `NOTFOUND No domain.` without `@`;
///   `NOTFOUND Need not rewrite local domain.` when the domain is local (`is_local`, plus our
///   SRS domain; skipped under `always_rewrite`); `NOTFOUND <reason>` for a malformed SRS1.
/// - `reverse <addr>`: `OK <original>`; `NOTFOUND Not an SRS address.`, `NOTFOUND Hash
///   invalid in SRS address.`, `NOTFOUND Time stamp out of date.`, `NOTFOUND No ... in SRS0
///   address.`; `PERM No database for alias.` for a database-mode address.
/// - any other map: `PERM Invalid map.`; a key over `max_key_len`: `PERM Too big.`; an empty
///   request: `PERM Invalid query.`.
///
/// `is_local` receives the domain after the last `@` (it is not called for non-UTF-8 domains,
/// which are never local).
pub fn handle_request(
    srs: &Srs,
    is_local: &dyn Fn(&str) -> bool,
    options: &HandlerOptions,
    request: &[u8],
) -> Reply {
    let Ok(req) = Request::parse(request) else {
        return Reply::invalid_query();
    };
    let key = internal_form(req.key);
    // a key at a local domain needs no rewriting whatever its length: Postfix asks again
    // with the SRS address it was given, and `PERM` defers the message
    if req.name == b"forward" && is_local_key(srs, is_local, &key) {
        return Reply::NotFound("Need not rewrite local domain.".to_owned());
    }
    // postsrsd measures the key on the whole payload, before any NUL; an address to
    // reverse may be one we made from a key as long as the bound, SRS wrapping added
    let limit = match req.name {
        b"reverse" => options.max_key_len + srs.wrapping_len(),
        _ => options.max_key_len,
    };
    if key_len(request) > limit {
        return Reply::Perm("Too big.".to_owned());
    }
    match req.name {
        b"forward" => forward(srs, &key),
        b"reverse" => match srs.reverse_bytes(&key) {
            Ok(original) => Reply::Ok(external_form(original)),
            Err(e @ SrsError::DatabaseAlias) => Reply::Perm(e.to_string()),
            Err(e) => Reply::NotFound(e.to_string()),
        },
        _ => Reply::Perm("Invalid map.".to_owned()),
    }
}

/// Whether `forward` leaves `key` alone for its domain: a local domain or our SRS domain
/// (unless `always_rewrite`).
fn is_local_key(srs: &Srs, is_local: &dyn Fn(&str) -> bool, key: &[u8]) -> bool {
    if srs.config().always_rewrite {
        return false;
    }
    key.iter()
        .rposition(|&b| b == b'@')
        .and_then(|at| key.get(at + 1..))
        .and_then(|domain| std::str::from_utf8(domain).ok())
        .is_some_and(|d| is_local(d) || srs.is_srs_domain(d))
}

/// The `forward` map, for a key not at a local domain.
fn forward(srs: &Srs, key: &[u8]) -> Reply {
    match srs.forward_bytes(key, srs.srs_domain().as_bytes()) {
        Ok(Forwarded::Rewritten(address)) => Reply::Ok(external_form(address)),
        Ok(Forwarded::NotRewritten(why)) => Reply::NotFound(why.to_string()),
        Err(e) => Reply::NotFound(e.to_string()),
    }
}

/// The internal form of a key: Postfix (3.5 and later) asks canonical maps with the address
/// in its external form (`cleanup_map11_external`, `MA_FORM_EXTERNAL`), a local part that is
/// no Dot-string quoted (RFC 5321 §4.1.2); SRS works on the address itself, as the milter
/// does. A key that is not UTF-8 is taken as it is.
fn internal_form(key: &[u8]) -> Cow<'_, [u8]> {
    match std::str::from_utf8(key).map(unquote) {
        Ok(Cow::Owned(unquoted)) => Cow::Owned(unquoted.into_bytes()),
        Ok(Cow::Borrowed(_)) | Err(_) => Cow::Borrowed(key),
    }
}

/// The external form of an answer (RFC 5321 §4.1.2), which Postfix reads the result in: a
/// local part that is no Dot-string quoted, or Postfix parses another address out of it.
fn external_form(address: Vec<u8>) -> Vec<u8> {
    match String::from_utf8(address) {
        Ok(text) => match quote(&text) {
            Cow::Owned(quoted) => quoted.into_bytes(),
            Cow::Borrowed(_) => text.into_bytes(),
        },
        Err(e) => e.into_bytes(),
    }
}

/// Length of the key part of a raw request payload: bytes after the name and its space.
fn key_len(request: &[u8]) -> usize {
    let start = request
        .iter()
        .position(|&b| b != b' ')
        .unwrap_or(request.len());
    let rest = request.get(start..).unwrap_or_default();
    match rest.iter().position(|&b| b == b' ') {
        Some(sp) => rest.len().saturating_sub(sp + 1),
        None => 0,
    }
}
