//! A message file as Postfix hands it to a milter, for the offline tools that must reach the
//! milter's answer (`eval`, `dkim verify`/`sign`, `arc verify`/`seal`): what its smtpd and
//! cleanup change before any milter sees the message (recorded from Postfix 3.7).

use std::borrow::Cow;

use crate::parse::{Message, parse_message};

/// Header fields Postfix's cleanup removes before a milter sees the header block
/// (`header_opts.c`, `HDR_OPT_DROP`): they are added or used at delivery.
pub const DROPPED_BY_POSTFIX: [&[u8]; 4] =
    [b"Return-Path", b"Bcc", b"Resent-Bcc", b"Content-Length"];

/// Whether Postfix removes the field `name` before the milter sees it ([`DROPPED_BY_POSTFIX`]).
pub fn dropped_by_postfix(name: &[u8]) -> bool {
    DROPPED_BY_POSTFIX
        .iter()
        .any(|d| name.eq_ignore_ascii_case(d))
}

/// `raw` with its CRs as Postfix passes them on: smtpd reads lines up to LF and drops every
/// CR before the line end (`smtp_get`: `a\r\r\n` is the line `a`), and a CR left inside a
/// line reaches the milter as a space. Lines end in CRLF. Borrows when there is no CR.
pub fn postfix_view(raw: &[u8]) -> Cow<'_, [u8]> {
    if memchr::memchr(b'\r', raw).is_none() {
        return Cow::Borrowed(raw);
    }
    let mut out = Vec::with_capacity(raw.len());
    for line in raw.split_inclusive(|&b| b == b'\n') {
        let (text, ended) = match line.strip_suffix(b"\n") {
            Some(t) => (t, true),
            None => (line, false),
        };
        let text = if ended {
            let end = text.iter().rposition(|&b| b != b'\r').map_or(0, |p| p + 1);
            text.get(..end).unwrap_or_default()
        } else {
            text
        };
        out.extend(text.iter().map(|&b| if b == b'\r' { b' ' } else { b }));
        if ended {
            out.extend_from_slice(b"\r\n");
        }
    }
    Cow::Owned(out)
}

/// `raw` parsed as the milter behind Postfix sees it: [`postfix_view`], the fields named as
/// the MTA names them ([`Message::with_milter_names`]), without [`DROPPED_BY_POSTFIX`].
pub fn parse_as_postfix_passes(raw: &[u8]) -> Message {
    let msg = parse_message(&postfix_view(raw)).with_milter_names();
    let kept: Vec<crate::HeaderField> = msg
        .headers
        .fields()
        .iter()
        .filter(|f| !dropped_by_postfix(&f.name))
        .cloned()
        .collect();
    Message {
        headers: crate::Headers::from(kept),
        ..msg
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crs_as_postfix_passes_them() {
        assert!(matches!(postfix_view(b"a\nb\n"), Cow::Borrowed(_)));
        assert_eq!(&*postfix_view(b"a\r\r\nb\rc\r\nd\r"), b"a\r\nb c\r\nd ");
        assert_eq!(&*postfix_view(b"\r\r\r\n"), b"\r\n");
    }

    #[test]
    fn dropped_fields_are_not_passed() {
        let msg = parse_as_postfix_passes(
            b"Return-Path: <a@b>\r\nFrom: a@b\r\nbcc: c@d\r\nContent-Length: 3\r\nTo : e@f\r\n\r\nx\r\n",
        );
        let names: Vec<&[u8]> = msg.headers.fields().iter().map(|f| &f.name[..]).collect();
        assert_eq!(names, [&b"From"[..], b"To"]);
    }
}
