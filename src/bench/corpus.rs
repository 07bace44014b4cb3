//! The messages `authmilter bench` sends: a directory (one message per file) or an mbox,
//! split once into headers and a CRLF body the way Postfix shows them to a milter.

use std::path::Path;

use anyhow::{Context, bail};
use bytes::Bytes;
use milter_proto::client::Eml;

/// Largest message file read (Postfix's default `message_size_limit` is 10 MB).
const MAX_MESSAGE_BYTES: u64 = 64 * 1024 * 1024;
/// Most messages loaded: the corpus is used in turn, so more only costs memory.
const MAX_MESSAGES: usize = 100_000;

/// One message ready to send.
#[derive(Debug, Clone)]
pub struct CorpusMessage {
    /// Headers as the MTA sends them (the body is in [`CorpusMessage::body`]).
    pub eml: Eml,
    /// The body with CRLF line ends, shared: each BODY chunk sent is a slice of it.
    pub body: Bytes,
    /// The envelope sender: the Return-Path, else the first From address, else empty.
    pub sender: String,
    /// Size of the message as read.
    pub bytes: usize,
}

/// Loads `path`: every regular file of a directory (sorted by name), or an mbox file.
pub fn load(path: &Path) -> anyhow::Result<Vec<CorpusMessage>> {
    let meta = std::fs::metadata(path).with_context(|| format!("corpus {}", path.display()))?;
    let raw: Vec<Vec<u8>> = if meta.is_dir() {
        let mut files: Vec<_> = std::fs::read_dir(path)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        files.truncate(MAX_MESSAGES);
        let mut out = Vec::with_capacity(files.len());
        for f in files {
            if std::fs::metadata(&f)?.len() > MAX_MESSAGE_BYTES {
                bail!("{}: larger than {MAX_MESSAGE_BYTES} bytes", f.display());
            }
            let data = std::fs::read(&f).with_context(|| format!("{}", f.display()))?;
            // a saved message or `git format-patch` output starts with an mbox From_ line:
            // read such a file as the mbox it is
            if data.starts_with(b"From ") {
                out.extend(split_mbox(&data));
            } else {
                out.push(data);
            }
        }
        out
    } else {
        if meta.len() > MAX_MESSAGE_BYTES.saturating_mul(16) {
            bail!("{}: mbox larger than 1 GiB", path.display());
        }
        split_mbox(&std::fs::read(path)?)
    };
    let messages: Vec<CorpusMessage> = raw
        .into_iter()
        .filter(|m| !m.is_empty())
        .map(|m| prepare(&m))
        .collect();
    if messages.is_empty() {
        bail!("{}: no messages", path.display());
    }
    Ok(messages)
}

/// One message from raw bytes (CRLF or LF line ends).
pub fn prepare(raw: &[u8]) -> CorpusMessage {
    let mut eml = Eml::parse(raw);
    // Postfix passes header fields to a milter as C strings: a NUL ends the name or value
    for h in &mut eml.headers {
        cut_at_nul(&mut h.name);
        cut_at_nul(&mut h.value);
    }
    let sender = envelope_sender(&eml);
    let body = Bytes::from(std::mem::take(&mut eml.body));
    CorpusMessage {
        eml,
        body,
        sender,
        bytes: raw.len(),
    }
}

fn cut_at_nul(bytes: &mut Vec<u8>) {
    if let Some(nul) = bytes.iter().position(|&b| b == 0) {
        bytes.truncate(nul);
    }
}

/// Splits an mbox (mboxo/mboxrd: a `From ` line after an empty line starts a message;
/// `>From ` lines lose one `>`).
pub fn split_mbox(data: &[u8]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    let mut current: Option<Vec<u8>> = None;
    let mut previous_empty = true;
    for line in data.split_inclusive(|&b| b == b'\n') {
        let content = line
            .strip_suffix(b"\n")
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
            .unwrap_or(line);
        if previous_empty && line.starts_with(b"From ") {
            if let Some(done) = current.take() {
                out.push(done);
            }
            current = Some(Vec::new());
            previous_empty = false;
            continue;
        }
        previous_empty = content.is_empty();
        let msg = current.get_or_insert_with(Vec::new);
        let unescaped = match line.iter().position(|&b| b != b'>') {
            Some(p) if p > 0 && line.get(p..).is_some_and(|r| r.starts_with(b"From ")) => {
                line.get(1..).unwrap_or(line)
            }
            _ => line,
        };
        msg.extend_from_slice(unescaped);
    }
    if let Some(done) = current {
        out.push(done);
    }
    out
}

fn envelope_sender(eml: &Eml) -> String {
    let find = |name: &[u8]| {
        eml.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(&h.value).into_owned())
    };
    if let Some(rp) = find(b"Return-Path") {
        return address_in(&rp);
    }
    find(b"From").map(|f| address_in(&f)).unwrap_or_default()
}

/// The address inside `<...>`, else the last word with an `@`.
fn address_in(value: &str) -> String {
    if let (Some(a), Some(b)) = (value.rfind('<'), value.rfind('>'))
        && a < b
    {
        return value.get(a + 1..b).unwrap_or_default().trim().to_string();
    }
    value
        .split_whitespace()
        .rev()
        .find(|w| w.contains('@'))
        .unwrap_or_default()
        .trim_matches(|c| c == '"' || c == ',' || c == ';')
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mbox_split_and_unescape() {
        let mbox = b"From a@b Mon Jan 1 00:00:00 2024\nFrom: A <a@example.org>\n\nhi\n>From here\n\nFrom c@d Mon Jan 1 00:00:00 2024\nReturn-Path: <bounce@example.net>\nFrom: c@example.com\n\nsecond\n";
        let msgs = split_mbox(mbox);
        assert_eq!(msgs.len(), 2);
        assert_eq!(msgs[0], b"From: A <a@example.org>\n\nhi\nFrom here\n\n");
        let first = prepare(&msgs[0]);
        assert_eq!(first.sender, "a@example.org");
        assert_eq!(first.body, &b"hi\r\nFrom here\r\n\r\n"[..]);
        assert_eq!(prepare(&msgs[1]).sender, "bounce@example.net");
    }

    /// A NUL in a header is where Postfix's C string ends; the envelope sender too.
    #[test]
    fn a_nul_ends_a_header_value() {
        let m =
            prepare(b"From: x@example.org\0<ceo@bank.example>\r\nSubject: a\0b\r\n\r\nb\0c\r\n");
        assert_eq!(m.eml.headers[0].value, b" x@example.org");
        assert_eq!(m.eml.headers[1].value, b" a");
        assert_eq!(m.sender, "x@example.org");
        assert_eq!(m.body, &b"b\0c\r\n"[..]);
    }

    /// A file of a corpus directory that starts with an mbox From_ line is an mbox.
    #[test]
    fn a_directory_file_with_a_from_line_is_an_mbox() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("a.eml"),
            b"From a@b Mon Jan 1 00:00:00 2024\nFrom: x@example.org\nSubject: s\n\nbody\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("b.eml"), b"From: y@example.org\n\nbody\n").unwrap();
        let msgs = load(dir.path()).unwrap();
        assert_eq!(msgs.len(), 2);
        assert_eq!(msgs[0].sender, "x@example.org");
        assert_eq!(msgs[0].eml.headers.len(), 2);
    }

    #[test]
    fn sender_from_bare_from() {
        assert_eq!(
            prepare(b"From: x@example.org\r\n\r\nb").sender,
            "x@example.org"
        );
        assert_eq!(prepare(b"Subject: none\r\n\r\nb").sender, "");
    }
}
