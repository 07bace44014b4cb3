//! The character encoding of a received report (XML 1.0 §4.3.3, Appendix F): UTF-8 (with or
//! without BOM), UTF-16 shown by its byte order mark, and windows-1252 under any of its
//! ISO-8859-1 or windows-1252 labels (WHATWG Encoding: tools write windows-1252 under the
//! ISO-8859-1 name). Anything else must be UTF-8.

use std::borrow::Cow;

use crate::error::ReportsError;

/// windows-1252 0x80–0x9F; the five bytes it leaves undefined stay the C1 controls (WHATWG).
const CP1252_HIGH: [char; 32] = [
    '\u{20AC}', '\u{81}', '\u{201A}', '\u{192}', '\u{201E}', '\u{2026}', '\u{2020}', '\u{2021}',
    '\u{2C6}', '\u{2030}', '\u{160}', '\u{2039}', '\u{152}', '\u{8D}', '\u{17D}', '\u{8F}',
    '\u{90}', '\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}', '\u{2022}', '\u{2013}', '\u{2014}',
    '\u{2DC}', '\u{2122}', '\u{161}', '\u{203A}', '\u{153}', '\u{9D}', '\u{17E}', '\u{178}',
];

/// Labels read as windows-1252 (WHATWG Encoding §4.2, the ones reporters use).
const CP1252_LABELS: &[&str] = &[
    "iso-8859-1",
    "iso8859-1",
    "iso_8859-1",
    "latin1",
    "l1",
    "windows-1252",
    "cp1252",
    "us-ascii",
    "ascii",
];

/// The document as text (XML 1.0 §4.3.3): by its BOM, as UTF-8 when it is UTF-8 whatever it
/// declares (mislabelled reports are common), else in its declared windows-1252 family
/// encoding; otherwise an error naming the declared encoding or the first bad byte. Text
/// converted to UTF-8 may not be longer than `limit` bytes (counted before it is made).
pub(crate) fn decode(xml: &[u8], limit: usize) -> Result<Cow<'_, str>, ReportsError> {
    if let Some(rest) = xml.strip_prefix(b"\xEF\xBB\xBF") {
        return utf8(rest);
    }
    if let Some(rest) = xml.strip_prefix(b"\xFF\xFE") {
        return utf16(rest, u16::from_le_bytes, limit);
    }
    if let Some(rest) = xml.strip_prefix(b"\xFE\xFF") {
        return utf16(rest, u16::from_be_bytes, limit);
    }
    let err = match std::str::from_utf8(xml) {
        Ok(text) => return Ok(Cow::Borrowed(text)),
        Err(e) => e,
    };
    match declared_encoding(xml) {
        Some(label) if CP1252_LABELS.iter().any(|l| l.eq_ignore_ascii_case(&label)) => {
            from_cp1252(xml, limit).map(Cow::Owned)
        }
        Some(label) if !label.to_ascii_lowercase().starts_with("utf") => {
            Err(ReportsError::UnsupportedEncoding(label))
        }
        _ => Err(ReportsError::NotUtf8 {
            offset: err.valid_up_to() as u64,
        }),
    }
}

/// A document carried as `charset` (RFC 7303 §3.2: an XML media type's `charset` names its
/// encoding ahead of the declaration) as UTF-8, when it is not UTF-8 already and the
/// charset is one read here without a BOM (the windows-1252 family) and the text fits in
/// `limit` bytes; `None` otherwise.
pub(crate) fn transcode_labelled(xml: &[u8], charset: &str, limit: usize) -> Option<Vec<u8>> {
    if std::str::from_utf8(xml).is_ok()
        || xml.starts_with(b"\xFF\xFE")
        || xml.starts_with(b"\xFE\xFF")
    {
        return None;
    }
    let charset = charset.trim();
    if !CP1252_LABELS
        .iter()
        .any(|l| l.eq_ignore_ascii_case(charset))
    {
        return None;
    }
    from_cp1252(xml, limit).ok().map(String::into_bytes)
}

/// windows-1252 `xml` as UTF-8, at most `limit` bytes of it (one allocation of the exact size).
fn from_cp1252(xml: &[u8], limit: usize) -> Result<String, ReportsError> {
    let size = xml.iter().map(|&b| cp1252(b).len_utf8()).sum();
    within(size, limit)?;
    let mut text = String::with_capacity(size);
    text.extend(xml.iter().map(|&b| cp1252(b)));
    Ok(text)
}

/// An error when text converted to UTF-8 would take more than `limit` bytes.
fn within(size: usize, limit: usize) -> Result<(), ReportsError> {
    if size > limit {
        return Err(ReportsError::TooLarge {
            what: "XML document converted to UTF-8",
            limit: limit as u64,
        });
    }
    Ok(())
}

fn utf8(xml: &[u8]) -> Result<Cow<'_, str>, ReportsError> {
    std::str::from_utf8(xml)
        .map(Cow::Borrowed)
        .map_err(|e| ReportsError::NotUtf8 {
            offset: e.valid_up_to() as u64,
        })
}

fn utf16(xml: &[u8], unit: fn([u8; 2]) -> u16, limit: usize) -> Result<Cow<'_, str>, ReportsError> {
    let pairs = xml.chunks_exact(2);
    if !pairs.remainder().is_empty() {
        return Err(ReportsError::BadUtf16);
    }
    let chars = || {
        char::decode_utf16(pairs.clone().map(|p| {
            unit([
                p.first().copied().unwrap_or(0),
                p.get(1).copied().unwrap_or(0),
            ])
        }))
    };
    let mut size = 0usize;
    for c in chars() {
        size = size.saturating_add(c.map_err(|_| ReportsError::BadUtf16)?.len_utf8());
    }
    within(size, limit)?;
    let mut text = String::with_capacity(size);
    for c in chars() {
        text.push(c.map_err(|_| ReportsError::BadUtf16)?);
    }
    Ok(Cow::Owned(text))
}

fn cp1252(b: u8) -> char {
    match b {
        0x80..=0x9F => CP1252_HIGH
            .get(usize::from(b - 0x80))
            .copied()
            .unwrap_or(char::REPLACEMENT_CHARACTER),
        _ => char::from(b),
    }
}

/// The `encoding` of the XML declaration at the start of `xml` (XML 1.0 §2.8, §4.3.3).
fn declared_encoding(xml: &[u8]) -> Option<String> {
    let head = xml.get(..xml.len().min(256))?;
    if !head.starts_with(b"<?xml") {
        return None;
    }
    let end = head.windows(2).position(|w| w == b"?>")?;
    let decl = std::str::from_utf8(head.get(..end)?).ok()?;
    let after = decl.split_once("encoding")?.1.trim_start();
    let value = after.strip_prefix('=')?.trim_start();
    let quote = value.chars().next().filter(|&q| q == '"' || q == '\'')?;
    let inner = value.get(1..)?;
    let label = inner.get(..inner.find(quote)?)?;
    let valid = !label.is_empty()
        && label.len() <= 40
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    valid.then(|| label.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declarations() {
        let d = |s: &[u8]| declared_encoding(s);
        assert_eq!(
            d(b"<?xml version='1.0' encoding = 'Latin1'?><a/>").as_deref(),
            Some("Latin1")
        );
        assert_eq!(d(b"<?xml version=\"1.0\"?><a encoding=\"x\"/>"), None);
        assert_eq!(d(b"<?xml version=\"1.0\" encoding=\"a b\"?>"), None);
        assert_eq!(d(b"<a/>"), None);
        assert_eq!(cp1252(0x80), '€');
        assert_eq!(cp1252(0xE9), 'é');
    }

    /// A document's text may not outgrow the document limit when it is converted to UTF-8:
    /// windows-1252's 0x80 is `€`, three bytes, and a UTF-16 unit may become three, so a
    /// 64 MiB document of them cost ~550 MB. The size is counted before anything is allocated.
    #[test]
    fn the_text_converted_to_utf8_stays_within_the_limit() {
        let mut latin = b"<?xml version=\"1.0\" encoding=\"latin1\"?><a>".to_vec();
        latin.extend(std::iter::repeat_n(0x80u8, 1000));
        latin.extend_from_slice(b"</a>");
        let text = decode(&latin, 3100).unwrap();
        assert_eq!(text.len(), latin.len() + 2000);
        assert!(matches!(
            decode(&latin, 2000),
            Err(ReportsError::TooLarge { .. })
        ));
        assert_eq!(transcode_labelled(&latin, "latin1", 2000), None);
        assert!(transcode_labelled(&latin, "latin1", 3100).is_some());
        let mut utf16 = vec![0xFF, 0xFE];
        for unit in "<a>€€€€</a>".encode_utf16() {
            utf16.extend_from_slice(&unit.to_le_bytes());
        }
        assert_eq!(decode(&utf16, 19).unwrap(), "<a>€€€€</a>");
        assert!(matches!(
            decode(&utf16, 18),
            Err(ReportsError::TooLarge { .. })
        ));
    }
}
