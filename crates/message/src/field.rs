//! One header field (RFC 5322 §2.2): its name and its raw value.

/// One header field: its name and its raw value (RFC 5322 §2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderField {
    /// The field name as written (no colon). It may end in spaces or tabs: the obsolete
    /// syntax puts whitespace between name and colon (RFC 5322 §4.5.2, `From :`).
    pub name: Vec<u8>,
    /// Everything after the colon, exactly as in the message (a leading space included), folds
    /// as CRLF, without the final CRLF.
    pub value: Vec<u8>,
}

/// Where a header value holds a control character that may not be there (RFC 5322 §2.2,
/// §3.2.2: only HTAB, and CR LF when it starts a fold).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControlChar {
    /// The byte (0x00–0x1F except HTAB, or 0x7F).
    pub byte: u8,
    /// Its offset in the value.
    pub offset: usize,
}

impl std::fmt::Display for ControlChar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "control character 0x{:02X} at offset {}",
            self.byte, self.offset
        )
    }
}

impl HeaderField {
    /// A field from a name and a raw value; bare LF folds in `value` (as milters deliver them)
    /// become CRLF (RFC 5322 §2.1). A lone CR stays as it is: it is data, not a line end.
    pub fn new(name: impl Into<Vec<u8>>, value: impl AsRef<[u8]>) -> Self {
        HeaderField {
            name: name.into(),
            value: crate::line_endings::lf_to_crlf(value.as_ref()).into_owned(),
        }
    }

    /// The name without the whitespace the obsolete syntax allows before the colon
    /// (RFC 5322 §4.5.2).
    pub fn canonical_name(&self) -> &[u8] {
        trim_wsp_end(&self.name)
    }

    /// Case-insensitive name match (RFC 5322 §1.2.2), ignoring whitespace before the colon
    /// (RFC 5322 §4.5.2): `From :` is a From field.
    pub fn name_is(&self, name: &str) -> bool {
        self.canonical_name().eq_ignore_ascii_case(name.as_bytes())
    }

    /// The first control character in the value that RFC 5322 does not allow there: any
    /// C0 control except HTAB, and DEL; CR LF only as the start of a fold (followed by
    /// space or tab). `None` for a clean value.
    pub fn control_char(&self) -> Option<ControlChar> {
        let v = &self.value;
        let mut i = 0usize;
        while let Some(&b) = v.get(i) {
            let fold = b == b'\r'
                && v.get(i + 1) == Some(&b'\n')
                && matches!(v.get(i + 2), Some(b' ' | b'\t'));
            if fold {
                i += 3;
                continue;
            }
            if (b < 0x20 && b != b'\t') || b == 0x7f {
                return Some(ControlChar { byte: b, offset: i });
            }
            i += 1;
        }
        None
    }
}

/// `s` without its trailing WSP (SP and HTAB, RFC 5234 appendix B.1), as a field name
/// written with obsolete whitespace before its colon is read (RFC 5322 §4.5).
pub fn trim_wsp_end(mut s: &[u8]) -> &[u8] {
    while let Some((&last, rest)) = s.split_last() {
        if last != b' ' && last != b'\t' {
            break;
        }
        s = rest;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn obsolete_whitespace_before_the_colon_is_the_same_name() {
        assert!(HeaderField::new("From ", " a@b").name_is("from"));
        assert!(HeaderField::new("FROM\t", " a@b").name_is("From"));
        assert!(!HeaderField::new("Fromx", " a@b").name_is("From"));
        assert_eq!(HeaderField::new("From \t", "").canonical_name(), b"From");
    }

    #[test]
    fn folds_become_crlf_and_lone_cr_stays() {
        assert_eq!(HeaderField::new("S", " a\n\tb").value, b" a\r\n\tb");
        assert_eq!(HeaderField::new("S", " a\r\n\tb").value, b" a\r\n\tb");
        assert_eq!(HeaderField::new("S", " a\rb").value, b" a\rb");
    }

    #[test]
    fn control_characters() {
        let clean = HeaderField::new("From", " a@b.example\r\n\t(c)");
        assert_eq!(clean.control_char(), None);
        for (value, byte, offset) in [
            (&b" a@b\0c"[..], 0u8, 4usize),
            (b" a\x01", 1, 2),
            (b" a\rb", b'\r', 2),
            (b" a\r\nb", b'\r', 2),
            (b" a\x7f", 0x7f, 2),
            (b" a\x1b[2K", 0x1b, 2),
        ] {
            let f = HeaderField {
                name: b"From".to_vec(),
                value: value.to_vec(),
            };
            assert_eq!(
                f.control_char(),
                Some(ControlChar { byte, offset }),
                "{value:?}"
            );
        }
        let tab = HeaderField::new("From", " a\tb");
        assert_eq!(tab.control_char(), None);
    }
}
