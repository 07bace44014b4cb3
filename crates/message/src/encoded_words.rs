//! RFC 2047 encoded-words, decoded as the readers that decode them anywhere read them
//! (Python's `email`, mail clients showing a field or an attachment's name): to find a forged
//! authserv-id written as one (RFC 8601 §5), and to read a report attachment's file name.

/// `value` with every RFC 2047 §2 encoded-word (`=?charset?B|Q?text?=`) replaced by its
/// decoded octets and the white space between two adjacent ones dropped (RFC 2047 §6.2);
/// `None` when it has none. As lenient as those readers: a language tag (RFC 2231 §5), any
/// charset name, white space inside the text, bad Base64 or `=XX`, all decode. One pass: an
/// encoded-word's text ends at the first `?=`, and without one no later word can end.
pub fn decode(value: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(value.len());
    let mut decoded_any = false;
    // where the last decoded word ended, in `value` and in `out`
    let mut last_word: Option<(usize, usize)> = None;
    let mut pos = 0;
    while pos < value.len() {
        let rest = value.get(pos..).unwrap_or_default();
        if !rest.starts_with(b"=?") {
            out.extend(rest.first());
            pos += 1;
            continue;
        }
        match word_at(value, pos) {
            Word::Decoded { bytes, end } => {
                if let Some((raw_end, out_end)) = last_word {
                    let between = value.get(raw_end..pos).unwrap_or_default();
                    if between
                        .iter()
                        .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
                    {
                        out.truncate(out_end);
                    }
                }
                out.extend_from_slice(&bytes);
                decoded_any = true;
                last_word = Some((end, out.len()));
                pos = end;
            }
            Word::NotHere { skip } => {
                let end = pos.saturating_add(skip.max(1)).min(value.len());
                out.extend_from_slice(value.get(pos..end).unwrap_or_default());
                pos = end;
            }
            Word::NoMoreEnds => {
                out.extend_from_slice(rest);
                break;
            }
        }
    }
    decoded_any.then_some(out)
}

/// What starts at a `=?`.
enum Word {
    /// An encoded-word ending at `end` (after its `?=`).
    Decoded { bytes: Vec<u8>, end: usize },
    /// None: copy `skip` bytes and look again (no `=?` starts inside them).
    NotHere { skip: usize },
    /// No `?=` follows: no encoded-word can end anywhere after.
    NoMoreEnds,
}

/// The encoded-word at `start` (which holds `=?`).
fn word_at(value: &[u8], start: usize) -> Word {
    let after = start.saturating_add(2);
    let tail = value.get(after..).unwrap_or_default();
    // the charset (and language): up to `?`, no white space or controls
    let Some(charset_len) = tail
        .iter()
        .position(|&b| b == b'?' || b <= b' ' || b == 0x7f)
    else {
        return Word::NotHere { skip: value.len() };
    };
    let charset = tail.get(..charset_len).unwrap_or_default();
    if charset.is_empty() || tail.get(charset_len) != Some(&b'?') {
        // a `=?` cannot start inside the charset run: it holds no `?`
        return Word::NotHere {
            skip: 2 + charset_len,
        };
    }
    let encoding = tail.get(charset_len + 1).map(u8::to_ascii_lowercase);
    if !matches!(encoding, Some(b'b' | b'q')) || tail.get(charset_len + 2) != Some(&b'?') {
        return Word::NotHere { skip: 2 };
    }
    let text_start = after + charset_len + 3;
    let text = value.get(text_start..).unwrap_or_default();
    let Some(text_len) = text.windows(2).position(|w| w == b"?=") else {
        return Word::NoMoreEnds;
    };
    let text = text.get(..text_len).unwrap_or_default();
    let octets = if encoding == Some(b'b') {
        base64(text)
    } else {
        quoted_printable(text)
    };
    Word::Decoded {
        bytes: in_utf8(charset, octets),
        end: text_start + text_len + 2,
    }
}

/// RFC 2047 §4.1 "B": Base64, skipping what is not of its alphabet, padding optional.
fn base64(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in text {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => continue,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

/// RFC 2047 §4.2 "Q": `_` is a space, `=XX` an octet; a bad `=` stays as it is.
fn quoted_printable(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while let Some(&b) = text.get(i) {
        let hex = |at: usize| text.get(at).and_then(|&h| (h as char).to_digit(16));
        match (b, hex(i + 1), hex(i + 2)) {
            (b'=', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
            (b'_', _, _) => out.push(b' '),
            _ => out.push(b),
        }
        i += 1;
    }
    out
}

/// The decoded octets as UTF-8: a Latin charset's high octets become their code points (a
/// Latin-1 soft hyphen is one a reader does not see); other charsets are kept as octets.
fn in_utf8(charset: &[u8], octets: Vec<u8>) -> Vec<u8> {
    let name = String::from_utf8_lossy(charset).to_ascii_lowercase();
    let latin = ["iso-8859-", "iso8859-", "latin", "windows-125", "cp125"]
        .iter()
        .any(|p| name.starts_with(p));
    if !latin || octets.is_ascii() {
        return octets;
    }
    octets
        .iter()
        .map(|&b| char::from(b))
        .collect::<String>()
        .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::decode;

    fn decoded(v: &str) -> Option<String> {
        decode(v.as_bytes()).map(|d| String::from_utf8_lossy(&d).into_owned())
    }

    #[test]
    fn decodes_as_readers_do() {
        assert_eq!(
            decoded("a =?utf-8?q?b_c=3D?= d").as_deref(),
            Some("a b c= d")
        );
        assert_eq!(decoded("=?us-ascii?B?bXg=?=").as_deref(), Some("mx"));
        assert_eq!(decoded("=?us-ascii?B?bXg?=").as_deref(), Some("mx"));
        // adjacent words join; white space before plain text stays
        assert_eq!(
            decoded("=?a?q?x?= \r\n\t=?a?q?y?= z").as_deref(),
            Some("xy z")
        );
        assert_eq!(decoded("=?latin1?q?a=ADb?=").as_deref(), Some("a\u{ad}b"));
        assert_eq!(decoded("=?a?q?bad=Z?=").as_deref(), Some("bad=Z"));
        for none in [
            "plain",
            "=?",
            "=?a?x?b?=",
            "=? a?q?b?=",
            "=?a?q?no end",
            "?= =?",
        ] {
            assert_eq!(decoded(none), None, "{none:?}");
        }
    }

    #[test]
    fn one_pass_over_hostile_input() {
        // many starts with no end, and many starts inside one long text, stay linear
        let starts = "=?a?q?x ".repeat(50_000);
        assert!(decode(starts.as_bytes()).is_none());
        let long = format!("{starts}?=");
        assert!(decode(long.as_bytes()).is_some_and(|d| d.len() < long.len()));
        let charsets = "=?aaaa".repeat(50_000);
        assert!(decode(charsets.as_bytes()).is_none());
        let words = "=?a?q?b?=".repeat(50_000);
        assert!(decode(words.as_bytes()).is_some_and(|d| d == vec![b'b'; 50_000]));
    }
}
