//! Folding signature header fields (RFC 5322 §2.2.3; RFC 6376 §3.5 allows FWS between tags
//! and inside base64 values): tags stay whole, an `h=` list may break after each `:`, and the
//! `b=` value breaks anywhere. Shared by DKIM-Signature and the ARC header fields (RFC 8617
//! §4.1.2, §4.1.3).

use crate::message::HeaderField;

/// Longest line we aim for when folding (RFC 5322 §2.1.1 SHOULD 78).
pub const FOLD_WIDTH: usize = 78;

/// Columns a continuation line starts at (one TAB).
const CONTINUATION_COL: usize = 8;

/// A tag for folding: one atom, or a list (`h=`) that may break after each `:`
/// (RFC 6376 §3.5 `sig-h-tag` allows FWS around the colons). Its text is kept whole, with
/// the end of each atom but the last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    text: String,
    /// Byte offsets in `text` where an atom ends and a fold may follow.
    breaks: Vec<usize>,
}

impl Piece {
    /// A tag that is never broken, e.g. `"d=example.com;"`.
    pub fn whole(text: String) -> Self {
        Piece {
            text,
            breaks: Vec::new(),
        }
    }

    /// A `prefix` list of `names` separated by `:` and ended by `;`, e.g. `h=from:to;`.
    pub fn list<N: AsRef<str>>(prefix: &str, names: &[N]) -> Self {
        let len = names.iter().map(|n| n.as_ref().len() + 1).sum::<usize>();
        let mut text = String::with_capacity(prefix.len() + len);
        let mut breaks = Vec::with_capacity(names.len());
        text.push_str(prefix);
        let count = names.len();
        for (i, n) in names.iter().enumerate() {
            text.push_str(n.as_ref());
            text.push(if i + 1 == count { ';' } else { ':' });
            if i + 1 < count {
                breaks.push(text.len());
            }
        }
        Piece { text, breaks }
    }

    /// The atoms: the text cut at each break.
    fn atoms(&self) -> impl Iterator<Item = &str> {
        let ends = self.breaks.iter().copied().chain([self.text.len()]);
        let mut start = 0;
        ends.map(move |end| {
            let atom = self.text.get(start..end).unwrap_or_default();
            start = end;
            atom
        })
    }
}

/// Folds pieces into lines of at most [`FOLD_WIDTH`] columns where possible; the first line
/// starts at column `first_col` (after `Name: `).
pub fn fold<'a>(pieces: impl IntoIterator<Item = &'a Piece>, first_col: usize) -> Vec<String> {
    let mut lines: Vec<String> = vec![String::with_capacity(FOLD_WIDTH)];
    let mut col = first_col;
    for piece in pieces {
        for (ai, atom) in piece.atoms().enumerate() {
            let Some(line) = lines.last_mut() else {
                continue;
            };
            let sep = usize::from(!line.is_empty() && ai == 0);
            if col + sep + atom.len() <= FOLD_WIDTH {
                if sep == 1 {
                    line.push(' ');
                }
                line.push_str(atom);
                col += sep + atom.len();
            } else if line.is_empty() {
                line.push_str(atom);
                col += atom.len();
            } else {
                let mut next = String::with_capacity(FOLD_WIDTH);
                next.push_str(atom);
                lines.push(next);
                col = CONTINUATION_COL + atom.len();
            }
        }
    }
    lines
}

/// Appends base64 text (the signature after the final `b=`) to folded `lines`, breaking it at
/// [`FOLD_WIDTH`] (FWS inside base64 is allowed, RFC 6376 §3.5); `first_col` is where the
/// first line starts, as given to [`fold`].
pub fn append_base64(lines: &mut Vec<String>, first_col: usize, b64: &str) {
    let mut rest = b64;
    let mut col = match lines.len() {
        1 => first_col + lines.first().map_or(0, String::len),
        _ => CONTINUATION_COL + lines.last().map_or(0, String::len),
    };
    while !rest.is_empty() {
        let room = FOLD_WIDTH.saturating_sub(col);
        if room < 8 {
            lines.push(String::new());
            col = CONTINUATION_COL;
            continue;
        }
        let cut = room.min(rest.len());
        let (head, tail) = rest.split_at_checked(cut).unwrap_or((rest, ""));
        if let Some(l) = lines.last_mut() {
            l.push_str(head);
        }
        col += head.len();
        rest = tail;
    }
}

/// A finished header field (DKIM-Signature, RFC 6376 §3.5; the ARC fields, RFC 8617 §4.1)
/// kept as folding pieces, so that the caller picks the line separator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoldedHeader {
    name: &'static str,
    /// Lines of the value; joined with a separator plus TAB.
    lines: Vec<String>,
}

impl FoldedHeader {
    /// A field called `name` whose value is `lines` joined by folds (no leading space, no
    /// line separators inside a line).
    pub fn new(name: &'static str, lines: Vec<String>) -> Self {
        FoldedHeader { name, lines }
    }

    /// The header field name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The lines of the value, unfolded.
    pub fn lines(&self) -> &[String] {
        &self.lines
    }

    /// The value, folded with `line_separator` + TAB (`"\n"` for milter SMFIR_INSHEADER,
    /// `"\r\n"` for a file). It has no leading space: the full field is `name + ": " + value`
    /// (the MTA adds the space after the colon for milters). A line that already starts with
    /// a space or TAB gets no TAB of ours: inside a quoted string (an A-R `reason=` folded
    /// where its own space was) whitespace after the fold is content (RFC 5322 §3.2.4).
    pub fn value(&self, line_separator: &str) -> String {
        let mut out = String::with_capacity(
            self.lines
                .iter()
                .map(|l| l.len() + line_separator.len() + 1)
                .sum(),
        );
        for (n, line) in self.lines.iter().enumerate() {
            if n > 0 {
                out.push_str(line_separator);
                if !line.starts_with([' ', '\t']) {
                    out.push('\t');
                }
            }
            out.push_str(line);
        }
        out
    }

    /// The whole field with CRLF folds and a final CRLF, ready to prepend to a message.
    pub fn to_field(&self) -> String {
        format!("{}: {}\r\n", self.name, self.value("\r\n"))
    }

    /// As a [`HeaderField`] (value with leading space, CRLF folds).
    pub fn to_header_field(&self) -> HeaderField {
        HeaderField::new(self.name, format!(" {}", self.value("\r\n")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_break_after_colons_and_base64_anywhere() {
        let names: Vec<String> = (0..20).map(|i| format!("header-{i}")).collect();
        let mut lines = fold(
            &[
                Piece::whole("a=rsa-sha256;".into()),
                Piece::list("h=", &names),
                Piece::whole("b=".into()),
            ],
            23,
        );
        append_base64(&mut lines, 23, &"A".repeat(300));
        assert!(lines.len() > 3);
        for (i, l) in lines.iter().enumerate() {
            let start = if i == 0 { 23 } else { 8 };
            assert!(start + l.len() <= FOLD_WIDTH, "{l:?}");
        }
        let joined = lines.join("");
        assert!(joined.contains("h=header-0:header-1:"));
        assert!(joined.ends_with(&format!("b={}", "A".repeat(300))));
        let f = FoldedHeader::new("X-Sig", lines);
        assert!(f.to_field().starts_with("X-Sig: a=rsa-sha256;"));
        assert!(f.value("\n").contains("\n\t"));
    }
}
