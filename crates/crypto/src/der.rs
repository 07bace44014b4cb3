//! Just enough DER (ITU-T X.690) to move RSA public keys between the two forms DKIM records use:
//! SubjectPublicKeyInfo (RFC 5280 §4.1.2.7) and the bare PKCS#1 RSAPublicKey (RFC 8017 §A.1.1).

const TAG_INTEGER: u8 = 0x02;
const TAG_BIT_STRING: u8 = 0x03;
const TAG_NULL: u8 = 0x05;
const TAG_OID: u8 = 0x06;
const TAG_SEQUENCE: u8 = 0x30;
/// 1.2.840.113549.1.1.1 (rsaEncryption, RFC 8017 §A.1).
const OID_RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

/// The bare RSAPublicKey inside `key`, which is either SPKI or already an RSAPublicKey
/// (RFC 6376 §3.6.1 `p=` appears in both forms in the wild). `None` if it is neither.
pub fn rsa_public_key_from_spki(key: &[u8]) -> Option<&[u8]> {
    let (tag, body, rest) = read_tlv(key)?;
    if tag != TAG_SEQUENCE || !rest.is_empty() {
        return None;
    }
    let (first_tag, first, after_first) = read_tlv(body)?;
    match first_tag {
        // Bare RSAPublicKey: SEQUENCE { INTEGER n, INTEGER e }.
        TAG_INTEGER => {
            let (etag, _, after) = read_tlv(after_first)?;
            (etag == TAG_INTEGER && after.is_empty()).then_some(key)
        }
        // SPKI: SEQUENCE { AlgorithmIdentifier, BIT STRING }.
        TAG_SEQUENCE => {
            let (oid_tag, oid, params) = read_tlv(first)?;
            if oid_tag != TAG_OID || oid != OID_RSA_ENCRYPTION {
                return None;
            }
            if !params.is_empty() {
                let (ptag, pbody, prest) = read_tlv(params)?;
                if ptag != TAG_NULL || !pbody.is_empty() || !prest.is_empty() {
                    return None;
                }
            }
            let (bs_tag, bits, after) = read_tlv(after_first)?;
            if bs_tag != TAG_BIT_STRING || !after.is_empty() {
                return None;
            }
            let (&unused, inner) = bits.split_first()?;
            if unused != 0 {
                return None;
            }
            rsa_public_key_from_spki(inner).filter(|k| k.len() == inner.len())
        }
        _ => None,
    }
}

/// Modulus size in bits of a bare RSAPublicKey (RFC 8017 §A.1.1), `None` if malformed.
pub fn rsa_modulus_bits(rsa_public_key: &[u8]) -> Option<u32> {
    let (tag, body, _) = read_tlv(rsa_public_key)?;
    if tag != TAG_SEQUENCE {
        return None;
    }
    let (ntag, n, _) = read_tlv(body)?;
    if ntag != TAG_INTEGER {
        return None;
    }
    let start = n.iter().position(|&b| b != 0)?;
    let n = n.get(start..)?;
    let first = *n.first()?;
    let len = u32::try_from(n.len()).ok()?;
    let top = 8 - first.leading_zeros();
    len.checked_sub(1)?.checked_mul(8)?.checked_add(top)
}

/// Why a bare RSAPublicKey (RFC 8017 §A.1.1) cannot verify anything, `None` if it can: the
/// modulus must be positive and odd (§3.1), the exponent odd, at least 3 and below 2^33 (what
/// both backends accept: ring's `PublicExponent` bounds, aws-lc's `RSA_check_key`), both
/// minimally encoded as DER requires (X.690 §8.3.2). Checked before any backend sees the key,
/// so that every backend calls the same keys invalid (ring cannot tell a refused key from a bad
/// signature).
pub(crate) fn rsa_public_key_defect(rsa_public_key: &[u8]) -> Option<&'static str> {
    let Some((TAG_SEQUENCE, body, _)) = read_tlv(rsa_public_key) else {
        return Some("not an RSAPublicKey");
    };
    let Some((TAG_INTEGER, n, rest)) = read_tlv(body) else {
        return Some("no RSA modulus");
    };
    let Some((TAG_INTEGER, e, _)) = read_tlv(rest) else {
        return Some("no RSA exponent");
    };
    if !is_minimal_positive(n) {
        return Some("RSA modulus is not a positive DER integer");
    }
    if n.last().is_none_or(|b| b & 1 == 0) {
        return Some("RSA modulus is even");
    }
    if !is_minimal_positive(e) {
        return Some("RSA exponent is not a positive DER integer");
    }
    if e.len() > 5 {
        return Some("RSA exponent is 2^33 or more");
    }
    let value = e.iter().fold(0u64, |v, &b| (v << 8) | u64::from(b));
    if value < 3 || value & 1 == 0 || value >= 1 << 33 {
        return Some("RSA exponent is not odd, at least 3 and below 2^33");
    }
    None
}

/// A DER INTEGER's contents octets hold a positive number in the fewest octets (X.690 §8.3.2).
fn is_minimal_positive(int: &[u8]) -> bool {
    match int {
        [] => false,
        [first, ..] if first & 0x80 != 0 => false,
        [0] => false,
        [0, second, ..] => second & 0x80 != 0,
        _ => true,
    }
}

/// Wraps a bare RSAPublicKey into SubjectPublicKeyInfo DER (RFC 5280 §4.1.2.7), the form
/// `openssl rsa -pubout` writes and DKIM key records usually carry.
pub fn spki_from_rsa_public_key(rsa_public_key: &[u8]) -> Vec<u8> {
    let mut alg = Vec::with_capacity(15);
    write_tlv(&mut alg, TAG_OID, OID_RSA_ENCRYPTION);
    write_tlv(&mut alg, TAG_NULL, &[]);
    let mut bits = Vec::with_capacity(rsa_public_key.len() + 1);
    bits.push(0);
    bits.extend_from_slice(rsa_public_key);
    let mut body = Vec::with_capacity(bits.len() + 32);
    write_tlv(&mut body, TAG_SEQUENCE, &alg);
    write_tlv(&mut body, TAG_BIT_STRING, &bits);
    let mut out = Vec::with_capacity(body.len() + 8);
    write_tlv(&mut out, TAG_SEQUENCE, &body);
    out
}

/// Modulus size in bits of an RSA private key in PKCS#1 (RFC 8017 §A.1.2) or PKCS#8
/// (RFC 5958 §2) DER, `None` if it is not one.
pub(crate) fn rsa_private_modulus_bits(der: &[u8]) -> Option<u32> {
    let (tag, body, _) = read_tlv(der)?;
    if tag != TAG_SEQUENCE {
        return None;
    }
    let (vtag, _, rest) = read_tlv(body)?;
    if vtag != TAG_INTEGER {
        return None;
    }
    let (next_tag, next, rest2) = read_tlv(rest)?;
    match next_tag {
        // PKCS#1: version, modulus, ...
        TAG_INTEGER => {
            let mut fake = Vec::with_capacity(next.len() + 8);
            write_tlv(&mut fake, TAG_INTEGER, next);
            let mut seq = Vec::with_capacity(fake.len() + 8);
            write_tlv(&mut seq, TAG_SEQUENCE, &fake);
            rsa_modulus_bits(&seq)
        }
        // PKCS#8: version, AlgorithmIdentifier, OCTET STRING { RSAPrivateKey }.
        TAG_SEQUENCE => {
            let (oid_tag, oid, _) = read_tlv(next)?;
            if oid_tag != TAG_OID || oid != OID_RSA_ENCRYPTION {
                return None;
            }
            let (otag, inner, _) = read_tlv(rest2)?;
            (otag == 0x04).then_some(())?;
            rsa_private_modulus_bits(inner)
        }
        _ => None,
    }
}

/// Reads one tag-length-value; returns (tag, contents, rest). Definite lengths up to 4 octets.
fn read_tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&len0, mut rest) = rest.split_first()?;
    let len = if len0 < 0x80 {
        usize::from(len0)
    } else {
        let count = usize::from(len0 & 0x7f);
        if count == 0 || count > 4 {
            return None;
        }
        let mut len = 0usize;
        for _ in 0..count {
            let (&b, r) = rest.split_first()?;
            len = len.checked_mul(256)?.checked_add(usize::from(b))?;
            rest = r;
        }
        len
    };
    if rest.len() < len {
        return None;
    }
    let (body, rest) = rest.split_at(len);
    Some((tag, body, rest))
}

fn write_tlv(out: &mut Vec<u8>, tag: u8, body: &[u8]) {
    out.push(tag);
    let len = body.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        let significant = bytes.get(skip..).unwrap_or(&[]);
        out.push(0x80 | significant.len() as u8);
        out.extend_from_slice(significant);
    }
    out.extend_from_slice(body);
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    // RFC 8463 Appendix A.2 `test._domainkey.football.example.com` (RSA-1024, SPKI).
    const SPKI_1024: &str = "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB";

    #[test]
    fn unwraps_and_rewraps_spki() {
        let spki = base64::engine::general_purpose::STANDARD
            .decode(SPKI_1024)
            .unwrap();
        let bare = rsa_public_key_from_spki(&spki).unwrap();
        assert_eq!(rsa_modulus_bits(bare), Some(1024));
        // A bare key is accepted as is.
        assert_eq!(rsa_public_key_from_spki(bare), Some(bare));
        assert_eq!(spki_from_rsa_public_key(bare), spki);
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(rsa_public_key_from_spki(b""), None);
        assert_eq!(rsa_public_key_from_spki(&[0x30, 0x84, 0xff]), None);
        assert_eq!(rsa_public_key_from_spki(&[0x30, 0x00]), None);
        assert_eq!(rsa_modulus_bits(&[0x30, 0x03, 0x02, 0x01, 0x00]), None);
    }
}
