//! The tag=value list shared by DKIM-Signature and key records (RFC 6376 §3.2).

use std::collections::HashSet;

use crate::error::TagError;

/// One `tag=value` pair; the value has surrounding folding whitespace removed (RFC 6376 §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tag<'a> {
    /// The tag name (case-sensitive, RFC 6376 §3.2).
    pub name: &'a str,
    /// The value as it appears, without leading and trailing FWS; inner FWS kept.
    pub value: &'a [u8],
}

/// Parses a tag-list (RFC 6376 §3.2). Tolerant of folding whitespace anywhere it is allowed and
/// of an empty spec (`;;`, trailing `;`); strict on names and duplicates.
pub fn parse_tag_list(input: &[u8]) -> Result<Vec<Tag<'_>>, TagError> {
    // a DKIM-Signature has about a dozen tags: one allocation, not four
    let mut tags: Vec<Tag<'_>> = Vec::with_capacity(16);
    // the names seen, once the list is longer than a scan should cover: a crafted list of
    // thousands of unknown tags (which must be accepted and ignored) stays linear
    let mut names: Option<HashSet<&str>> = None;
    for spec in input.split(|&b| b == b';') {
        let spec = trim_fws(spec);
        if spec.is_empty() {
            continue;
        }
        let eq = spec
            .iter()
            .position(|&b| b == b'=')
            .ok_or_else(|| TagError::MissingEquals(lossy(spec)))?;
        let (raw_name, rest) = spec.split_at(eq);
        let name_bytes = trim_fws(raw_name);
        let value = trim_fws(rest.get(1..).unwrap_or(&[]));
        if !is_tag_name(name_bytes) {
            return Err(TagError::BadName(lossy(name_bytes)));
        }
        // is_tag_name guarantees ASCII.
        let name =
            std::str::from_utf8(name_bytes).map_err(|_| TagError::BadName(lossy(name_bytes)))?;
        let duplicate = if tags.len() < SCANNED_TAGS {
            tags.iter().any(|t| t.name == name)
        } else {
            !names
                .get_or_insert_with(|| tags.iter().map(|t| t.name).collect())
                .insert(name)
        };
        if duplicate {
            return Err(TagError::Duplicate(name.to_string()));
        }
        tags.push(Tag { name, value });
    }
    Ok(tags)
}

/// Up to this many tags, a duplicate name is found by scanning the tags before it; past it,
/// through a set (RFC 6376 §3.2: a duplicate makes the whole list invalid).
const SCANNED_TAGS: usize = 32;

/// `tag-name = ALPHA *ALNUMPUNC` (RFC 6376 §3.2).
fn is_tag_name(name: &[u8]) -> bool {
    match name.split_first() {
        Some((first, rest)) => {
            first.is_ascii_alphabetic()
                && rest.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
        }
        None => false,
    }
}

/// Is `b` folding whitespace (SP, HTAB, CR, LF; RFC 5322 §3.2.2 FWS)?
pub(crate) fn is_fws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Strips FWS at both ends.
pub(crate) fn trim_fws(mut s: &[u8]) -> &[u8] {
    while let Some((&f, rest)) = s.split_first() {
        if !is_fws(f) {
            break;
        }
        s = rest;
    }
    while let Some((&l, rest)) = s.split_last() {
        if !is_fws(l) {
            break;
        }
        s = rest;
    }
    s
}

/// Removes all FWS (for base64 values, RFC 6376 §3.5 `b=`, `bh=`, §3.6.1 `p=`).
pub(crate) fn strip_fws(s: &[u8]) -> Vec<u8> {
    // sized once, copied in runs between the folds (a `b=` value is ~350 bytes, a few folds)
    let mut out = Vec::with_capacity(s.len());
    let mut rest = s;
    while !rest.is_empty() {
        let run = rest.iter().position(|&b| is_fws(b)).unwrap_or(rest.len());
        let Some((content, after)) = rest.split_at_checked(run) else {
            break;
        };
        out.extend_from_slice(content);
        let fws = after
            .iter()
            .position(|&b| !is_fws(b))
            .unwrap_or(after.len());
        rest = after.get(fws..).unwrap_or_default();
    }
    out
}

/// Lossy text for error messages, truncated to keep reasons short.
pub(crate) fn lossy(s: &[u8]) -> String {
    let cut = s.get(..64).unwrap_or(s);
    String::from_utf8_lossy(cut).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strip_fws_removes_every_fold_and_keeps_the_rest() {
        assert_eq!(strip_fws(b""), b"");
        assert_eq!(strip_fws(b" \t\r\n"), b"");
        assert_eq!(strip_fws(b"abc"), b"abc");
        assert_eq!(strip_fws(b" ab\r\n\tcd \r\n e\t"), b"abcde");
        assert_eq!(strip_fws(b"a\rb\nc"), b"abc");
    }

    #[test]
    fn parses_with_fws() {
        let t = parse_tag_list(b" v = 1 ;a=rsa-sha256;\r\n\tb=ab\r\n cd ; ").unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(t[0].name, "v");
        assert_eq!(t[0].value, b"1");
        assert_eq!(t[2].value, b"ab\r\n cd");
    }

    #[test]
    fn empty_value_and_empty_specs() {
        let t = parse_tag_list(b"p=;;k=rsa;").unwrap();
        assert_eq!(t[0].value, b"");
        assert_eq!(t[1].name, "k");
    }

    #[test]
    fn errors() {
        assert_eq!(
            parse_tag_list(b"a=1; a=2"),
            Err(TagError::Duplicate("a".into()))
        );
        assert!(matches!(
            parse_tag_list(b"k=rsa; t; p=x"),
            Err(TagError::MissingEquals(_))
        ));
        assert!(matches!(parse_tag_list(b"1a=x"), Err(TagError::BadName(_))));
        assert!(matches!(parse_tag_list(b"=x"), Err(TagError::BadName(_))));
    }

    /// Long lists (unknown tags are legal and ignored): every duplicate is still found,
    /// whether its first occurrence came before the scanned prefix ended or after.
    #[test]
    fn long_lists_and_their_duplicates() {
        let list: String = (0..20_000).map(|i| format!("x{i}=1;")).collect();
        assert_eq!(parse_tag_list(list.as_bytes()).unwrap().len(), 20_000);
        for (first, again) in [
            (0, 31),
            (3, 32),
            (5, 40),
            (31, 33),
            (32, 19_999),
            (500, 19_999),
        ] {
            let with = format!("{list}x{first}=2");
            let err = parse_tag_list(with.as_bytes()).unwrap_err();
            assert_eq!(err, TagError::Duplicate(format!("x{first}")), "{first}");
            let short: String = (0..=again).map(|i| format!("x{i}=1;")).collect();
            let with = format!("{short}x{first}=2");
            assert_eq!(
                parse_tag_list(with.as_bytes()).unwrap_err(),
                TagError::Duplicate(format!("x{first}")),
                "{first} after {again}"
            );
        }
    }

    #[test]
    fn case_sensitive_names() {
        let t = parse_tag_list(b"a=1; A=2").unwrap();
        assert_eq!(t.len(), 2);
    }
}
