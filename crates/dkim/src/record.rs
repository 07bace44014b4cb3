//! DKIM key records in DNS (RFC 6376 §3.6.1, RFC 8463 §4).

use crate::result::Reason;
use crate::signature::{Algorithm, comparable_domain, decode_b64};
use crate::tag::{lossy, parse_tag_list, trim_fws};

/// A parsed key record (RFC 6376 §3.6.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// `k=` (default rsa).
    pub key_type: crypto::KeyType,
    /// `p=` decoded; empty means revoked.
    pub public_key: Vec<u8>,
    /// `h=` acceptable hashes, lowercase; `None` means all.
    pub hashes: Option<Vec<String>>,
    /// `s=` service types, lowercase; `None` means all (`*`).
    pub services: Option<Vec<String>>,
    /// `t=y`: the domain is testing DKIM.
    pub testing: bool,
    /// `t=s`: `i=` must be in exactly `d=`, not a subdomain.
    pub strict: bool,
}

impl KeyRecord {
    /// Parses a key record (TXT strings already joined, RFC 6376 §3.6.2.2). Tolerant of
    /// whitespace everywhere, and of surrounding double quotes left by copy-paste from zones.
    pub fn parse(txt: &[u8]) -> Result<KeyRecord, Reason> {
        let txt = unquote(trim_fws(txt));
        let tags = parse_tag_list(txt).map_err(|e| Reason::KeySyntax(e.to_string()))?;
        let get = |n: &str| tags.iter().find(|t| t.name == n).map(|t| t.value);
        // §3.6.1 `v=`: "This tag MUST be the first tag in the record"
        if tags.iter().skip(1).any(|t| t.name == "v") {
            return Err(Reason::KeySyntax("v= is not the first tag".into()));
        }
        if let Some(v) = get("v")
            && v != b"DKIM1"
        {
            return Err(Reason::KeySyntax(format!(
                "unsupported version {:?}",
                lossy(v)
            )));
        }
        let key_type = match get("k") {
            None => crypto::KeyType::Rsa,
            Some(k) => match k.to_ascii_lowercase().as_slice() {
                b"rsa" => crypto::KeyType::Rsa,
                b"ed25519" => crypto::KeyType::Ed25519,
                _ => {
                    return Err(Reason::KeySyntax(format!(
                        "unknown key type {:?}",
                        lossy(k)
                    )));
                }
            },
        };
        let p = get("p").ok_or_else(|| Reason::KeySyntax("missing p=".into()))?;
        let public_key =
            decode_b64(p).ok_or_else(|| Reason::KeySyntax("p= is not base64".into()))?;
        let list = |v: &[u8]| -> Vec<String> {
            v.split(|&c| c == b':')
                .map(|x| String::from_utf8_lossy(trim_fws(x)).to_ascii_lowercase())
                .filter(|x| !x.is_empty())
                .collect()
        };
        let hashes = get("h").map(list);
        let services = get("s").map(list);
        let flags = get("t").map(list).unwrap_or_default();
        Ok(KeyRecord {
            key_type,
            public_key,
            hashes,
            services,
            testing: flags.iter().any(|f| f == "y"),
            strict: flags.iter().any(|f| f == "s"),
        })
    }

    /// `p=` is empty: the key was revoked (RFC 6376 §3.6.1).
    pub fn is_revoked(&self) -> bool {
        self.public_key.is_empty()
    }

    /// Checks that this key may verify a signature with `algorithm` and identity domain
    /// `i_domain` against `d_domain` (RFC 6376 §6.1.2 steps 5–9).
    pub fn check_usable(
        &self,
        algorithm: Algorithm,
        i_domain: Option<&str>,
        d_domain: &str,
    ) -> Result<(), Reason> {
        if self.is_revoked() {
            return Err(Reason::KeyRevoked);
        }
        if self.key_type != algorithm.key_type() {
            return Err(Reason::KeyTypeMismatch);
        }
        if let Some(h) = &self.hashes
            && !h.iter().any(|x| x == algorithm.hash_name())
        {
            return Err(Reason::HashNotAllowed);
        }
        if let Some(s) = &self.services
            && !s.iter().any(|x| x == "*" || x == "email")
        {
            return Err(Reason::ServiceNotEmail);
        }
        if self.strict
            && let Some(i) = i_domain
            && comparable_domain(i) != comparable_domain(d_domain)
        {
            return Err(Reason::StrictIdentity);
        }
        Ok(())
    }
}

/// What a major verifier refuses in a record that [`KeyRecord::parse`] accepts (a verifier may
/// be lenient; the publication check, `test_key` and check-domain, may not: RFC 6376 §3.2, §3.6.1):
/// `k=` in another case than `rsa` / `ed25519` (dkimpy), `s=` other than exactly `email` or `*`
/// (dkimpy), and an RSA `p=` that is a bare PKCS#1 RSAPublicKey rather than a
/// SubjectPublicKeyInfo (OpenDKIM).
pub fn refused_by_major_verifiers(txt: &[u8], record: &KeyRecord) -> Option<Reason> {
    let tags = parse_tag_list(unquote(trim_fws(txt))).ok()?;
    if let Some(k) = tags.iter().find(|t| t.name == "k").map(|t| t.value)
        && k != b"rsa"
        && k != b"ed25519"
    {
        return Some(Reason::KeyTypeCase(lossy(k)));
    }
    // dkimpy takes the key for email only when s= is exactly `email` or `*` (a record no
    // verifier takes for email is our own verifier's refusal, said by it)
    if let Some(s) = tags
        .iter()
        .find(|t| t.name == "s")
        .map(|t| trim_fws(t.value))
        && s != b"email"
        && s != b"*"
        && record
            .services
            .as_ref()
            .is_some_and(|l| l.iter().any(|x| x == "email" || x == "*"))
    {
        return Some(Reason::ServiceListRefused(lossy(s)));
    }
    // an empty tag-spec (`;;`): RFC 6376 §3.2's tag-list has none, dkimpy refuses the record
    // (only one `;` may end it)
    let text = unquote(trim_fws(txt));
    let specs: Vec<&[u8]> = text.split(|&b| b == b';').collect();
    if specs
        .iter()
        .take(specs.len().saturating_sub(1))
        .any(|spec| trim_fws(spec).is_empty())
    {
        return Some(Reason::EmptyTagSpec);
    }
    let bare_rsa = record.key_type == crypto::KeyType::Rsa
        && !record.is_revoked()
        // a SubjectPublicKeyInfo wraps the RSAPublicKey, which is therefore shorter
        && crypto::rsa_public_key_from_spki(&record.public_key)
            .is_some_and(|inner| inner.len() == record.public_key.len());
    bare_rsa.then_some(Reason::RsaKeyNotSpki)
}

/// Strips one pair of surrounding double quotes (a record pasted with its zone-file quoting).
fn unquote(s: &[u8]) -> &[u8] {
    match s {
        [b'"', inner @ .., b'"'] => inner,
        _ => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ed25519_record() {
        let r =
            KeyRecord::parse(b"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=")
                .unwrap();
        assert_eq!(r.key_type, crypto::KeyType::Ed25519);
        assert_eq!(r.public_key.len(), 32);
        assert!(!r.testing);
    }

    #[test]
    fn flags_lists_and_revocation() {
        let r = KeyRecord::parse(
            b"v=DKIM1; s=email:web:fine; x1 = extra ; t = y:n:extra; h=md5:sha1; p=AAAA ; ",
        )
        .unwrap();
        assert!(r.testing);
        assert_eq!(
            r.hashes.as_deref(),
            Some(&["md5".to_string(), "sha1".to_string()][..])
        );
        assert_eq!(
            r.check_usable(Algorithm::RsaSha256, None, "d"),
            Err(Reason::HashNotAllowed)
        );
        let revoked = KeyRecord::parse(b"k=rsa; t=y; p=").unwrap();
        assert!(revoked.is_revoked());
        assert_eq!(
            revoked.check_usable(Algorithm::RsaSha256, None, "d"),
            Err(Reason::KeyRevoked)
        );
        let chat = KeyRecord::parse(b"v=DKIM1; s=chat; p=AAAA").unwrap();
        assert_eq!(
            chat.check_usable(Algorithm::RsaSha256, None, "d"),
            Err(Reason::ServiceNotEmail)
        );
        let strict = KeyRecord::parse(b"t=s; p=AAAA").unwrap();
        assert_eq!(
            strict.check_usable(Algorithm::RsaSha256, Some("a.d"), "d"),
            Err(Reason::StrictIdentity)
        );
        assert_eq!(
            strict.check_usable(Algorithm::RsaSha256, Some("D"), "d"),
            Ok(())
        );
    }

    #[test]
    fn syntax_errors() {
        assert!(KeyRecord::parse(b"v=DKIM3; p=AAAA").is_err());
        assert!(KeyRecord::parse(b"v=DKIM1: k=rsa; p=AAAA").is_err());
        assert!(KeyRecord::parse(b"k=foobar; p=AAAA").is_err());
        assert!(KeyRecord::parse(b"k=ed25519-sha256; p=AAAA").is_err());
        assert!(KeyRecord::parse(b"k=rsa; t; p=AAAA").is_err());
        assert!(KeyRecord::parse(b"v=DKIM1; k=rsa").is_err());
        assert!(KeyRecord::parse(b"").is_err());
        assert!(KeyRecord::parse(b"\"k=rsa; p=AA AA\"").is_ok());
    }

    /// RFC 6376 §3.6.1 `v=`: "This tag MUST be the first tag in the record": a record with
    /// `v=` anywhere else does not adhere to the format (§6.1.2 step 5, key syntax error),
    /// whatever its value. First with FWS or an empty spec before it is still first.
    #[test]
    fn version_tag_must_come_first() {
        for misplaced in [
            &b"k=rsa; v=DKIM1; p=AAAA"[..],
            b"p=AAAA; v=DKIM1",
            b"t=y; v=DKIM1; k=ed25519; p=AAAA",
        ] {
            assert!(
                matches!(KeyRecord::parse(misplaced), Err(Reason::KeySyntax(_))),
                "{}",
                String::from_utf8_lossy(misplaced)
            );
        }
        for first in [
            &b"v=DKIM1; k=rsa; p=AAAA"[..],
            b" v = DKIM1 ;p=AAAA",
            b";v=DKIM1; p=AAAA",
            b"\"v=DKIM1; p=AAAA\"",
            b"k=rsa; p=AAAA",
        ] {
            assert!(
                KeyRecord::parse(first).is_ok(),
                "{}",
                String::from_utf8_lossy(first)
            );
        }
    }
}
