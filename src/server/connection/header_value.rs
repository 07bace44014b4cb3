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
    // memchr's SIMD search, not a byte loop: every header field of every message passes here
    while let Some(lf) = memchr::memchr(b'\n', rest) {
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

    /// The byte-by-byte form of [`mta_header_value`] (§2.8: a space put back without
    /// LEADSPC, each LF made CRLF, every other byte kept).
    fn reference(value: &[u8], leadspc: bool) -> Vec<u8> {
        let mut out = Vec::new();
        if !leadspc {
            out.push(b' ');
        }
        for &b in value {
            if b == b'\n' {
                out.extend_from_slice(b"\r\n");
            } else {
                out.push(b);
            }
        }
        out
    }

    /// The SIMD search gives the byte loop's answer on values long enough to take its vector
    /// paths (16, 32 and 64 bytes a step), with LFs at every offset and at both ends.
    #[test]
    fn long_values_match_the_bytewise_form() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut out = Vec::new();
        for case in 0..2000u32 {
            let len = (case % 300) as usize;
            let value: Vec<u8> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    [b'a', b' ', b'\t', b'\r', b'\n', b'x'][(state % 6) as usize]
                })
                .collect();
            let leadspc = case % 2 == 0;
            mta_header_value(&value, leadspc, &mut out);
            assert_eq!(out, reference(&value, leadspc), "{value:?}");
        }
    }
}
