//! The SMTP and the internal form of an address (RFC 5321 §4.1.2 `Local-part = Dot-string /
//! Quoted-string`; Postfix's `unquote_822_local` and `quote_822_local`).
//!
//! A milter sees MAIL FROM and RCPT TO as the client wrote them: `"john doe"@example.com`,
//! and Postfix (3.5 and later) asks a socketmap with that external form too. SRS works on
//! the address itself, `john doe@example.com`, which is what Postfix keeps inside; so the
//! same sender gets the same SRS address in milter and socketmap mode, and an SRS address
//! whose local part needs quotes is written with them.

use std::borrow::Cow;

/// The internal form of an SMTP address (RFC 5321 §4.1.2): a local part written as a
/// Quoted-string loses its quotes and backslash escapes; anything else is returned as it is.
pub fn unquote(address: &str) -> Cow<'_, str> {
    let Some(body) = address.strip_prefix('"') else {
        return Cow::Borrowed(address);
    };
    let mut local = String::with_capacity(body.len());
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, escaped)) => local.push(escaped),
                None => return Cow::Borrowed(address),
            },
            '"' => {
                let rest = body.get(i + 1..).unwrap_or_default();
                return match rest.strip_prefix('@') {
                    Some(domain) => Cow::Owned(format!("{local}@{domain}")),
                    None if rest.is_empty() => Cow::Owned(local),
                    // `"a"b@x` or `"a".b@x` (RFC 5322 obs-local-part): left alone.
                    None => Cow::Borrowed(address),
                };
            }
            other => local.push(other),
        }
    }
    Cow::Borrowed(address)
}

/// The SMTP form of an internal address (RFC 5321 §4.1.2): the local part (up to the last
/// `@`) is written as a Quoted-string unless it is a Dot-string (UTF-8 counts as atext,
/// RFC 6531 §3.3).
pub fn quote(address: &str) -> Cow<'_, str> {
    let Some((local, domain)) = address.rsplit_once('@') else {
        return Cow::Borrowed(address);
    };
    if is_dot_string(local) {
        return Cow::Borrowed(address);
    }
    let mut out = String::with_capacity(address.len().saturating_add(4));
    out.push('"');
    for c in local.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push_str("\"@");
    out.push_str(domain);
    Cow::Owned(out)
}

/// RFC 5321 §4.1.2 `Dot-string = Atom *("." Atom)`.
fn is_dot_string(local: &str) -> bool {
    !local.is_empty()
        && local
            .split('.')
            .all(|atom| !atom.is_empty() && atom.chars().all(is_atext))
}

/// RFC 5322 §3.2.3 `atext`, plus RFC 6531 §3.3 `UTF8-non-ascii`.
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || !c.is_ascii()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unquote_examples() {
        assert_eq!(unquote("\"john doe\"@x.example"), "john doe@x.example");
        assert_eq!(unquote("\"a@b\"@x.example"), "a@b@x.example");
        assert_eq!(unquote("\"q\\\"u\\\\o\"@x"), "q\"u\\o@x");
        assert_eq!(unquote("\"no domain\""), "no domain");
        assert_eq!(unquote("plain@x"), "plain@x");
        // Not one Quoted-string: as it was.
        for s in ["\"open@x", "\"a\"b@x", "\"a\".b@x", "\"trailing\\"] {
            assert_eq!(unquote(s), s);
        }
    }

    #[test]
    fn quote_examples() {
        assert_eq!(quote("john doe@x"), "\"john doe\"@x");
        assert_eq!(quote("a@b@x"), "\"a@b\"@x");
        assert_eq!(quote("q\"u\\o@x"), "\"q\\\"u\\\\o\"@x");
        assert_eq!(quote(".lead@x"), "\".lead\"@x");
        assert_eq!(quote("a..b@x"), "\"a..b\"@x");
        assert_eq!(
            quote("SRS0=Ab+/=2W=x.example=u.s-er@fwd"),
            "SRS0=Ab+/=2W=x.example=u.s-er@fwd"
        );
        assert_eq!(quote("jörg@x"), "jörg@x");
        assert_eq!(quote("MAILER-DAEMON"), "MAILER-DAEMON");
        for internal in ["john doe@x", "a@b@x", "q\"u\\o@x", "a..b@x", "@x"] {
            assert_eq!(unquote(&quote(internal)), internal);
        }
    }
}
