//! Master-file ("zone file") syntax, RFC 1035 §5.1, as far as the in-memory resolver needs it:
//! `$ORIGIN` and `$TTL` directives, `@` for the origin, relative names, an optional TTL and
//! class (`IN`) in either order before the type, parentheses that continue a record over
//! several lines, `;` comments (and `#` comments, an extension of ours) outside quoted strings.
//!
//! Once `$ORIGIN` is set the text is read strictly as RFC 1035 says: names without a trailing
//! dot are relative to the origin, and a line that starts with white space has a blank owner,
//! which means the previous owner (§5.1). Before any `$ORIGIN`, every line starts with its
//! owner name, taken as it is with or without a trailing dot, and may be indented (the short
//! form `example.com TXT "..."` of tests and docs).

use std::fmt;

/// One record of the text: owner name (absolute, no trailing dot), type, and the RDATA text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// 1-based line where the record starts.
    pub line: usize,
    /// The owner, made absolute (no trailing dot).
    pub name: String,
    /// The record type as written, upper-cased (`TXT`, `MX`, `TIMEOUT`, ...).
    pub rtype: String,
    /// The RDATA text (parentheses removed, lines joined by a space).
    pub value: String,
    /// `$ORIGIN` in force for this record, to make relative targets absolute.
    pub origin: Option<String>,
}

impl Entry {
    /// A domain name from the RDATA (MX exchange, PTR or CNAME target) made absolute.
    pub fn absolute(&self, name: &str) -> String {
        absolute(name, self.origin.as_deref())
    }
}

/// A syntax error with its 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// 1-based line.
    pub line: usize,
    /// What was wrong.
    pub message: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Record types a zone file may hold that the in-memory resolver does not serve; they are
/// read and skipped, so a real zone file loads.
pub const SKIPPED_TYPES: &[&str] = &[
    "SOA",
    "NS",
    "SRV",
    "CAA",
    "TLSA",
    "DS",
    "DNSKEY",
    "RRSIG",
    "NSEC",
    "NSEC3",
    "NSEC3PARAM",
    "HINFO",
    "SSHFP",
    "NAPTR",
    "SVCB",
    "HTTPS",
    "LOC",
    "RP",
    "DNAME",
    "OPENPGPKEY",
    "SMIMEA",
    "URI",
    "CDS",
    "CDNSKEY",
    "ZONEMD",
];

/// Splits zone text into records.
pub fn parse(text: &str) -> Result<Vec<Entry>, SyntaxError> {
    let mut out = Vec::new();
    let mut origin: Option<String> = None;
    let mut last_owner: Option<String> = None;
    for (line, logical, indented) in logical_lines(text)? {
        let err = |message: String| SyntaxError { line, message };
        let mut words = Words::new(&logical);
        let Some(first) = words.next() else {
            continue;
        };
        if first.starts_with('$') {
            match first.to_ascii_uppercase().as_str() {
                "$ORIGIN" => {
                    let o = words
                        .next()
                        .ok_or_else(|| err("$ORIGIN needs a name".into()))?;
                    origin = Some(absolute(o, origin.as_deref()));
                }
                "$TTL" => {}
                other => return Err(err(format!("directive {other} is not supported"))),
            }
            continue;
        }
        let owner_omitted = indented && origin.is_some();
        let name = if owner_omitted {
            words = Words::new(&logical);
            last_owner
                .clone()
                .ok_or_else(|| err("no owner name (and none before)".into()))?
        } else if first == "@" {
            origin
                .clone()
                .ok_or_else(|| err("@ used without $ORIGIN".into()))?
        } else {
            absolute(first, origin.as_deref())
        };
        last_owner = Some(name.clone());
        // [TTL] [class] or [class] [TTL], then the type
        let mut rtype = None;
        for _ in 0..3 {
            let Some(w) = words.next() else { break };
            if is_ttl(w) || is_class(w) {
                continue;
            }
            rtype = Some(w.to_ascii_uppercase());
            break;
        }
        let rtype = rtype.ok_or_else(|| err("no record type".into()))?;
        out.push(Entry {
            line,
            name,
            rtype,
            value: words.rest().trim().to_string(),
            origin: origin.clone(),
        });
    }
    Ok(out)
}

/// `name` made absolute against `origin` (no trailing dot in the result).
fn absolute(name: &str, origin: Option<&str>) -> String {
    let name = name.trim();
    if let Some(abs) = name.strip_suffix('.') {
        return abs.to_string();
    }
    match origin {
        Some(o) if name == "@" => o.to_string(),
        Some(o) if !o.is_empty() => format!("{name}.{o}"),
        _ => name.to_string(),
    }
}

fn is_class(w: &str) -> bool {
    matches!(w.to_ascii_uppercase().as_str(), "IN" | "CH" | "HS" | "CS")
}

/// A TTL: digits, or BIND's `1h30m` form.
fn is_ttl(w: &str) -> bool {
    w.chars().next().is_some_and(|c| c.is_ascii_digit())
        && w.chars().all(|c| {
            c.is_ascii_digit() || matches!(c.to_ascii_lowercase(), 's' | 'm' | 'h' | 'd' | 'w')
        })
}

/// The records as logical lines: comments removed, parenthesised continuations joined.
/// Each with its first line number and whether it started with white space.
fn logical_lines(text: &str) -> Result<Vec<(usize, String, bool)>, SyntaxError> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String, bool)> = None;
    let mut depth = 0usize;
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let mut piece = String::new();
        let mut in_quotes = false;
        let mut escaped = false;
        for c in raw.chars() {
            if escaped {
                escaped = false;
                piece.push(c);
                continue;
            }
            match c {
                '\\' if in_quotes => {
                    escaped = true;
                    piece.push(c);
                }
                '"' => {
                    in_quotes = !in_quotes;
                    piece.push(c);
                }
                ';' | '#' if !in_quotes => break,
                '(' if !in_quotes => {
                    depth += 1;
                    piece.push(' ');
                }
                ')' if !in_quotes => {
                    depth = depth.checked_sub(1).ok_or_else(|| SyntaxError {
                        line,
                        message: "')' without '('".into(),
                    })?;
                    piece.push(' ');
                }
                _ => piece.push(c),
            }
        }
        if in_quotes {
            return Err(SyntaxError {
                line,
                message: "unterminated quoted string".into(),
            });
        }
        match current.as_mut() {
            Some((_, text, _)) => {
                text.push(' ');
                text.push_str(&piece);
            }
            None => {
                if piece.trim().is_empty() {
                    continue;
                }
                let indented = piece.starts_with([' ', '\t']);
                current = Some((line, piece, indented));
            }
        }
        if depth == 0
            && let Some(done) = current.take()
        {
            out.push(done);
        }
    }
    if let Some((line, _, _)) = current {
        return Err(SyntaxError {
            line,
            message: "'(' is never closed".into(),
        });
    }
    Ok(out)
}

/// White-space separated words that keep quoted strings whole, with the unread rest.
struct Words<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Words<'a> {
    fn new(text: &'a str) -> Self {
        Words { text, pos: 0 }
    }

    fn next(&mut self) -> Option<&'a str> {
        let rest = self.text.get(self.pos..)?;
        let start = self.pos + (rest.len() - rest.trim_start().len());
        let tail = self.text.get(start..)?;
        if tail.is_empty() {
            return None;
        }
        let len = tail.find(char::is_whitespace).unwrap_or(tail.len());
        self.pos = start + len;
        tail.get(..len)
    }

    fn rest(&self) -> &'a str {
        self.text.get(self.pos..).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn genkey_output_and_bind_forms() {
        let text = "$ORIGIN example.com.\n$TTL 1h\n\
            @ 3600 IN SOA ns hostmaster ( 1 2 3\n 4 5 )\n\
            \tIN NS ns.example.com.\n\
            2026a._domainkey IN TXT ( \"v=DKIM1; k=rsa; \"\n\t\"p=AB\" ) ; comment\n\
            sel._domainkey.example.org. 300 IN TXT \"x\"\n\
            mail IN 60 A 192.0.2.1\n\
            \t MX 10 mail\n";
        let e = parse(text).unwrap();
        let names: Vec<(&str, &str)> = e
            .iter()
            .map(|e| (e.name.as_str(), e.rtype.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("example.com", "SOA"),
                ("example.com", "NS"),
                ("2026a._domainkey.example.com", "TXT"),
                ("sel._domainkey.example.org", "TXT"),
                ("mail.example.com", "A"),
                ("mail.example.com", "MX"),
            ]
        );
        assert_eq!(e[2].value, "\"v=DKIM1; k=rsa; \" \t\"p=AB\"");
        assert_eq!(e[2].line, 6);
        assert_eq!(e[5].absolute("mail"), "mail.example.com");
    }

    #[test]
    fn short_form_without_origin_is_absolute() {
        let e = parse("  example.com TXT \"a;b\" # c\n").unwrap();
        assert_eq!(e[0].name, "example.com");
        assert_eq!(e[0].value, "\"a;b\"");
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(parse("a TXT ( \"x\"\n").unwrap_err().line, 1);
        assert_eq!(parse("\n a TXT \"x\" )\n").unwrap_err().line, 2);
        assert_eq!(parse("@ TXT \"x\"\n").unwrap_err().line, 1);
        assert_eq!(parse("\n\n$INCLUDE other\n").unwrap_err().line, 3);
        assert_eq!(parse("a TXT \"x\n").unwrap_err().line, 1);
    }
}
