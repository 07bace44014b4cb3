//! Header values from the MTA as the fields will be delivered (milter protocol §2.8).

/// A header value as the MTA sent it, made the field's text after the colon as the MTA will
/// deliver it (§2.8): without LEADSPC the MTA removed the one space after the colon, which is
/// put back; the MTA joins the lines of a folded field with a bare LF (it strips the line
/// ends, CRLF or LF, and one CR before a LF is all it strips), so each LF becomes CRLF and a
/// CR already before it is data of the line, kept (RFC 5322 §2.2.3).
pub(super) fn mta_header_value(value: &[u8], leadspc: bool, out: &mut Vec<u8>) {
    out.clear();
    if !leadspc {
        out.push(b' ');
    }
    let mut rest = value;
    while let Some(lf) = rest.iter().position(|&b| b == b'\n') {
        out.extend_from_slice(rest.get(..lf).unwrap_or_default());
        out.extend_from_slice(b"\r\n");
        rest = rest.get(lf + 1..).unwrap_or_default();
    }
    out.extend_from_slice(rest);
}

#[cfg(test)]
mod tests {
    use super::mta_header_value;

    #[test]
    fn folds_become_crlf_and_a_cr_before_them_stays_data() {
        let mut out = Vec::new();
        for (value, leadspc, want) in [
            (&b" a"[..], true, &b" a"[..]),
            (b"a", false, b" a"),
            (b"", false, b" "),
            (b" a\n\tb", true, b" a\r\n\tb"),
            // `a<CR>` then a fold: the MTA stripped the line end's CR LF, not this CR
            (b" a\r\n\tb", true, b" a\r\r\n\tb"),
            (b" a\rb\n c\n\td", true, b" a\rb\r\n c\r\n\td"),
        ] {
            mta_header_value(value, leadspc, &mut out);
            assert_eq!(out, want, "{value:?}");
        }
    }
}
