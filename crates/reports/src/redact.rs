//! Redaction of local parts in failure reports (RFC 6590 §4, RFC 9991 §7.1).
//!
//! The scheme: every `local@domain` in the redacted text has its local part replaced by the
//! first 16 hex digits (lowercase) of HMAC-SHA256(key, local part as written, case kept).
//! The domain stays, so the Domain Owner still sees which domains were involved; the same
//! local part always gives the same token under one key, so reports can be correlated; without
//! the key the local part cannot be recovered by trying likely names. Local parts are found as
//! runs of RFC 5322 `atext`, `.` and UTF-8 (RFC 6532), or quoted strings
//! (`"john doe"@example.com`), before an `@` followed by a domain, with CFWS (white space,
//! comments) allowed on either side of the `@` (RFC 5322 §3.4.1). A leading `i=`,
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

    /// `text` with the local part of every address replaced by its token. Each `@` names
    /// the local part before it; all are found first, then replaced from the left, those that
    /// overlap as one (an address inside a comment between a local part and its `@`,
    /// `bob (a@b.example) @e.example`, is replaced and so is `bob`).
    pub fn redact(&self, text: &[u8]) -> Vec<u8> {
        let mut spans: Vec<(usize, usize)> = Vec::new();
        let mut i = 0;
        while let Some(at) = text
            .get(i..)
            .and_then(|r| r.iter().position(|&b| b == b'@'))
        {
            let at = i + at;
            i = at + 1;
            // RFC 5322 §3.4.1 allows CFWS around the `@` (`alice (x) @ example.com`)
            let end = skip_cfws_back(text, 0, at);
            let start = match end.checked_sub(1).and_then(|e| text.get(e)) {
                Some(b'"') => quoted_string_start(text, 0, end),
                _ => {
                    let run = text
                        .get(..end)
                        .and_then(|before| before.iter().rposition(|&b| !is_local_char(b)))
                        .map_or(0, |p| p + 1);
                    // `i=alice@…`, `smtp.mailfrom=alice@…`: the tag is not part of the local part
                    run + tag_prefix_len(text.get(run..end).unwrap_or_default())
                }
            };
            let domain_start = skip_cfws_forward(text, at + 1);
            let domain_len = text.get(domain_start..).map_or(0, |after| {
                after.iter().take_while(|&&b| is_domain_char(b)).count()
            });
            if start < end && domain_len > 0 {
                spans.push((start, end));
            }
        }
        // spans that overlap (a quoted local part that holds an `@`, malformed quoting) are
        // replaced as one, so that no byte of any local part is left
        spans.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(spans.len());
        for (start, end) in spans {
            match merged.last_mut() {
                Some(last) if start < last.1 => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        let mut out = Vec::with_capacity(text.len());
        let mut copied = 0; // text[..copied] is in out
        for (start, end) in merged {
            out.extend_from_slice(text.get(copied..start).unwrap_or_default());
            out.extend_from_slice(
                self.token(text.get(start..end).unwrap_or_default())
                    .as_bytes(),
            );
            copied = end;
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

/// A domain's letters, digits, `.`, `-`, `_` (RFC 2181 §11: any octet in a DNS label, and
/// `_dmarc`-style labels are common), an address literal's `[`, and UTF-8 (U-labels,
/// RFC 6532 §3.2).
fn is_domain_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"._-[".contains(&b) || b >= 0x80
}

/// Where the CFWS (RFC 5322 §3.2.2: white space, folding, comments, nested) that ends at
/// `end` begins, not before `floor`.
fn skip_cfws_back(text: &[u8], floor: usize, end: usize) -> usize {
    let mut j = end;
    while j > floor {
        match text.get(j - 1) {
            Some(b' ' | b'\t' | b'\r' | b'\n') => j -= 1,
            Some(b')') => {
                let mut depth = 0usize;
                let mut k = j;
                let open = loop {
                    if k <= floor {
                        break None;
                    }
                    k -= 1;
                    match text.get(k) {
                        Some(b')') => depth += 1,
                        Some(b'(') => {
                            depth -= 1;
                            if depth == 0 {
                                break Some(k);
                            }
                        }
                        _ => {}
                    }
                };
                match open {
                    Some(k) => j = k,
                    None => break,
                }
            }
            _ => break,
        }
    }
    j
}

/// Where the CFWS that begins at `start` ends.
fn skip_cfws_forward(text: &[u8], start: usize) -> usize {
    let mut j = start;
    let mut depth = 0usize;
    while let Some(&b) = text.get(j) {
        match b {
            b'(' => depth += 1,
            b')' if depth > 0 => depth -= 1,
            b' ' | b'\t' | b'\r' | b'\n' => {}
            _ if depth > 0 => {}
            _ => break,
        }
        j += 1;
    }
    j
}

/// The start of the quoted string (RFC 5322 §3.2.4, `\"` escapes kept inside) that ends with
/// the `"` just before `end`, not before `floor`; `end` when there is none.
fn quoted_string_start(text: &[u8], floor: usize, end: usize) -> usize {
    let mut k = end.saturating_sub(1);
    while k > floor {
        k -= 1;
        if text.get(k) == Some(&b'"') {
            let backslashes = text
                .get(floor..k)
                .map_or(0, |b| b.iter().rev().take_while(|&&c| c == b'\\').count());
            if backslashes % 2 == 0 {
                return k;
            }
        }
    }
    end
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
            key.redact(b"no address @, here or@"),
            b"no address @, here or@"
        );
        assert_ne!(RedactionKey(b"other".to_vec()).token(b"alice"), t);
        assert_eq!(
            key.redact_address("bob@x.example"),
            format!("{}@x.example", key.token(b"bob"))
        );
        assert_eq!(key.redact_address(""), "");
    }

    /// RFC 6590 §4 asks for the local part of every address: one written with CFWS before
    /// the `@` (RFC 5322 §3.4.1, `obs-local-part` included), a comment, a quoted local part,
    /// or a domain with an `_` label was left in clear.
    #[test]
    fn local_parts_in_every_address_form_are_replaced() {
        let key = RedactionKey(b"secret".to_vec());
        let text = b"To: \"secret2\"@rx.example, secret3 @rx.example, \
            secret4@_priv.rx.example, secret5(c)@rx.example, secret6 (a (b)) @ rx.example, \
            \"se\\\"cret7\"@rx.example, secret8 (secret9@c.example) @rx.example\r\n";
        let out = String::from_utf8(key.redact(text)).unwrap();
        assert!(!out.contains("secret"), "{out}");
        let t = |l: &str| key.token(l.as_bytes());
        assert_eq!(
            out,
            format!(
                "To: {}@rx.example, {} @rx.example, {}@_priv.rx.example, {}(c)@rx.example, \
                 {} (a (b)) @ rx.example, {}@rx.example, {} ({}@c.example) @rx.example\r\n",
                t("\"secret2\""),
                t("secret3"),
                t("secret4"),
                t("secret5"),
                t("secret6"),
                t("\"se\\\"cret7\""),
                t("secret8"),
                t("secret9")
            )
        );
    }

    /// Malformed quoting makes one `@`'s local part hold another's: both are replaced as one
    /// span, nothing of either left.
    #[test]
    fn overlapping_local_parts_are_replaced_as_one() {
        let key = RedactionKey(b"secret".to_vec());
        let out =
            String::from_utf8(key.redact(b"To: x\"sec1@a.example sec2\"@b.example\r\n")).unwrap();
        assert!(!out.contains("sec"), "{out}");
        assert!(out.ends_with("@b.example\r\n"), "{out}");
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
