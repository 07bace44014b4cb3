//! Redaction of local parts in failure reports (RFC 6590 §4, RFC 9991 §7.1).
//!
//! The scheme: every `local@domain` in the redacted text has its local part replaced by the
//! first 16 hex digits (lowercase) of HMAC-SHA256(key, local part as written, case kept).
//! The domain stays, so the Domain Owner still sees which domains were involved; the same
//! local part always gives the same token under one key, so reports can be correlated; without
//! the key the local part cannot be recovered by trying likely names. Local parts are found as
//! runs of RFC 5322 `atext`, `.` and UTF-8 (RFC 6532) before an `@` followed by a domain;
//! quoted local parts (`"john doe"@example.com`) are not recognized. A leading `i=`,
//! `smtp.mailfrom=` and the like (DKIM and Authentication-Results tags) is kept out of the
//! local part. Display names are not touched.

use serde::{Deserialize, Serialize};

/// A redaction key (keep it secret and stable, e.g. in the configuration).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedactionKey(pub Vec<u8>);

impl std::fmt::Debug for RedactionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RedactionKey(..)")
    }
}

impl RedactionKey {
    /// The token that replaces `local` (RFC 6590 §4).
    pub fn token(&self, local: &[u8]) -> String {
        crypto::hmac_sha256(&self.0, local)
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// `text` with the local part of every address replaced by its token.
    pub fn redact(&self, text: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(text.len());
        let mut copied = 0; // text[..copied] is in out
        let mut i = 0;
        while let Some(at) = text
            .get(i..)
            .and_then(|r| r.iter().position(|&b| b == b'@'))
        {
            let at = i + at;
            let start = text
                .get(..at)
                .and_then(|before| before.iter().rposition(|&b| !is_local_char(b)))
                .map_or(0, |p| p + 1)
                .max(copied);
            let domain_len = text.get(at + 1..).map_or(0, |after| {
                after.iter().take_while(|&&b| is_domain_char(b)).count()
            });
            // `i=alice@…`, `smtp.mailfrom=alice@…`: the tag is not part of the local part
            let start = start + tag_prefix_len(text.get(start..at).unwrap_or_default());
            if start < at && domain_len > 0 {
                out.extend_from_slice(text.get(copied..start).unwrap_or_default());
                out.extend_from_slice(
                    self.token(text.get(start..at).unwrap_or_default())
                        .as_bytes(),
                );
                copied = at;
            }
            i = at + 1;
        }
        out.extend_from_slice(text.get(copied..).unwrap_or_default());
        out
    }

    /// An address with its local part redacted (`a@b` → `token@b`); unchanged without `@`.
    pub fn redact_address(&self, address: &str) -> String {
        match address.rsplit_once('@') {
            Some((local, domain)) if !local.is_empty() => {
                format!("{}@{domain}", self.token(local.as_bytes()))
            }
            _ => address.to_string(),
        }
    }
}

/// Tags that put an address right after `=` in header fields (DKIM-Signature `i=`, RFC 6376
/// §3.5; Authentication-Results properties, RFC 8601 §2.3), since `=` is also `atext`.
const TAGS: &[&[u8]] = &[
    b"i=",
    b"header.i=",
    b"header.from=",
    b"header.sender=",
    b"smtp.mailfrom=",
    b"smtp.rcptto=",
    b"smtp.auth=",
    b"envelope-from=",
    b"identity=",
];

/// The length of a known tag at the start of `run` (case-insensitive), or 0.
fn tag_prefix_len(run: &[u8]) -> usize {
    TAGS.iter()
        .find(|t| {
            run.len() > t.len()
                && run
                    .get(..t.len())
                    .is_some_and(|p| p.eq_ignore_ascii_case(t))
        })
        .map_or(0, |t| t.len())
}

/// RFC 5322 §3.2.3 `atext` and `.`, with RFC 6532 §3.2's UTF-8 (any byte of a multi-byte
/// character), so an internationalized local part is replaced whole.
fn is_local_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~.".contains(&b) || b >= 0x80
}

/// A domain's letters, digits, `.`, `-`, an address literal's `[`, and UTF-8 (U-labels,
/// RFC 6532 §3.2).
fn is_domain_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'[' || b >= 0x80
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_parts_are_replaced_consistently() {
        let key = RedactionKey(b"secret".to_vec());
        let t = key.token(b"alice");
        assert_eq!(t.len(), 16);
        let out = key
            .redact(b"From: Alice <alice@example.com>\r\nTo: bob@x.example, alice@example.com\r\n");
        let out = String::from_utf8(out).unwrap();
        assert_eq!(
            out,
            format!(
                "From: Alice <{t}@example.com>\r\nTo: {}@x.example, {t}@example.com\r\n",
                key.token(b"bob")
            )
        );
        assert_eq!(
            key.redact(b"no address @ here or@"),
            b"no address @ here or@"
        );
        assert_ne!(RedactionKey(b"other".to_vec()).token(b"alice"), t);
        assert_eq!(
            key.redact_address("bob@x.example"),
            format!("{}@x.example", key.token(b"bob"))
        );
        assert_eq!(key.redact_address(""), "");
    }

    #[test]
    fn utf8_local_parts_are_replaced_whole() {
        // RFC 6532 §3.2: atext and domain labels may hold UTF-8 (SMTPUTF8 mail)
        let key = RedactionKey(b"secret".to_vec());
        let jorg = "jörg.müller".as_bytes();
        let text =
            "Received: by mx; for <jörg.müller@rx.example>\r\nTo: jörg.müller@bücher.example\r\n";
        let out = String::from_utf8(key.redact(text.as_bytes())).unwrap();
        let t = key.token(jorg);
        assert_eq!(
            out,
            format!("Received: by mx; for <{t}@rx.example>\r\nTo: {t}@bücher.example\r\n")
        );
        assert!(!out.contains("jö") && !out.contains("ller@"), "{out}");
    }
}
