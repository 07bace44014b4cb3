//! Line endings (RFC 5322 §2.1: CRLF): MTAs and files hand us bare LF too.

use std::borrow::Cow;

/// Turns bare LF into CRLF; a lone CR stays data, as an MTA reading lines up to LF keeps it.
/// Borrows when nothing changes. The LFs are found with `memchr`: most header values have
/// none or one (a fold), so the bytes between them are never looked at one by one.
pub fn lf_to_crlf(raw: &[u8]) -> Cow<'_, [u8]> {
    let bare = |lf: usize| lf.checked_sub(1).and_then(|p| raw.get(p)) != Some(&b'\r');
    if !memchr::memchr_iter(b'\n', raw).any(bare) {
        return Cow::Borrowed(raw);
    }
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 32 + 2);
    let mut done = 0;
    for lf in memchr::memchr_iter(b'\n', raw).filter(|&lf| bare(lf)) {
        out.extend_from_slice(raw.get(done..lf).unwrap_or_default());
        out.push(b'\r');
        done = lf;
    }
    out.extend_from_slice(raw.get(done..).unwrap_or_default());
    Cow::Owned(out)
}

/// Turns bare LF and bare CR line endings into CRLF (RFC 6376 §5.3 requires CRLF before
/// canonicalization, and a lone CR as a line end). Borrows when nothing changes.
pub fn normalize_line_endings(raw: &[u8]) -> Cow<'_, [u8]> {
    let mut prev = 0u8;
    let mut clean = true;
    for &b in raw {
        if (b == b'\n' && prev != b'\r') || (prev == b'\r' && b != b'\n') {
            clean = false;
            break;
        }
        prev = b;
    }
    if clean && prev != b'\r' {
        return Cow::Borrowed(raw);
    }
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 32 + 2);
    let mut iter = raw.iter().copied().peekable();
    while let Some(b) = iter.next() {
        match b {
            b'\r' => {
                out.extend_from_slice(b"\r\n");
                if iter.peek() == Some(&b'\n') {
                    iter.next();
                }
            }
            b'\n' => out.extend_from_slice(b"\r\n"),
            _ => out.push(b),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lf_only() {
        assert!(matches!(lf_to_crlf(b"a\r\nb"), Cow::Borrowed(_)));
        assert_eq!(&*lf_to_crlf(b"a\nb\r\nc\rd\n"), b"a\r\nb\r\nc\rd\r\n");
    }

    #[test]
    fn all_line_ends() {
        assert!(matches!(
            normalize_line_endings(b"a\r\nb"),
            Cow::Borrowed(_)
        ));
        assert_eq!(&*normalize_line_endings(b"a\nb\r\n\rc"), b"a\r\nb\r\n\r\nc");
    }

    /// The byte-by-byte definition the `memchr` version must match.
    fn lf_to_crlf_reference(raw: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut prev = 0u8;
        for &b in raw {
            if b == b'\n' && prev != b'\r' {
                out.push(b'\r');
            }
            out.push(b);
            prev = b;
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn lf_to_crlf_matches_reference(
            raw in proptest::collection::vec(proptest::sample::select(b"a \r\n\t".to_vec()), 0..64)
        ) {
            let got = lf_to_crlf(&raw);
            let want = lf_to_crlf_reference(&raw);
            proptest::prop_assert_eq!(&*got, want.as_slice());
            proptest::prop_assert_eq!(matches!(got, Cow::Borrowed(_)), got.as_ref() == raw.as_slice());
        }
    }
}
