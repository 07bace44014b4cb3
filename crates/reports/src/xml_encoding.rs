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
/// encoding; otherwise an error naming the declared encoding or the first bad byte.
pub(crate) fn decode(xml: &[u8]) -> Result<Cow<'_, str>, ReportsError> {
    if let Some(rest) = xml.strip_prefix(b"\xEF\xBB\xBF") {
        return utf8(rest);
    }
    if let Some(rest) = xml.strip_prefix(b"\xFF\xFE") {
        return utf16(rest, u16::from_le_bytes);
    }
    if let Some(rest) = xml.strip_prefix(b"\xFE\xFF") {
        return utf16(rest, u16::from_be_bytes);
    }
    let err = match std::str::from_utf8(xml) {
        Ok(text) => return Ok(Cow::Borrowed(text)),
        Err(e) => e,
    };
    match declared_encoding(xml) {
        Some(label) if CP1252_LABELS.iter().any(|l| l.eq_ignore_ascii_case(&label)) => {
            Ok(Cow::Owned(xml.iter().map(|&b| cp1252(b)).collect()))
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
/// charset is one read here without a BOM (the windows-1252 family); `None` otherwise.
pub(crate) fn transcode_labelled(xml: &[u8], charset: &str) -> Option<Vec<u8>> {
    if std::str::from_utf8(xml).is_ok()
        || xml.starts_with(b"\xFF\xFE")
        || xml.starts_with(b"\xFE\xFF")
    {
        return None;
    }
    let charset = charset.trim();
    CP1252_LABELS
        .iter()
        .any(|l| l.eq_ignore_ascii_case(charset))
        .then(|| {
            xml.iter()
                .map(|&b| cp1252(b))
                .collect::<String>()
                .into_bytes()
        })
}

fn utf8(xml: &[u8]) -> Result<Cow<'_, str>, ReportsError> {
    std::str::from_utf8(xml)
        .map(Cow::Borrowed)
        .map_err(|e| ReportsError::NotUtf8 {
            offset: e.valid_up_to() as u64,
        })
}

fn utf16(xml: &[u8], unit: fn([u8; 2]) -> u16) -> Result<Cow<'_, str>, ReportsError> {
    let pairs = xml.chunks_exact(2);
    if !pairs.remainder().is_empty() {
        return Err(ReportsError::BadUtf16);
    }
    char::decode_utf16(pairs.map(|p| {
        unit([
            p.first().copied().unwrap_or(0),
            p.get(1).copied().unwrap_or(0),
        ])
    }))
    .collect::<Result<String, _>>()
    .map(Cow::Owned)
    .map_err(|_| ReportsError::BadUtf16)
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
}
