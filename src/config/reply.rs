//! SMTP reply templates (`reject_reply`, `tempfail_reply`, …), parsed once when the
//! configuration loads into a typed template that renders `milter_proto::SmtpReply` values.
//!
//! A template is `CODE [ENHANCED] TEXT` (RFC 5321 §4.2, RFC 3463), e.g.
//! `550 5.7.1 DMARC policy of {domain} says reject`. The code's class is fixed by the key
//! (5 for rejections, 4 for temporary failures), the enhanced code's class must equal it, the
//! text is one line of US-ASCII without control characters, and `{name}` slots are filled in when the
//! reply is sent: `{domain}`, `{explanation}` (SPF), `{problem}` (a From field that cannot be
//! evaluated). Values are cleaned of control characters (spaces) and non-ASCII characters
//! (`?`) and cut to a sane length, so mail cannot inject reply lines or 8-bit reply text.

use std::fmt;

use milter_proto::{EnhancedCode, SmtpReply};
use serde::{Deserialize, Serialize};

/// Longest text of one reply line on the milter wire, `%` doubled (libmilter allows 980).
const WIRE_WIDTH: usize = 900;
/// Longest reply line the SMTP client may see, its code and CRLF included (RFC 5321
/// §4.5.3.1.5); the text's share is what the code and enhanced code leave.
const SMTP_LINE: usize = 512;
/// Longest value we put into a slot (a domain is at most 253; an SPF explanation is free text).
const MAX_SLOT_VALUE: usize = 400;

/// The values a template's slots are filled with.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReplyValues<'a> {
    /// `{domain}`: the domain the answer is about.
    pub domain: &'a str,
    /// `{explanation}`: the SPF explanation (RFC 7208 §6.2).
    pub explanation: &'a str,
    /// `{problem}`: why the From field cannot be evaluated.
    pub problem: &'a str,
}

/// One `{name}` slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Domain,
    Explanation,
    Problem,
}

impl Slot {
    fn name(self) -> &'static str {
        match self {
            Slot::Domain => "domain",
            Slot::Explanation => "explanation",
            Slot::Problem => "problem",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Slot(Slot),
}

/// A parsed reply template: code, enhanced status code, text with slots (RFC 5321 §4.2,
/// RFC 3463 §2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyTemplate {
    source: String,
    code: u16,
    enhanced: Option<EnhancedCode>,
    parts: Vec<Part>,
    /// The reply with an empty text, validated at parse time: what `render` falls back to.
    bare: SmtpReply,
}

impl ReplyTemplate {
    /// Parses `text` for a reply whose code must be of `class` (4 or 5).
    pub fn parse(text: &str, class: u8) -> Result<Self, String> {
        let example = format!("e.g. \"{class}50 {class}.7.1 text\"");
        if text.contains(|c: char| c.is_control()) {
            return Err(format!(
                "reply must be one line without control characters (CR, LF, NUL…), {example}"
            ));
        }
        if !text.is_ascii() {
            return Err(format!(
                "reply text must be US-ASCII (RFC 5321 §4.2; the MTA sends it as it is), {example}"
            ));
        }
        let t = text.trim();
        let code: u16 = t
            .get(..3)
            .filter(|c| c.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| format!("reply must start with a {class}xx code, {example}"))?;
        if code / 100 != u16::from(class) {
            return Err(format!(
                "reply code {code} has the wrong class: this reply needs {class}xx, {example}"
            ));
        }
        let rest = t.get(3..).unwrap_or_default();
        if !rest.is_empty() && !rest.starts_with(' ') {
            return Err(format!("a space must follow the code {code}, {example}"));
        }
        let rest = rest.trim_start();
        let (enhanced, body) = match rest.split_once(' ') {
            Some((first, tail)) if looks_enhanced(first) => (Some(first), tail),
            None if looks_enhanced(rest) => (Some(rest), ""),
            _ => (None, rest),
        };
        let enhanced = enhanced
            .map(|e| {
                let parsed = EnhancedCode::parse(e.as_bytes())
                    .map_err(|err| format!("bad enhanced status code {e:?}: {err}"))?;
                if parsed.class() != class {
                    return Err(format!(
                        "enhanced status code {e} must start with {class}, like the reply code"
                    ));
                }
                Ok(parsed)
            })
            .transpose()?;
        let bare = SmtpReply::from_parts(code, enhanced, vec![Vec::new()])
            .map_err(|e| format!("bad reply: {e}"))?;
        let template = ReplyTemplate {
            source: text.to_string(),
            code,
            enhanced,
            parts: parse_parts(body)?,
            bare,
        };
        // the fixed text alone must fit: what does not would be lost
        let fixed: String = template
            .parts
            .iter()
            .filter_map(|p| match p {
                Part::Text(t) => Some(t.as_str()),
                Part::Slot(_) => None,
            })
            .collect();
        if template.lines_of(&fixed).len() > milter_proto::MAX_REPLY_LINES {
            return Err(format!(
                "reply text too long: it takes more than {} reply lines of {SMTP_LINE} octets (RFC 5321 §4.5.3.1.5; libmilter sends at most {})",
                milter_proto::MAX_REPLY_LINES,
                milter_proto::MAX_REPLY_LINES
            ));
        }
        Ok(template)
    }

    /// The text with its slots filled, each value cleaned and cut to `limit` characters.
    fn filled(&self, values: &ReplyValues<'_>, limit: usize) -> String {
        let mut text = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => text.push_str(t),
                Part::Slot(slot) => text.push_str(&clean_value(
                    match slot {
                        Slot::Domain => values.domain,
                        Slot::Explanation => values.explanation,
                        Slot::Problem => values.problem,
                    },
                    limit,
                )),
            }
        }
        text
    }

    /// `text` split into the reply's lines (see [`split_lines`]), none cut off yet.
    fn lines_of(&self, text: &str) -> Vec<String> {
        // "550-" or "550 ", the enhanced code and its space, the CRLF
        let prefix = 4 + self.enhanced.map_or(0, |e| e.to_string().len() + 1) + 2;
        split_lines(text, SMTP_LINE.saturating_sub(prefix), WIRE_WIDTH)
    }

    /// The reply code (`550`, `451`, …).
    pub fn code(&self) -> u16 {
        self.code
    }

    /// The first placeholder of the text not among `filled` (`"problem"`), if any: one the
    /// reply would leave empty.
    pub fn unfilled(&self, filled: &[&str]) -> Option<&'static str> {
        self.parts.iter().find_map(|p| match p {
            Part::Slot(slot) if !filled.contains(&slot.name()) => Some(slot.name()),
            _ => None,
        })
    }

    /// Fills the slots and builds the reply (RFC 5321 §4.2; long text is split over several
    /// lines, each within libmilter's limits).
    pub fn render(&self, values: &ReplyValues<'_>) -> SmtpReply {
        // the template's own text fits (checked when parsed): values that would push it past
        // the last line are cut shorter, down to nothing
        let mut limit = MAX_SLOT_VALUE;
        let lines = loop {
            let lines = self.lines_of(&self.filled(values, limit));
            if lines.len() <= milter_proto::MAX_REPLY_LINES || limit == 0 {
                break lines;
            }
            // 400, 200, 100 ... 1, 0
            limit /= 2;
        };
        SmtpReply::from_parts(
            self.code,
            self.enhanced,
            lines.iter().map(|l| l.as_bytes().to_vec()).collect(),
        )
        .unwrap_or_else(|_| self.bare.clone())
    }
}

impl fmt::Display for ReplyTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// A permanent-failure template (`5xx`), as `milter.toml` holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RejectReply(pub ReplyTemplate);

/// A temporary-failure template (`4xx`), as `milter.toml` holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TempfailReply(pub ReplyTemplate);

impl TryFrom<String> for RejectReply {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        ReplyTemplate::parse(&s, 5).map(RejectReply)
    }
}

impl TryFrom<String> for TempfailReply {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        ReplyTemplate::parse(&s, 4).map(TempfailReply)
    }
}

impl From<RejectReply> for String {
    fn from(r: RejectReply) -> String {
        r.0.source
    }
}

impl From<TempfailReply> for String {
    fn from(r: TempfailReply) -> String {
        r.0.source
    }
}

impl RejectReply {
    /// A built-in template (the defaults, validated by the tests).
    pub fn builtin(text: &str) -> Self {
        #[allow(clippy::expect_used)]
        RejectReply(ReplyTemplate::parse(text, 5).expect("built-in 5xx template")) // allow-unwrap: a constant of ours, checked by config tests
    }
}

impl TempfailReply {
    /// A built-in template (the defaults, validated by the tests).
    pub fn builtin(text: &str) -> Self {
        #[allow(clippy::expect_used)]
        TempfailReply(ReplyTemplate::parse(text, 4).expect("built-in 4xx template")) // allow-unwrap: a constant of ours, checked by config tests
    }
}

impl std::ops::Deref for RejectReply {
    type Target = ReplyTemplate;
    fn deref(&self) -> &ReplyTemplate {
        &self.0
    }
}

impl std::ops::Deref for TempfailReply {
    type Target = ReplyTemplate;
    fn deref(&self) -> &ReplyTemplate {
        &self.0
    }
}

fn looks_enhanced(s: &str) -> bool {
    let mut n = 0;
    for p in s.split('.') {
        n += 1;
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    n == 3
}

fn parse_parts(body: &str) -> Result<Vec<Part>, String> {
    let mut parts = Vec::new();
    let mut rest = body;
    while let Some(open) = rest.find('{') {
        let (text, after) = rest.split_at(open);
        if !text.is_empty() {
            parts.push(Part::Text(text.to_string()));
        }
        let after = after.get(1..).unwrap_or_default();
        let close = after
            .find('}')
            .ok_or_else(|| "unclosed '{' in reply text".to_string())?;
        let name = after.get(..close).unwrap_or_default();
        parts.push(Part::Slot(match name {
            "domain" => Slot::Domain,
            "explanation" => Slot::Explanation,
            "problem" => Slot::Problem,
            other => {
                return Err(format!(
                    "unknown placeholder {{{other}}} in reply text (use {{domain}}, {{explanation}} or {{problem}})"
                ));
            }
        }));
        rest = after.get(close + 1..).unwrap_or_default();
    }
    if !rest.is_empty() {
        parts.push(Part::Text(rest.to_string()));
    }
    Ok(parts)
}

/// A slot value as it may appear in a reply (RFC 5321 §4.2 textstring: printable US-ASCII):
/// control characters become spaces, other non-ASCII characters `?`, long values are cut
/// with `...`.
fn clean_value(v: &str, limit: usize) -> String {
    let mut out: String = v
        .chars()
        .map(|c| match c {
            ' '..='~' => c,
            c if c.is_control() => ' ',
            _ => '?',
        })
        .take(limit)
        .collect();
    // (at 0, nothing at all: the template's own text alone is known to fit)
    if limit > 0 && v.chars().count() > limit {
        out.push_str("...");
    }
    out
}

/// The bytes `c` takes on the wire: `%` is sent doubled (`SmtpReply::to_wire`).
fn wire_width(c: char) -> usize {
    if c == '%' { 2 } else { c.len_utf8() }
}

/// Splits text into lines of at most `seen` bytes as the SMTP client sees them and `wire`
/// bytes on the milter wire (`%` doubled), at spaces (or hard, at char boundaries).
fn split_lines(text: &str, seen: usize, wire: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    // (bytes seen, bytes on the wire) of `current`
    let (mut width, mut wire_used) = (0, 0);
    let fits = |width: usize, wire_used: usize, add: (usize, usize)| {
        width + add.0 <= seen && wire_used + add.1 <= wire
    };
    for word in text.split(' ') {
        let word_width = (word.len(), word.chars().map(wire_width).sum::<usize>());
        if !current.is_empty() && !fits(width + 1, wire_used + 1, word_width) {
            lines.push(std::mem::take(&mut current));
            (width, wire_used) = (0, 0);
        }
        if !current.is_empty() {
            current.push(' ');
            (width, wire_used) = (width + 1, wire_used + 1);
        }
        for c in word.chars() {
            let add = (c.len_utf8(), wire_width(c));
            if !current.is_empty() && !fits(width, wire_used, add) {
                lines.push(std::mem::take(&mut current));
                (width, wire_used) = (0, 0);
            }
            current.push(c);
            (width, wire_used) = (width + add.0, wire_used + add.1);
        }
    }
    lines.push(current);
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(t: &str, class: u8, v: ReplyValues<'_>) -> Vec<u8> {
        ReplyTemplate::parse(t, class).unwrap().render(&v).to_wire()
    }

    #[test]
    fn renders_slots() {
        let v = ReplyValues {
            domain: "example.com",
            explanation: "see 100% http://x",
            problem: "",
        };
        assert_eq!(
            render("550 5.7.1 DMARC policy of {domain} says reject", 5, v),
            b"550 5.7.1 DMARC policy of example.com says reject"
        );
        assert_eq!(
            render("550 5.7.23 {domain}: {explanation}", 5, v),
            b"550 5.7.23 example.com: see 100%% http://x"
        );
        assert_eq!(render("451 try later", 4, v), b"451 try later");
    }

    #[test]
    fn values_cannot_inject_lines() {
        let v = ReplyValues {
            domain: "evil.example\r\n250 ok",
            ..ReplyValues::default()
        };
        let wire = render("550 5.7.1 {domain}", 5, v);
        assert_eq!(wire, b"550 5.7.1 evil.example  250 ok");
        let long = "x".repeat(5000);
        let v = ReplyValues {
            explanation: &long,
            ..ReplyValues::default()
        };
        let r = ReplyTemplate::parse("550 5.7.23 {explanation}", 5)
            .unwrap()
            .render(&v);
        assert!(r.to_wire().len() < 1000);
    }

    /// RFC 5321 §4.2: `textstring = 1*(%d09 / %d32-126)`. Slot values from mail (a From
    /// domain that is not ASCII, an explanation cut at the limit) become printable ASCII.
    #[test]
    fn replies_are_printable_ascii() {
        let long = format!("{} end", "x".repeat(MAX_SLOT_VALUE));
        for v in [
            ReplyValues {
                problem: "unusable From domain: b\u{fc}cher.\u{fffd}xample",
                ..ReplyValues::default()
            },
            ReplyValues {
                explanation: &long,
                ..ReplyValues::default()
            },
        ] {
            let wire = render("550 5.7.1 {problem}{explanation}", 5, v);
            assert!(
                wire.iter()
                    .all(|&b| b == b'\t' || (0x20..0x7f).contains(&b)),
                "{}",
                String::from_utf8_lossy(&wire)
            );
        }
        let v = ReplyValues {
            problem: "b\u{fc}cher",
            ..ReplyValues::default()
        };
        assert_eq!(render("550 5.7.1 {problem}", 5, v), b"550 5.7.1 b?cher");
        let v = ReplyValues {
            explanation: &long,
            ..ReplyValues::default()
        };
        let wire = render("550 5.7.1 {explanation}", 5, v);
        assert!(
            wire.ends_with(b"x..."),
            "{}",
            String::from_utf8_lossy(&wire)
        );
    }

    /// A reply whose text is all `%` (doubled on the wire, RFC milter SMFIR_REPLYCODE) is
    /// split so that each wire line fits, instead of falling back to a reply without text.
    #[test]
    fn percent_signs_count_twice_toward_the_line_width() {
        let template = format!("550 5.7.1 {}", "%".repeat(1200));
        let r = ReplyTemplate::parse(&template, 5)
            .unwrap()
            .render(&ReplyValues::default());
        let text: usize = r.lines().iter().map(Vec::len).sum();
        assert_eq!(text, 1200, "the text was dropped");
    }

    /// RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets with its code and CRLF, as
    /// the SMTP client sees it (`%%` on the milter wire is one `%` there); a long configured
    /// text or a sender's long domain and SPF explanation are split over more lines.
    #[test]
    fn every_line_fits_rfc5321s_512_octets() {
        let long_domain = format!("{}.example", vec!["a".repeat(63); 3].join("."));
        let explanation = "why ".repeat(100);
        let cases = [
            format!("550 5.7.1 {}", "word1 ".repeat(170)),
            format!("550 5.7.1 {}", "x".repeat(1500)),
            format!("550 5.7.1 {}", "50% ".repeat(300)),
            format!("550 {}", "y ".repeat(400)),
            "550 5.7.23 SPF check failed for {domain}: {explanation}".to_string(),
        ];
        for template in &cases {
            let v = ReplyValues {
                domain: &long_domain,
                explanation: &explanation,
                problem: "",
            };
            let wire = render(template, 5, v);
            let seen = String::from_utf8(wire).unwrap().replace("%%", "%");
            let lines: Vec<&str> = seen.split("\r\n").collect();
            for line in &lines {
                assert!(line.len() + 2 <= 512, "{} octets: {line}", line.len() + 2);
            }
            let words: usize = lines.iter().map(|l| l.len()).sum();
            assert!(words > 600, "the text was cut: {seen}");
        }
    }

    /// A template that just fits keeps its own text whole however long the values: they are
    /// cut shorter instead (its end after eight long domains was lost at the 32nd line).
    #[test]
    fn long_values_never_push_the_templates_text_out() {
        let template = format!(
            "550 5.7.1 {} {} END-OF-FIXED",
            "{domain} ".repeat(8),
            "word ".repeat(2_950)
        );
        let domain = "d".repeat(200);
        let v = ReplyValues {
            domain: &domain,
            ..ReplyValues::default()
        };
        let wire = String::from_utf8(render(&template, 5, v)).unwrap();
        assert!(
            wire.ends_with("END-OF-FIXED"),
            "{}",
            &wire[wire.len() - 200..]
        );
        assert_eq!(wire.matches("word").count(), 2_950);
        assert!(wire.split("\r\n").all(|l| l.len() + 2 <= 512));
    }

    #[test]
    fn values_put_only_ascii_in_the_reply() {
        // RFC 5321 §4.2: reply text is HT and printable US-ASCII; a From domain with 8-bit
        // bytes ends up in {problem}, an SPF explanation can be any text
        let problem = "unusable From domain: b\u{fffd}d..b\u{fc}cher.example";
        let long = "\u{e9}".repeat(600);
        let v = ReplyValues {
            problem,
            explanation: &long,
            ..ReplyValues::default()
        };
        for t in ["550 5.7.1 {problem}", "550 5.7.23 {explanation}"] {
            let wire = render(t, 5, v);
            assert!(
                wire.iter().all(|&b| (0x20..0x7f).contains(&b)),
                "{t}: {}",
                String::from_utf8_lossy(&wire)
            );
        }
        assert_eq!(
            render("550 5.7.1 {problem}", 5, v),
            b"550 5.7.1 unusable From domain: b?d..b?cher.example"
        );
    }

    #[test]
    fn refuses_bad_templates() {
        let too_long = format!("550 5.7.1 {}", "word ".repeat(3_300));
        for (t, class, why) in [
            ("250 ok", 5, "wrong class"),
            ("450 4.7.1 x", 5, "wrong class"),
            ("550 4.7.1 x", 5, "must start with 5"),
            ("5", 5, "must start with a 5xx code"),
            ("550x", 5, "a space must follow"),
            ("550 5.7.1 a\r\nb", 5, "one line"),
            ("550 5.7.1 a\0b", 5, "one line"),
            ("550 5.7.1 {nope}", 5, "unknown placeholder"),
            ("550 5.7.1 {domain", 5, "unclosed"),
            ("550 5.7.1000 x", 5, "enhanced"),
            (
                "550 5.7.1 Nachricht f\u{fc}r {domain} abgewiesen",
                5,
                "US-ASCII",
            ),
            ("550 5.7.1 Zur\u{fc}ckgewiesen", 5, "US-ASCII"),
            // more than the 32 lines of 512 octets a reply may have: the rest would be lost
            (&too_long, 5, "32 reply lines"),
        ] {
            let err = ReplyTemplate::parse(t, class).err();
            assert!(err.is_some(), "{t:?} was accepted");
            assert!(err.unwrap().contains(why), "{t:?}");
        }
        // "5.7 x" is not an enhanced code: it is text
        assert_eq!(render("550 5.7 x", 5, ReplyValues::default()), b"550 5.7 x");
        let fits = format!("550 5.7.1 {}", "word ".repeat(2_900));
        let wire = render(&fits, 5, ReplyValues::default());
        assert_eq!(
            String::from_utf8(wire).unwrap().matches("word").count(),
            2_900
        );
    }

    #[test]
    fn round_trips_through_serde_as_the_written_text() {
        let r = RejectReply::try_from("550 5.7.1 Rejected: {domain}".to_string()).unwrap();
        assert_eq!(String::from(r), "550 5.7.1 Rejected: {domain}");
        assert!(TempfailReply::try_from("550 x".to_string()).is_err());
    }
}
