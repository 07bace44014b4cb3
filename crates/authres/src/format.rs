//! The formatter: header field value with `; ` separators, one resinfo per folded line
//! (RFC 8601 §2.2, RFC 5322 §2.2.3), values quoted when they are not RFC 2045 tokens.

use std::borrow::Cow;
use std::fmt::Write;

use crate::{AuthenticationResults, MethodResult};

/// How [`AuthenticationResults::format`] lays out the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatOptions {
    /// Line separator used when folding: `"\n"` for milter `SMFIR_INSHEADER` (the MTA adds
    /// CR), `"\r\n"` for files and SMTP.
    pub line_separator: Cow<'static, str>,
    /// White space starting each continuation line (RFC 5322 §2.2.3 needs at least one WSP).
    pub indent: Cow<'static, str>,
    /// Columns already used on the first line, e.g. 24 for `Authentication-Results: `.
    pub first_line_offset: usize,
    /// Fold lines so they stay within this many columns (tab counted as 8), when possible.
    pub max_width: usize,
    /// Put each method result on its own line and fold long ones; false gives one line.
    pub fold: bool,
}

impl FormatOptions {
    /// For milters: bare `\n` + tab, 78 columns, after `Authentication-Results: `.
    pub fn milter() -> Self {
        FormatOptions {
            line_separator: "\n".into(),
            indent: "\t".into(),
            first_line_offset: "Authentication-Results: ".len(),
            max_width: 78,
            fold: true,
        }
    }

    /// For files and SMTP: CRLF + tab, 78 columns.
    pub fn crlf() -> Self {
        FormatOptions {
            line_separator: "\r\n".into(),
            ..Self::milter()
        }
    }

    /// Everything on one line, `; ` between method results.
    pub fn single_line() -> Self {
        FormatOptions {
            fold: false,
            ..Self::milter()
        }
    }
}

impl Default for FormatOptions {
    fn default() -> Self {
        Self::milter()
    }
}

/// Formats the value (see [`AuthenticationResults::format`]). Each token is written into one
/// reused buffer and from there into the output: no string per token.
pub(crate) fn format(ar: &AuthenticationResults, o: &FormatOptions) -> String {
    let mut w = Writer {
        out: String::with_capacity(64 + 96 * ar.results.len()),
        col: o.first_line_offset,
        o,
    };
    let mut tok = String::with_capacity(128);
    push_value(&mut tok, &ar.authserv_id);
    if let Some(v) = ar.version {
        // writing to a String cannot fail
        let _ = write!(tok, " {v}");
    }
    w.raw(&tok);
    if ar.results.is_empty() {
        w.raw("; none");
        if let Some(c) = &ar.none_comment {
            w.raw(" ");
            tok.clear();
            push_comment(&mut tok, c);
            w.raw(&tok);
        }
        return w.out;
    }
    let last = ar.results.len() - 1;
    for (i, r) in ar.results.iter().enumerate() {
        w.raw(";");
        if o.fold {
            w.newline();
        } else {
            w.raw(" ");
        }
        let n = token_count(r);
        let mut j = 0;
        for_each_token(r, &mut tok, |t| {
            // keep room for the ';' that follows the last token of all but the last resinfo
            let tail = usize::from(j + 1 == n && i != last);
            let tw = width(t);
            if j > 0 {
                if o.fold && w.col + 1 + tw + tail > o.max_width {
                    w.newline();
                } else {
                    w.raw(" ");
                }
            }
            w.token(t, tw, tail);
            j += 1;
        });
    }
    w.out
}

struct Writer<'a> {
    out: String,
    col: usize,
    o: &'a FormatOptions,
}

impl Writer<'_> {
    fn raw(&mut self, s: &str) {
        self.out.push_str(s);
        self.col += width(s);
    }

    fn newline(&mut self) {
        self.out.push_str(&self.o.line_separator);
        self.out.push_str(&self.o.indent);
        self.col = width(&self.o.indent);
    }

    /// Writes a token of display width `tw`; a token too long for the line is folded at its
    /// spaces (the space is kept after the line break, so unfolding restores it).
    fn token(&mut self, t: &str, tw: usize, tail: usize) {
        if !self.o.fold || self.col + tw + tail <= self.o.max_width || !t.contains(' ') {
            self.out.push_str(t);
            self.col += tw;
            return;
        }
        let mut words = t.split(' ');
        if let Some(first) = words.next() {
            self.raw(first);
        }
        for word in words {
            if !word.is_empty() && self.col + 1 + width(word) > self.o.max_width {
                self.out.push_str(&self.o.line_separator);
                self.col = 0;
            }
            self.raw(" ");
            self.raw(word);
        }
    }
}

/// Display width: tab counts as 8 columns.
fn width(s: &str) -> usize {
    let tabs = s.bytes().filter(|&b| b == b'\t').count();
    // one column per character: per byte when it is all ASCII (the usual case)
    let chars = if s.is_ascii() {
        s.len()
    } else {
        s.chars().count()
    };
    chars + 7 * tabs
}

/// How many tokens [`for_each_token`] gives for `r`.
fn token_count(r: &MethodResult) -> usize {
    1 + usize::from(r.result_comment.is_some())
        + usize::from(r.reason.is_some())
        + r.properties
            .iter()
            .map(|p| 1 + usize::from(p.comment.is_some()))
            .sum::<usize>()
}

/// The tokens of one resinfo (RFC 8601 §2.2), each written into `tok` and handed to `emit`:
/// `method[/version]=result`, the result comment, `reason=`, then each property and its
/// comment.
fn for_each_token(r: &MethodResult, tok: &mut String, mut emit: impl FnMut(&str)) {
    tok.clear();
    push_keyword(tok, &r.method);
    if let Some(v) = r.method_version {
        let _ = write!(tok, "/{v}");
    }
    tok.push('=');
    push_keyword(tok, &r.result);
    emit(tok);
    if let Some(c) = &r.result_comment {
        tok.clear();
        push_comment(tok, c);
        emit(tok);
    }
    if let Some(reason) = &r.reason {
        tok.clear();
        tok.push_str("reason=");
        push_value(tok, reason);
        emit(tok);
    }
    for p in &r.properties {
        tok.clear();
        if !p.ptype.is_empty() {
            push_keyword(tok, &p.ptype);
            tok.push('.');
        }
        push_keyword(tok, &p.name);
        tok.push('=');
        push_pvalue(tok, &p.value);
        emit(tok);
        if let Some(c) = &p.comment {
            tok.clear();
            push_comment(tok, c);
            emit(tok);
        }
    }
}

/// `s` with CR, LF and other controls replaced by spaces, so no value can inject a header line,
/// and every non-ASCII character by `?`: a header field of a message that is not SMTPUTF8 is
/// US-ASCII (RFC 5322 §2.2), and a value from the message (a From domain nobody could read, a
/// broken signature's `d=`) must not bring bidi controls or look-alike letters into our field
/// (borrowed when there are none, the usual case).
fn clean(s: &str) -> Cow<'_, str> {
    if s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.chars()
            .map(|c| match c {
                _ if c.is_control() => ' ',
                _ if !c.is_ascii() => '?',
                _ => c,
            })
            .collect(),
    )
}

/// A keyword as given, with anything outside `[A-Za-z0-9._-]` replaced by `-` (`-` if empty).
fn push_keyword(out: &mut String, s: &str) {
    if s.is_empty() {
        out.push('-');
        return;
    }
    if s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        out.push_str(s);
        return;
    }
    out.extend(s.chars().map(|c| {
        if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
            c
        } else {
            '-'
        }
    }));
}

/// RFC 2045 §5.1 tspecials.
pub(crate) fn is_tspecial(b: u8) -> bool {
    matches!(
        b,
        b'(' | b')'
            | b'<'
            | b'>'
            | b'@'
            | b','
            | b';'
            | b':'
            | b'\\'
            | b'"'
            | b'/'
            | b'['
            | b']'
            | b'?'
            | b'='
    )
}

/// RFC 2045 §5.1 token.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| (0x21..0x7f).contains(&b) && !is_tspecial(b))
}

/// `[local-part] "@" domain-name` with a dot-atom local-part and an RFC 6376 §3.5
/// domain-name: two or more labels, each `Let-dig [Ldh-str]` (RFC 8601 §2.2 pvalue).
fn is_mailbox_like(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    let atext = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b);
    let local_ok = local.is_empty()
        || local
            .split('.')
            .all(|part| !part.is_empty() && part.bytes().all(atext));
    let domain_ok = domain.contains('.')
        && domain.split('.').all(|l| {
            l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && l.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
                && l.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric())
        });
    local_ok && domain_ok
}

/// A `value` (RFC 2045 token or quoted-string).
fn push_value(out: &mut String, s: &str) {
    let s = clean(s);
    if is_token(&s) {
        out.push_str(&s);
    } else {
        push_quoted(out, &s);
    }
}

/// A `pvalue`: token, `local@domain`, or quoted-string.
fn push_pvalue(out: &mut String, s: &str) {
    let s = clean(s);
    if is_token(&s) || is_mailbox_like(&s) {
        out.push_str(&s);
    } else {
        push_quoted(out, &s);
    }
}

fn push_quoted(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    if !s.bytes().any(|b| b == b'"' || b == b'\\') {
        out.push_str(s);
        out.push('"');
        return;
    }
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

fn push_comment(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('(');
    let s = clean(s);
    if !s.bytes().any(|b| matches!(b, b'(' | b')' | b'\\')) {
        out.push_str(&s);
        out.push(')');
        return;
    }
    for c in s.chars() {
        if matches!(c, '(' | ')' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push(')');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Property;

    /// The character-by-character forms the ASCII fast paths must equal.
    mod reference {
        pub(super) fn width(s: &str) -> usize {
            s.chars().map(|c| if c == '\t' { 8 } else { 1 }).sum()
        }

        pub(super) fn keyword(s: &str) -> String {
            if s.is_empty() {
                return "-".into();
            }
            s.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                        c
                    } else {
                        '-'
                    }
                })
                .collect()
        }

        pub(super) fn comment(s: &str) -> String {
            let mut out = String::from("(");
            for c in s.chars() {
                let c = if c.is_control() {
                    ' '
                } else if c.is_ascii() {
                    c
                } else {
                    '?'
                };
                if matches!(c, '(' | ')' | '\\') {
                    out.push('\\');
                }
                out.push(c);
            }
            out.push(')');
            out
        }

        pub(super) fn quoted(s: &str) -> String {
            let mut out = String::from("\"");
            for c in s.chars() {
                if c == '"' || c == '\\' {
                    out.push('\\');
                }
                out.push(c);
            }
            out.push('"');
            out
        }
    }

    proptest::proptest! {
        /// The fast paths for ASCII text give what the per-character code gives, on ASCII,
        /// control characters and non-ASCII alike.
        #[test]
        fn fast_paths_match_the_per_character_forms(s in "[ -~\t\r\n\u{80}-\u{a0}é€(\\)\"]{0,40}") {
            proptest::prop_assert_eq!(width(&s), reference::width(&s));
            let mut k = String::new();
            push_keyword(&mut k, &s);
            proptest::prop_assert_eq!(k, reference::keyword(&s));
            let mut c = String::new();
            push_comment(&mut c, &s);
            proptest::prop_assert_eq!(c, reference::comment(&s));
            let mut q = String::new();
            push_quoted(&mut q, &s);
            proptest::prop_assert_eq!(q, reference::quoted(&s));
            proptest::prop_assert_eq!(
                clean(&s).into_owned(),
                s.chars()
                    .map(|c| if c.is_control() { ' ' } else if c.is_ascii() { c } else { '?' })
                    .collect::<String>()
            );
        }
    }

    fn value(s: &str) -> String {
        let mut out = String::new();
        push_value(&mut out, s);
        out
    }

    fn pvalue(s: &str) -> String {
        let mut out = String::new();
        push_pvalue(&mut out, s);
        out
    }

    fn comment(s: &str) -> String {
        let mut out = String::new();
        push_comment(&mut out, s);
        out
    }

    #[test]
    fn none_form() {
        let ar = AuthenticationResults::new("mx.example.com");
        assert_eq!(ar.format(&FormatOptions::milter()), "mx.example.com; none");
        let mut v = ar.clone();
        v.version = Some(1);
        assert_eq!(v.to_string(), "mx.example.com 1; none");
    }

    #[test]
    fn quoting_rules() {
        assert_eq!(pvalue("user@example.com"), "user@example.com");
        assert_eq!(pvalue("@example.com"), "@example.com");
        assert_eq!(pvalue("a b"), "\"a b\"");
        assert_eq!(pvalue("abc/def="), "\"abc/def=\"");
        assert_eq!(value("say \"hi\" \\o/"), "\"say \\\"hi\\\" \\\\o/\"");
        assert_eq!(comment("a (b) c"), "(a \\(b\\) c)");
        assert_eq!(value("evil\r\nX-Injected: 1"), "\"evil  X-Injected: 1\"");
        // a From domain with a right-to-left override, shown in a reason: ASCII only
        assert_eq!(
            value("unusable From domain: \u{202e}ssap=cramd"),
            "\"unusable From domain: ?ssap=cramd\""
        );
        assert_eq!(comment("b\u{fc}cher \u{200d}"), "(b?cher ?)");
    }

    #[test]
    fn mailbox_pvalue_needs_a_dkim_domain_name() {
        // RFC 8601 §2.2: unquoted `local@domain` only with an RFC 6376 §3.5 domain-name (two
        // or more labels of letters, digits and inner hyphens); anything else is quoted
        assert_eq!(pvalue("u@mail.example.com"), "u@mail.example.com");
        assert_eq!(pvalue("u@localhost"), "\"u@localhost\"");
        assert_eq!(pvalue("u@_spf.example.com"), "\"u@_spf.example.com\"");
        assert_eq!(pvalue("u@-x.example.com"), "\"u@-x.example.com\"");
        assert_eq!(pvalue("u@x-.example.com"), "\"u@x-.example.com\"");
        assert_eq!(pvalue("@example"), "\"@example\"");
    }

    #[test]
    fn folds_long_lines_under_78() {
        let ar = AuthenticationResults::new("mx.example.com").with(
            MethodResult::new("dkim", "pass")
                .with_comment("2048-bit rsa key sha256, verified against the published key record")
                .with_property("header", "d", "subdomain.of.a.long.example.com")
                .with_property("header", "s", "selector2024-long-selector-name")
                .with_property("header", "b", "AbCdEfGh")
                .with(Property::new("header", "i", "@x.example").with_comment("c")),
        );
        let v = ar.format(&FormatOptions::crlf());
        let mut first = true;
        for line in v.split("\r\n") {
            let w = width(line) + if first { 24 } else { 0 };
            first = false;
            assert!(w <= 78, "line too long ({w}): {line:?}");
        }
        assert_eq!(crate::parse(v.as_bytes()).unwrap(), ar);
    }
}
