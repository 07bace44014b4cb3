//! The data an ARC-Seal signs (RFC 8617 §5.1.1): the ARC sets in increasing instance order,
//! within a set ARC-Authentication-Results, ARC-Message-Signature, ARC-Seal, relaxed header
//! canonicalization (RFC 8617 §4.1.3, RFC 6376 §3.4.2), and the seal being signed last with
//! its `b=` value emptied and no final CRLF (RFC 6376 §3.7).

use dkim::canon::canonicalize_header;
use dkim::signature::strip_b_value;
use dkim::{Canonicalization, HeaderField};

/// The ARC-Seal hash input over `fields`: every set's three fields in hashing order, the
/// last one being the seal signed or verified.
pub(crate) fn seal_hash_input(fields: &[&HeaderField]) -> Vec<u8> {
    let mut data = Vec::with_capacity(fields.len().saturating_mul(512));
    let Some((own, before)) = fields.split_last() else {
        return data;
    };
    for f in before {
        canonicalize_header(Canonicalization::Relaxed, &f.name, &f.value, &mut data);
    }
    canonicalize_header(
        Canonicalization::Relaxed,
        &own.name,
        &strip_b_value(&own.value),
        &mut data,
    );
    data.truncate(data.len().saturating_sub(2));
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relaxed_in_order_with_own_b_emptied() {
        let aar = HeaderField::new("ARC-Authentication-Results", " i=1;  x.org;\r\n\tnone");
        let ams = HeaderField::new("ARC-Message-Signature", " i=1; b=abc\r\n def");
        let seal = HeaderField::new("arc-seal", " i=1; cv=none; b=xyz");
        let data = seal_hash_input(&[&aar, &ams, &seal]);
        assert_eq!(
            data,
            b"arc-authentication-results:i=1; x.org; none\r\n\
              arc-message-signature:i=1; b=abc def\r\n\
              arc-seal:i=1; cv=none; b="
        );
    }
}
