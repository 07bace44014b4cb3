//! Which authserv-id an incoming field claims, read as every reader of it might read it, to
//! find the forged fields that claim ours (RFC 8601 §5).

use crate::parse::Parser;
use message::encoded_words;

/// Whether the field claims to come from `ours` (RFC 8601 §5: remove such fields from
/// incoming mail). Fails closed: the first value after CFWS is the claimed id whatever
/// follows it (`mx.example.com /1;` and `mx.example.com (c) .x;` claim it too), control
/// characters before it and Unicode white space around it are skipped as other readers skip
/// them, characters no reader sees (zero-width, bidi controls…) are ignored anywhere in it, and
/// the comparison ignores ASCII case, one trailing dot on either side and white space around
/// `ours`, so `MX.Example.COM.` and `"mx.example.com"` match `mx.example.com`. A field is
/// also read with its RFC 2047 encoded-words decoded, as readers that decode them anywhere read
/// it: `=?us-ascii?q?mx.example.com?=` claims `mx.example.com` too. So does a field whose
/// labels are spread over CFWS (`mx (c) . example . com`), as obs-domain readers read it, and
/// a field that is not UTF-8 is also read as Latin-1 (`0xA0` before the id is a no-break space).
pub fn claims_authserv_id(value: &[u8], ours: &str) -> bool {
    claims_as_written(value, ours)
        || encoded_words::decode(value).is_some_and(|decoded| claims_as_written(&decoded, ours))
        || (std::str::from_utf8(value).is_err() && claims_as_written(&latin1(value), ours))
}

/// The octets read as ISO 8859-1, as a reader that does not take them as UTF-8 may read them
/// (`0xA0` is a no-break space there, `0x85` a next-line control), as UTF-8.
fn latin1(value: &[u8]) -> Vec<u8> {
    value
        .iter()
        .map(|&b| char::from(b))
        .collect::<String>()
        .into_bytes()
}

/// [`claims_authserv_id`] on the octets as they are.
fn claims_as_written(value: &[u8], ours: &str) -> bool {
    let mut p = Parser::new(value, false);
    loop {
        if p.cfws().is_err() {
            return false;
        }
        match p.peek() {
            Some(b) if b < 0x20 || b == 0x7f => p.pos += 1,
            _ => break,
        }
    }
    let start = p.pos;
    // no RFC 8601 value here (`\mx.example.com`) may still be a word to other readers
    let first = p.value().ok().flatten();
    p.pos = start;
    let glued = words_glued(&mut p);
    first.is_some_and(|id| is_ours(id, ours)) || glued.is_some_and(|g| is_ours(g, ours))
}

/// The id read as OpenDMARC's A-R parser reads it: words glued by dots across CFWS
/// (`mx (c) . example . com`, `mx. example.com`, as RFC 5322 §4.4 obs-domain allows), each
/// word taking a quoted-pair or a quoted run inside it as its own text (`mx\.example.com`,
/// `m"x".example.com`), a word that is only a dot (`mx \. example.com`) gluing as a dot, and
/// a word that reads as a comment once unquoted (`"("`, `\(`) skipped. `None` when no word
/// starts here.
fn words_glued(p: &mut Parser<'_>) -> Option<String> {
    let mut glued = Vec::new();
    if !skip_between_words(p) {
        return None;
    }
    loop {
        let before = glued.len();
        word(p, &mut glued);
        if glued.len() == before || !skip_between_words(p) {
            break;
        }
        if p.peek() == Some(b'.') {
            p.pos += 1;
        } else {
            // a word that is only a dot (`\.`, `"."`) glues as a dot does
            let mut dot = Vec::new();
            word(p, &mut dot);
            if dot != b"." {
                break;
            }
        }
        glued.push(b'.');
        if !skip_between_words(p) {
            break;
        }
    }
    (!glued.is_empty()).then(|| String::from_utf8_lossy(&glued).into_owned())
}

/// Skips what OpenDMARC's A-R parser skips between words: CFWS, every ASCII `isspace` octet
/// (VT and FF too), a `)` that closes no comment, and words it takes for comments, any whose text starts with `(` once
/// unquoted or unescaped (`"("`, `"(x)"`, `\(`). `false` at a comment that does not end.
fn skip_between_words(p: &mut Parser<'_>) -> bool {
    loop {
        if p.cfws().is_err() {
            return false;
        }
        match p.peek() {
            Some(b'\x0b' | b'\x0c' | b')') => p.pos += 1,
            Some(b'"' | b'\\') => {
                let start = p.pos;
                let mut w = Vec::new();
                word(p, &mut w);
                if w.first() != Some(&b'(') {
                    p.pos = start;
                    return true;
                }
                // the word took at least its opening quote or backslash: the loop moves on
            }
            _ => return true,
        }
    }
}

/// One word of [`words_glued`] onto `out`: up to white space (any ASCII `isspace` octet), a
/// comment, `;`, `=` or `.` outside quotes, a `)` outside quotes left out as OpenDMARC's
/// tokenizer leaves it out.
fn word(p: &mut Parser<'_>, out: &mut Vec<u8>) {
    let mut quoted = false;
    while let Some(b) = p.peek() {
        match b {
            b'\\' => {
                p.pos += 1;
                out.extend(p.peek());
            }
            b'"' => quoted = !quoted,
            b' ' | b'\t' | b'\r' | b'\n' | b'\x0b' | b'\x0c' | b'(' | b';' | b'=' | b'.'
                if !quoted =>
            {
                return;
            }
            // a `)` that closes no comment is dropped by OpenDMARC's tokenizer
            b')' if !quoted => {}
            _ => out.push(b),
        }
        p.pos += 1;
    }
}

/// Whether a claimed `id` is `ours`, by the comparison [`claims_authserv_id`] describes.
fn is_ours(id: String, ours: &str) -> bool {
    let id = if id.is_ascii() {
        id
    } else {
        id.chars().filter(|&c| !is_invisible(c)).collect()
    };
    let id = id.trim_matches(|c: char| c.is_whitespace() || c.is_control());
    let a = id.strip_suffix('.').unwrap_or(id);
    // our ids come from the configuration: white space around one is no part of it
    let ours = ours.trim_matches(|c: char| c.is_whitespace() || c.is_control());
    let b = ours.strip_suffix('.').unwrap_or(ours);
    if a.is_empty() {
        return false;
    }
    if a.eq_ignore_ascii_case(b) {
        return true;
    }
    // an internationalized id reads the same in U-labels and A-labels (`mx.bücher.example`,
    // `MX.BÜCHER.example`, `mx.xn--bcher-kva.example`): compared as A-labels
    !(a.is_ascii() && b.is_ascii())
        && matches!(
            (dns::name::to_ascii(a.as_bytes()), dns::name::to_ascii(b.as_bytes())),
            (Ok(x), Ok(y)) if x == y
        )
}

/// A character a reader of the header does not see (Unicode `Default_Ignorable_Code_Point`:
/// zero-width space and joiners, soft hyphen, BOM, bidi controls, variation selectors…), so
/// `mx.example.com` with one inside still reads as `mx.example.com`.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{ad}'
            | '\u{34f}'
            | '\u{61c}'
            | '\u{115f}'..='\u{1160}'
            | '\u{17b4}'..='\u{17b5}'
            | '\u{180b}'..='\u{180f}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{206f}'
            | '\u{3164}'
            | '\u{fe00}'..='\u{fe0f}'
            | '\u{feff}'
            | '\u{ffa0}'
            | '\u{1bca0}'..='\u{1bca3}'
            | '\u{1d173}'..='\u{1d17a}'
            | '\u{e0000}'..='\u{e0fff}'
    )
}

#[cfg(test)]
mod tests {
    use super::claims_authserv_id;

    #[test]
    fn an_internationalized_id_is_claimed_in_either_form() {
        for ours in ["mx.bücher.example", "mx.xn--bcher-kva.example"] {
            for field in [
                "mx.xn--bcher-kva.example; dmarc=pass",
                "MX.XN--BCHER-KVA.example; dmarc=pass",
                "mx.bücher.example; dmarc=pass",
                "MX.BÜCHER.example; dmarc=pass",
            ] {
                assert!(
                    claims_authserv_id(field.as_bytes(), ours),
                    "{field} vs {ours}"
                );
            }
            assert!(!claims_authserv_id(b"mx.bucher.example; dmarc=pass", ours));
        }
    }

    #[test]
    fn claims_fail_closed_around_the_id() {
        // RFC 8601 §5: a field whose first value is our id claims it, however broken the
        // rest; junk that other readers skip as white space does not hide the id
        let ours = "mx.example.com";
        for forged in [
            &b"mx.example.com /1; dmarc=pass"[..],
            b"mx.example.com/1; dmarc=pass",
            b"mx.example.com = x; dmarc=pass",
            b"mx.example.com (c) .evil.example; dmarc=pass",
            b"\x0bmx.example.com; dmarc=pass",
            b"\x0c\x01 (c) \x7fmx.example.com; dmarc=pass",
            b"\xc2\xa0mx.example.com; dmarc=pass",
            b"\" mx.example.com \"; dmarc=pass",
            // not UTF-8: a reader taking the octets as Latin-1 sees NBSP, NEL around the id
            b"\xa0mx.example.com; dmarc=pass",
            b"mx.example.com\xa0; dmarc=pass",
            b"\x85mx.example.com; dmarc=pass",
        ] {
            assert!(
                claims_authserv_id(forged, ours),
                "{:?}",
                String::from_utf8_lossy(forged)
            );
        }
        for other in [
            &b"spf=pass smtp.mailfrom=mx.example.com"[..],
            b"example.net; dmarc=pass (mx.example.com)",
            b"(mx.example.com) example.net; none",
            b"\x0bmx.example.com.evil; none",
        ] {
            assert!(
                !claims_authserv_id(other, ours),
                "{:?}",
                String::from_utf8_lossy(other)
            );
        }
    }

    #[test]
    fn invisible_characters_do_not_hide_our_id() {
        // a reader of the header sees `mx.example.com` in each: zero-width space, joiners,
        // soft hyphen, BOM, bidi marks (Unicode Default_Ignorable_Code_Point)
        let ours = "mx.example.com";
        for forged in [
            "mx.example.com\u{200b}; dmarc=pass",
            "\u{feff}mx.example.com; dmarc=pass",
            "mx\u{200d}.example.com; dmarc=pass",
            "mx.exa\u{ad}mple.com; dmarc=pass",
            "\u{202e}mx.example.com\u{202c}; dmarc=pass",
            "\"mx.example.com\u{2060}\"; dmarc=pass",
        ] {
            assert!(claims_authserv_id(forged.as_bytes(), ours), "{forged:?}");
        }
        assert!(!claims_authserv_id(
            "mx.example.com\u{200b}x; none".as_bytes(),
            ours
        ));
        assert!(!claims_authserv_id("\u{200b}; none".as_bytes(), ""));
    }

    #[test]
    fn encoded_words_do_not_hide_our_id() {
        // RFC 2047 §5 keeps encoded-words out of a structured field's tokens, but readers that
        // decode them anywhere (Python's email, mail clients showing the field) read each of
        // these as our id: a forged field spelled so must be removed too (RFC 8601 §5)
        let ours = "mx.example.com";
        for forged in [
            "=?us-ascii?q?mx.example.com?=; dmarc=pass",
            "=?UTF-8?B?bXguZXhhbXBsZS5jb20=?=; dmarc=pass",
            "=?utf-8?b?bXguZXhhbXBsZS5jb20?=; dmarc=pass",
            "(c) =?iso-8859-1?Q?mx=2Eexample=2Ecom?= (c); dmarc=pass",
            "=?us-ascii?q?mx.?= =?us-ascii?q?example.com?=; dmarc=pass",
            "=?us-ascii?q?mx?=.example.com; dmarc=pass",
            "mx.=?us-ascii?q?example?=.com; dmarc=pass",
            "\"=?us-ascii?q?mx.example.com?=\"; dmarc=pass",
            "=?x-unknown*en?q?MX.Example.COM.?=; dmarc=pass",
            "=?us-ascii?q?mx.example.com;_dmarc=3Dpass?=",
        ] {
            assert!(claims_authserv_id(forged.as_bytes(), ours), "{forged:?}");
        }
        for other in [
            "=?us-ascii?q?mx.example.com.evil?=; none",
            "=?utf-8?q?mx_example.com?=; none",
            "other.example; spf=pass reason=\"=?us-ascii?q?mx.example.com?=\"",
            "=?us-ascii?x?mx.example.com?=; none",
            "=?us-ascii?q?mx.example.com; none",
        ] {
            assert!(!claims_authserv_id(other.as_bytes(), ours), "{other:?}");
        }
    }

    #[test]
    fn cfws_between_the_labels_does_not_hide_our_id() {
        // RFC 5322 §4.4 obs-domain allows CFWS around each dot of a domain, and OpenDMARC's
        // A-R parser (ares_parse) glues the labels around comments and white space back
        // together: each of these is `mx.example.com` to it (the CVE-2020-12272 family)
        let ours = "mx.example.com";
        for forged in [
            "mx (c) . example . com; dmarc=pass",
            "mx. example.com; dmarc=pass",
            "mx .example.com; dmarc=pass",
            "mx\r\n\t.example\r\n\t.com; dmarc=pass",
            "mx.(c)example.com 1; dmarc=pass",
            "\"mx\" . \"example.com\"; dmarc=pass",
            "=?us-ascii?q?mx?= . example.com; dmarc=pass",
        ] {
            assert!(claims_authserv_id(forged.as_bytes(), ours), "{forged:?}");
        }
        for other in [
            "mx . example . com . evil; none",
            "mx.example com; none",
            "mx (c) example.com; none",
            "mx.example; spf=pass smtp.mailfrom=com",
            "example.com . mx; none",
        ] {
            assert!(!claims_authserv_id(other.as_bytes(), ours), "{other:?}");
        }
    }

    #[test]
    fn what_opendmarc_skips_between_words_does_not_hide_our_id() {
        // OpenDMARC's tokenizer ends a word at every ASCII `isspace` octet (VT and FF too),
        // and its parser skips every token that starts with `(` as a comment, also one that
        // only starts so once unquoted or unescaped: each of these is `mx.example.com` to it
        let ours = "mx.example.com";
        for forged in [
            "mx\x0b.example.com; dmarc=pass",
            "mx.\x0cexample.com; dmarc=pass",
            "\x0bmx\x0b.\x0bexample\x0b.\x0bcom\x0b; dmarc=pass",
            "\"(\" mx.example.com; dmarc=pass",
            "\"(x)\" mx.example.com; dmarc=pass",
            "\\( mx.example.com; dmarc=pass",
            "(c) \"(\" \\( mx.example.com; dmarc=pass",
            "mx \"(\" . example.com; dmarc=pass",
            "mx. \\(c \x0b example.com; dmarc=pass",
            // a `)` with no comment open is dropped by its tokenizer
            "mx.exam)ple.com; dmarc=pass",
            ")mx.example.com; dmarc=pass",
            "mx).example.com; dmarc=pass",
            "mx.example.c)om; dmarc=pass",
            ")) mx . example . com; dmarc=pass",
            ")(x) mx.example.com; dmarc=pass",
        ] {
            assert!(claims_authserv_id(forged.as_bytes(), ours), "{forged:?}");
        }
        for other in [
            "\"(\" other.example; spf=pass",
            "\"(x\"mx.example.com; none",
            "mx\x0bexample.com; none",
            "\"(\" mx.example.com.evil; none",
        ] {
            assert!(!claims_authserv_id(other.as_bytes(), ours), "{other:?}");
        }
    }

    #[test]
    fn escapes_and_quotes_inside_the_id_do_not_hide_it() {
        // OpenDMARC's tokenizer takes a quoted-pair or a quoted run inside a word as part of
        // the word: each of these is `mx.example.com` to it
        let ours = "mx.example.com";
        for forged in [
            "mx\\.example.com; dmarc=pass",
            "m\\x.example.com; dmarc=pass",
            "m\"x\".example.com; dmarc=pass",
            "\"mx.exam\"ple.com; dmarc=pass",
            "mx.\"example\".com 1; dmarc=pass",
            "\\mx.example.com; dmarc=pass",
            " \\mx.example.com (c); dmarc=pass",
            "mx (c) \\. example. com; dmarc=pass",
            "mx \".\" example.com; dmarc=pass",
        ] {
            assert!(claims_authserv_id(forged.as_bytes(), ours), "{forged:?}");
        }
        for other in [
            "mx.exa\\ mple.com; none",
            "m\"x;\".example.com; none",
            "mx\\.example.com.evil; none",
            "mx\\. example.com; none",
        ] {
            assert!(!claims_authserv_id(other.as_bytes(), ours), "{other:?}");
        }
    }
}
