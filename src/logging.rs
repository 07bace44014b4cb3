//! Logging setup: tracing to stderr, text or JSON, level from the config or `RUST_LOG`.

use std::sync::atomic::{AtomicBool, Ordering};

use tracing_subscriber::EnvFilter;

use crate::config::{LogConfig, LogFormat};

/// Installs the global tracing subscriber. `RUST_LOG`, when set, overrides `config.level`.
/// Calling it twice is harmless (the second call changes nothing).
pub fn init(config: &LogConfig) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(config.level.as_str()))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false);
    let installed = match config.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    if installed.is_ok() {
        // JSON quotes and escapes strings itself: a field's own quotes would be inside them
        QUOTED_FIELDS.store(config.format == LogFormat::Text, Ordering::Relaxed);
    }
}

/// Whether [`Field`]s are written in quotes (the text format; not JSON).
static QUOTED_FIELDS: AtomicBool = AtomicBool::new(true);

/// A network value as a log field (`field = %Field(Escaped::str(..))`): escaped as
/// [`Escaped`], and in the text format in double quotes with `"` escaped, so that blanks and
/// quotes in the value cannot make fields of their own (RFC 5424 §8.2 spirit; a logfmt parser
/// reads one field); in the JSON format the plain escaped text, which JSON quotes.
pub struct Field<'a>(pub Escaped<'a>);

impl std::fmt::Display for Field<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.write(f, QUOTED_FIELDS.load(Ordering::Relaxed))
    }
}

/// Logging for one-shot CLI commands: warnings and errors only unless `RUST_LOG` says otherwise.
pub fn init_cli() {
    init(&LogConfig {
        level: crate::config::LogLevel::from("warn"),
        format: LogFormat::Text,
    });
}

/// A value from the network made safe for a log line (RFC 5424 §8.2 spirit): backslashes,
/// control characters (CR, LF, ESC, DEL, C1), line and paragraph separators, invisible format
/// characters and bidi controls (U+202E...) are escaped, invalid UTF-8 bytes shown as
/// `\xNN`, so mail cannot forge log lines or send terminal sequences. As a log field it is
/// written as a [`Field`]: in double quotes with `"` escaped in the text format, a plain JSON
/// string in the JSON format, so that a value with blanks (`x action="accept"`) cannot pass
/// for fields of its own; in a message's text it is written quoted ([`std::fmt::Debug`]); past
/// [`LOGGED_VALUE_MAX`] bytes it is cut, with the count of the rest, so that a value sent
/// once and logged with every message (a 100 KB CONNECT host name, a queue-id macro) cannot
/// make the log a thousand times what the peer sent.
#[derive(Clone, Copy)]
pub struct Escaped<'a> {
    bytes: &'a [u8],
    /// The most bytes shown.
    max: usize,
}

/// The most bytes of one network value a log line shows: above any host name, address or
/// queue id (RFC 5321 §4.5.3.1 limits a path to 256 octets).
pub const LOGGED_VALUE_MAX: usize = 512;

/// The most bytes of a text of ours made of network values, each already bounded (the
/// message's `results`): it is shown whole, this only guards against a mistake.
pub const LOGGED_SUMMARY_MAX: usize = 8192;

impl<'a> Escaped<'a> {
    /// Wraps a value from the network, cut after [`LOGGED_VALUE_MAX`] bytes.
    pub fn str(s: &'a str) -> Self {
        Escaped::bytes(s.as_bytes())
    }

    /// Wraps bytes from the network, cut after [`LOGGED_VALUE_MAX`] bytes.
    pub fn bytes(bytes: &'a [u8]) -> Self {
        Escaped {
            bytes,
            max: LOGGED_VALUE_MAX,
        }
    }

    /// Wraps a text of ours that holds network values, each bounded already (cut after
    /// [`LOGGED_SUMMARY_MAX`] bytes).
    pub fn summary(s: &'a str) -> Self {
        Escaped {
            bytes: s.as_bytes(),
            max: LOGGED_SUMMARY_MAX,
        }
    }
}

impl Escaped<'_> {
    /// Writes the value escaped; `quoted`: in double quotes, with `"` escaped too.
    fn write(&self, f: &mut std::fmt::Formatter<'_>, quoted: bool) -> std::fmt::Result {
        use std::fmt::Write;
        let (shown, cut) = match self.bytes.get(..self.max) {
            Some(head) if self.bytes.len() > self.max => (head, self.bytes.len() - head.len()),
            _ => (self.bytes, 0),
        };
        if quoted {
            f.write_char('"')?;
        }
        for chunk in shown.utf8_chunks() {
            for c in chunk.valid().chars() {
                match c {
                    '\\' => f.write_str("\\\\")?,
                    '"' if quoted => f.write_str("\\\"")?,
                    '\n' => f.write_str("\\n")?,
                    '\r' => f.write_str("\\r")?,
                    '\t' => f.write_str("\\t")?,
                    c if c.is_control() || is_bidi_control(c) || is_invisible_break(c) => {
                        write!(f, "\\u{{{:x}}}", u32::from(c))?
                    }
                    c => f.write_char(c)?,
                }
            }
            for b in chunk.invalid() {
                write!(f, "\\x{b:02x}")?;
            }
        }
        if cut > 0 {
            write!(f, "...({cut} more bytes)")?;
        }
        if quoted {
            f.write_char('"')?;
        }
        Ok(())
    }
}

impl std::fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.write(f, false)
    }
}

/// JSON text `json` (serde's output) with every control character, bidi control and invisible
/// break written as a `\uXXXX` escape: the same JSON value, which a terminal or a spreadsheet
/// shows without acting on a reporter's escape sequences or reordering what follows (serde
/// escapes only U+0000 to U+001F). Such characters stand only inside JSON strings.
pub fn json_visible(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_control() && !matches!(c, '\n' | '\t' | '\r')
            || is_bidi_control(c)
            || is_invisible_break(c)
        {
            for unit in c.encode_utf16(&mut [0; 2]) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The explicit bidirectional formatting characters (Unicode UAX #9 §2: ALM, LRM, RLM,
/// the embeddings, overrides and isolates), which reorder the rest of a line on display.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{61c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Line and paragraph separators (Unicode Zl, Zp: line breaks to many viewers and to
/// `str.splitlines()`) and invisible format characters (zero-width space and joiners, word
/// joiner, BOM).
fn is_invisible_break(c: char) -> bool {
    matches!(c, '\u{2028}' | '\u{2029}' | '\u{200b}'..='\u{200d}' | '\u{2060}'..='\u{2064}' | '\u{feff}')
}

/// The quoted form, for a value inside a log message's text (`"...: {:?}"`).
impl std::fmt::Debug for Escaped<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.write(f, true)
    }
}

#[cfg(test)]
mod tests {
    use super::Escaped;

    #[test]
    fn network_values_cannot_forge_log_lines() {
        let forged =
            b"evil.example\r\n2026-12-04T00:00:00Z  INFO message action=accept\x1b[2K\\\xff";
        let s = Escaped::bytes(forged).to_string();
        assert!(!s.contains('\n') && !s.contains('\r') && !s.contains('\x1b'));
        assert_eq!(
            s,
            "evil.example\\r\\n2026-12-04T00:00:00Z  INFO message action=accept\\u{1b}[2K\\\\\\xff"
        );
        assert_eq!(Escaped::str("plain.example").to_string(), "plain.example");
        // as a field: quoted, so blanks and quotes cannot make fields of their own
        assert_eq!(
            format!("{:?}", Escaped::str("example.org action=\"accept\" reply=")),
            "\"example.org action=\\\"accept\\\" reply=\""
        );
        // line separators and invisible format characters are escaped too
        assert_eq!(
            Escaped::str("a\u{2028}b\u{2029}c\u{200b}d\u{feff}").to_string(),
            "a\\u{2028}b\\u{2029}c\\u{200b}d\\u{feff}"
        );
    }

    /// A long value is cut (a cut inside a UTF-8 sequence shows its bytes escaped).
    #[test]
    fn long_values_are_cut() {
        let host = "a".repeat(100_000);
        let s = Escaped::str(&host).to_string();
        assert_eq!(s, format!("{}...(99488 more bytes)", "a".repeat(512)));
        let s = Escaped::str(&"é".repeat(300)).to_string();
        assert!(s.ends_with("é...(88 more bytes)"), "{s}");
        assert_eq!(Escaped::str(&"b".repeat(512)).to_string(), "b".repeat(512));
    }

    /// A report's org_name `x\u{202e}` (RIGHT-TO-LEFT OVERRIDE) would turn the rest of a
    /// `report show` line or log line around on a terminal: `12 345 messages` shows as
    /// `segassem 543 21` (Unicode bidi controls, CVE-2021-42574 "Trojan Source"). The
    /// explicit bidi controls are escaped; other non-ASCII text stays as it is.
    /// A report's names in `report show --json` and `--csv` (JSON): C1 controls (a terminal's
    /// CSI), bidi controls and invisible breaks come out as `\u` escapes, the same JSON value.
    #[test]
    fn json_output_shows_controls_as_escapes() {
        let name = "evil\u{9b}2J\u{9b}31mRED\u{202e}moc.elgoog\u{2028}\u{7f}\u{e0041}";
        let json = super::json_visible(&serde_json::to_string(&[name]).unwrap());
        assert!(
            json.is_ascii() || !json.chars().any(|c| c.is_control()),
            "{json}"
        );
        assert!(
            !json.contains('\u{202e}') && !json.contains('\u{9b}'),
            "{json}"
        );
        assert!(
            json.contains("\\u009b") && json.contains("\\u202e"),
            "{json}"
        );
        let back: Vec<String> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, [name]);
    }

    #[test]
    fn bidi_controls_cannot_turn_a_line_around() {
        assert_eq!(
            Escaped::str("Evil\u{202e}\u{2066}\u{200f}\u{61c} Bücher").to_string(),
            "Evil\\u{202e}\\u{2066}\\u{200f}\\u{61c} Bücher"
        );
    }
}
