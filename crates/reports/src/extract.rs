//! Finding aggregate reports in whatever arrives (RFC 9990 §3.5.2): a bare `.xml`, `.xml.gz`
//! or `.zip`, an RFC 5322 message with the report attached (also nested in multiparts or
//! attached messages, base64 or quoted-printable), or an mbox of such messages. Every report
//! found, or the error of a part that should have held one, is returned; all work is bounded
//! by [`Limits`] (RFC 9990 §8.1). [`extract_reports_each`] hands each report over as soon as
//! it is parsed, so at most one decompressed document and one parsed report are held at once.

use std::borrow::Cow;

use crate::decompress::{
    Inflated, MEMBERS, ZipFile, ZipVisitor, gunzip, is_gzip, is_zip, unzip_each,
};
use crate::error::ReportsError;
use crate::feedback::Feedback;
use crate::limits::Limits;
use crate::mime::{Entity, param_value, split_multipart};
use crate::xml_parse::parse_report_with;

/// One report found in an input, or why a candidate part could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractedReport {
    /// Where it was: `message 2 / part 1.2 "a!b!1!2.xml.gz"`, `entry "x.xml"`...
    pub source: String,
    /// The parsed report, or the error for this part.
    pub report: Result<Feedback, ReportsError>,
}

/// A part of a message that is neither a report nor the reporter's text: the message is
/// more than reports (a failure report, a person's mail), and must reach its recipients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherPart {
    /// Where it was: `message / part 3 "notes.pdf"`.
    pub source: String,
    /// What it is: `a part of type application/pdf`.
    pub what: String,
}

impl std::fmt::Display for OtherPart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.source, self.what)
    }
}

/// Media types of the text reporters send beside a report (RFC 9990 §3.5.2 leaves the body
/// free; Microsoft, Google and others write a few lines, some in HTML).
const TEXT_TYPES: &[&str] = &["text/plain", "text/html"];

/// Media types that carry reports (RFC 9990 §3.5.2, and what reporters use in practice).
const REPORT_TYPES: &[&str] = &[
    "application/gzip",
    "application/x-gzip",
    "application/zip",
    "application/x-zip",
    "application/x-zip-compressed",
    "text/xml",
    "application/xml",
];

/// File name endings that mark a report whatever the media type (e.g. `octet-stream`).
const REPORT_EXTENSIONS: &[&str] = &[".xml", ".xml.gz", ".gz", ".zip"];

/// Finds and parses every aggregate report in `input` (RFC 9990 §3.5.2): XML, gzip, zip,
/// an RFC 5322 message or an mbox (detected from the content). Never panics; a part that
/// cannot be read yields an entry with its error, and an input with nothing usable yields one
/// error entry.
pub fn extract_reports(input: &[u8], limits: &Limits) -> Vec<ExtractedReport> {
    let mut out = Vec::new();
    extract_reports_each(input, limits, &mut |r| out.push(r));
    out
}

/// [`extract_reports`], handing each entry to `sink` as soon as it is found instead of
/// collecting them (RFC 9990 §8.1: the memory held is one decompressed document and one
/// parsed report, whatever the input holds). Returns the first part of a message that is
/// neither a report nor text ([`OtherPart`]): a `multipart/report` (RFC 6522 §3, e.g. an RFC
/// 9991 failure report, whose parts are never read: the message inside is evidence, not a
/// report sent to us), an attached message, or any other attachment.
pub fn extract_reports_each(
    input: &[u8],
    limits: &Limits,
    sink: &mut dyn FnMut(ExtractedReport),
) -> Option<OtherPart> {
    let mut x = Extractor {
        other: None,
        limits,
        sink,
        emitted: 0,
        total: 0,
        parts: 0,
        stopped: false,
        held: 0,
        members: 0,
    };
    if input.len() > limits.max_input_bytes {
        x.push("input", Err(too_large("input", limits.max_input_bytes)));
        return None;
    }
    if is_gzip(input) || is_zip(input) || looks_like_xml(input) {
        x.payload("input", input);
    } else if input.starts_with(b"From ") {
        x.mbox(input);
    } else if looks_like_message(input) {
        x.message(input, "message", 0);
    } else {
        x.push(
            "input",
            Err(ReportsError::UnknownFormat(
                "neither XML, gzip, zip, a mail message nor an mbox".into(),
            )),
        );
    }
    if x.emitted == 0 {
        x.push(
            "input",
            Err(ReportsError::NotAReport(no_report_found(input))),
        );
    }
    x.other
}

/// Why a message gave no report: a failure report (RFC 9991 §3: `multipart/report;
/// report-type=feedback-report`, RFC 5965 §2) is named as such, since only aggregate reports
/// are read; anything else has no report attachment.
fn no_report_found(message: &[u8]) -> String {
    if crate::failure::is_feedback_entity(&crate::mime::Entity::parse(message)) {
        "a failure report (RFC 9991, report-type=feedback-report): only aggregate reports are read"
            .into()
    } else {
        "no report attachment found".into()
    }
}

/// The entries of one zip archive, read into the extractor as they are decompressed.
struct ZipEntries<'x, 'l, 's, 'src> {
    x: &'x mut Extractor<'l, 's>,
    source: &'src str,
}

impl ZipVisitor for ZipEntries<'_, '_, '_, '_> {
    fn limit(&self) -> (usize, &'static str) {
        self.x.decompress_limit("zip entry")
    }

    fn entry(&mut self, (name, inflated): ZipFile) -> bool {
        let source = format!("{} / entry {:?}", self.source, name_for_label(&name));
        self.x.inflated(&source, inflated);
        !self.x.stopped
    }
}

/// What the input's budget of decompressed bytes is called in errors.
const TOTAL: &str = "decompressed data of one input";
/// What the bound on the decoded attached messages held at once (nested ones each keep
/// theirs while the ones inside are read) is called in errors: `max_input_bytes`.
const HELD: &str = "decoded attached messages held at once";

fn too_large(what: &'static str, limit: usize) -> ReportsError {
    ReportsError::TooLarge {
        what,
        limit: limit as u64,
    }
}

fn looks_like_xml(data: &[u8]) -> bool {
    // UTF-16 with its byte order mark (XML 1.0 Appendix F)
    if data.starts_with(b"\xFF\xFE<") || data.starts_with(b"\xFE\xFF\0<") {
        return true;
    }
    let data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    data.iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'<')
}

/// The first line is a header field (`Name: value`, RFC 5322 §2.2; `Name :` too, §4.5.2).
fn looks_like_message(data: &[u8]) -> bool {
    let line = data.split(|&b| b == b'\n').next().unwrap_or_default();
    match line.iter().position(|&b| b == b':') {
        Some(colon) => line
            .get(..colon)
            .map(crate::mime::field_name)
            .is_some_and(|name| !name.is_empty() && name.iter().all(|&b| b.is_ascii_graphic())),
        None => false,
    }
}

struct Extractor<'l, 's> {
    limits: &'l Limits,
    sink: &'s mut dyn FnMut(ExtractedReport),
    /// Entries handed to `sink` so far.
    emitted: usize,
    /// Decompressed bytes so far.
    total: usize,
    /// MIME parts of the message being read so far.
    parts: usize,
    /// A global limit was hit: nothing more is read.
    stopped: bool,
    /// Bytes of decoded attached messages held by the messages being read inside them.
    held: usize,
    /// gzip members started so far.
    members: usize,
    /// The first part that is neither a report nor text.
    other: Option<OtherPart>,
}

impl Extractor<'_, '_> {
    fn push(&mut self, source: &str, report: Result<Feedback, ReportsError>) {
        if self.stopped {
            return;
        }
        if self.emitted >= self.limits.max_reports {
            self.stop(
                source,
                ReportsError::TooMany {
                    what: "reports in one input",
                    limit: self.limits.max_reports,
                },
            );
            return;
        }
        self.emitted += 1;
        (self.sink)(ExtractedReport {
            source: source.to_string(),
            report,
        });
    }

    /// Notes a part that is neither a report nor text (the first one is kept).
    fn other_part(&mut self, source: &str, what: String) {
        if self.other.is_none() {
            self.other = Some(OtherPart {
                source: source.to_string(),
                what,
            });
        }
    }

    /// Records a limit that ends the whole extraction.
    fn stop(&mut self, source: &str, error: ReportsError) {
        if !self.stopped {
            self.emitted += 1;
            (self.sink)(ExtractedReport {
                source: source.to_string(),
                report: Err(error),
            });
            self.stopped = true;
        }
    }

    /// How much one document may decompress into: `max_xml_bytes`, or less when the input's
    /// budget has less left (then named after the budget), so that the budget holds before
    /// the bytes are made, not after.
    fn decompress_limit(&self, what: &'static str) -> (usize, &'static str) {
        let left = self.limits.max_total_xml_bytes.saturating_sub(self.total);
        if left < self.limits.max_xml_bytes {
            (left, TOTAL)
        } else {
            (self.limits.max_xml_bytes, what)
        }
    }

    /// Counts the bytes a decompression produced (kept or not) against the input's budget,
    /// and ends the extraction when it is spent or a document hit what it had left; false
    /// then.
    fn spend(&mut self, source: &str, inflated: &Inflated) -> bool {
        self.total = self.total.saturating_add(inflated.produced);
        self.members = self.members.saturating_add(inflated.members);
        if matches!(
            inflated.result,
            Err(ReportsError::TooMany { what: MEMBERS, .. })
        ) {
            let limit = self.limits.max_gzip_members;
            self.stop(
                source,
                ReportsError::TooMany {
                    what: MEMBERS,
                    limit,
                },
            );
            return false;
        }
        let hit_budget = matches!(
            inflated.result,
            Err(ReportsError::TooLarge { what: TOTAL, .. })
        );
        if hit_budget || self.total > self.limits.max_total_xml_bytes {
            self.stop(source, too_large(TOTAL, self.limits.max_total_xml_bytes));
            return false;
        }
        true
    }

    /// Parses a decompressed document, or records why there is none.
    fn inflated(&mut self, source: &str, inflated: Inflated) {
        if self.spend(source, &inflated) {
            match inflated.result {
                Ok(xml) => self.xml(source, &xml),
                Err(e) => self.push(source, Err(e)),
            }
        }
    }

    /// XML, gzip'd XML or a zip of XML files; each decompressed document is parsed and
    /// dropped before the next is made.
    fn payload(&mut self, source: &str, data: &[u8]) {
        if self.stopped {
            return;
        }
        if is_gzip(data) {
            let (limit, what) = self.decompress_limit("decompressed report");
            let members_left = self.limits.max_gzip_members.saturating_sub(self.members);
            let inflated = gunzip(data, limit, what, members_left);
            self.inflated(source, inflated);
        } else if is_zip(data) {
            let limits = self.limits;
            let mut entries = ZipEntries { x: self, source };
            if let Err(e) = unzip_each(data, limits, &mut entries) {
                self.push(source, Err(e));
            }
        } else if looks_like_xml(data) {
            self.xml(source, data);
        } else {
            self.push(
                source,
                Err(ReportsError::UnknownFormat(
                    "the attachment is neither XML, gzip nor zip".into(),
                )),
            );
        }
    }

    fn xml(&mut self, source: &str, xml: &[u8]) {
        let parsed = parse_report_with(xml, self.limits);
        self.push(source, parsed);
    }

    /// Messages separated by `From ` lines (mboxo/mboxrd; `>From ` quoting is irrelevant to
    /// base64 attachments and left alone).
    fn mbox(&mut self, data: &[u8]) {
        let mut starts = vec![0usize];
        let mut pos = 0;
        while let Some(i) = data
            .get(pos..)
            .and_then(|r| r.iter().position(|&b| b == b'\n'))
        {
            let next = pos + i + 1;
            if data.get(next..).is_some_and(|r| r.starts_with(b"From ")) {
                starts.push(next);
                if starts.len() > self.limits.max_mbox_messages {
                    break;
                }
            }
            pos = next;
        }
        if starts.len() > self.limits.max_mbox_messages {
            self.stop(
                "mbox",
                ReportsError::TooMany {
                    what: "messages in the mbox",
                    limit: self.limits.max_mbox_messages,
                },
            );
            return;
        }
        for (n, &start) in starts.iter().enumerate() {
            let end = starts.get(n + 1).copied().unwrap_or(data.len());
            let msg = data.get(start..end).unwrap_or_default();
            // drop the `From ` separator line
            let body_start = msg
                .iter()
                .position(|&b| b == b'\n')
                .map_or(msg.len(), |i| i + 1);
            let msg = msg.get(body_start..).unwrap_or_default();
            let before = self.emitted;
            // max_mime_parts bounds each message; the mbox is bounded by max_mbox_messages
            self.parts = 0;
            self.message(msg, &format!("message {}", n + 1), 0);
            if self.emitted == before && !self.stopped {
                self.push(
                    &format!("message {}", n + 1),
                    Err(ReportsError::NotAReport(no_report_found(msg))),
                );
            }
        }
    }

    /// One MIME entity (a whole message or a part), recursively.
    fn message(&mut self, data: &[u8], source: &str, depth: usize) {
        if self.stopped {
            return;
        }
        if depth > self.limits.max_mime_depth {
            self.push(
                source,
                Err(ReportsError::TooMany {
                    what: "levels of MIME nesting",
                    limit: self.limits.max_mime_depth,
                }),
            );
            return;
        }
        self.parts += 1;
        if self.parts > self.limits.max_mime_parts {
            self.stop(
                source,
                ReportsError::TooMany {
                    what: "MIME parts",
                    limit: self.limits.max_mime_parts,
                },
            );
            return;
        }
        let entity = Entity::parse(data);
        let (ctype, params) = entity.content_type();
        if ctype == "multipart/report" {
            // RFC 6522 §3: a report about a message (RFC 9991 failure report, a bounce); what
            // it holds is that message, not a report sent to us
            let kind = param_value(&params, "report-type").unwrap_or_default();
            return self.other_part(
                source,
                format!(
                    "a multipart/report (report-type={}): its parts are not read",
                    name_for_label(&kind)
                ),
            );
        }
        if ctype.starts_with("multipart/") {
            let Some(boundary) = params
                .iter()
                .find(|(n, _)| n == "boundary")
                .map(|(_, v)| v.clone())
                .filter(|b| !b.is_empty())
            else {
                self.push(
                    source,
                    Err(ReportsError::Mime(format!("{ctype} without a boundary"))),
                );
                return;
            };
            // one more than the limit, so that exceeding it is noticed
            let max = self.limits.max_mime_parts.saturating_add(1);
            for (i, part) in split_multipart(entity.body, &boundary, max)
                .iter()
                .enumerate()
            {
                self.message(part, &format!("{source} / part {}", i + 1), depth + 1);
            }
            return;
        }
        let filename = entity.filename();
        let named = filename.as_deref().is_some_and(|f| {
            let f = f.to_ascii_lowercase();
            REPORT_EXTENSIONS.iter().any(|e| f.ends_with(e))
        });
        let attached_message = ctype == "message/rfc822";
        if !attached_message && !named && !REPORT_TYPES.contains(&ctype.as_str()) {
            // the reporter's text is shown inline; an attached one (a disposition or a file
            // name: a PDF labelled text/plain or with no type, a contract.txt) a person sent
            let inline_text = TEXT_TYPES.contains(&ctype.as_str())
                && filename.is_none()
                && !entity.is_attachment();
            if !inline_text {
                let what = match (entity.is_attachment(), &filename) {
                    (true, None) => format!("an attachment of type {}", name_for_label(&ctype)),
                    _ => format!("a part of type {}", name_for_label(&ctype)),
                };
                match &filename {
                    Some(f) => self.other_part(&format!("{source} {:?}", name_for_label(f)), what),
                    None => self.other_part(source, what),
                }
            }
            return;
        }
        let source = match &filename {
            Some(f) => format!("{source} {:?}", name_for_label(f)),
            None => source.to_string(),
        };
        let body = match entity.decoded_body() {
            Ok(b) => b,
            Err(e) => return self.push(&source, Err(e)),
        };
        if attached_message {
            self.other_part(&source, "an attached message (message/rfc822)".into());
            // a transfer encoding makes a copy, kept while the message inside is read: with
            // nesting, one for each level (RFC 9990 §8.1: memory a small multiple of the input)
            let copied = match &body {
                Cow::Owned(decoded) => decoded.len(),
                Cow::Borrowed(_) => 0,
            };
            let held = self.held.saturating_add(copied);
            if held > self.limits.max_input_bytes {
                return self.push(&source, Err(too_large(HELD, self.limits.max_input_bytes)));
            }
            self.held = held;
            self.message(&body, &source, depth + 1);
            self.held = self.held.saturating_sub(copied);
            return;
        }
        // RFC 7303 §3.2: an XML document's charset parameter names its encoding
        let charset = param_value(&params, "charset");
        let body = match charset {
            Some(cs) if looks_like_xml(&body) => {
                crate::xml_encoding::transcode_labelled(&body, &cs, self.limits.max_xml_bytes)
                    .map(Cow::Owned)
                    .unwrap_or(body)
            }
            _ => body,
        };
        self.payload(&source, &body);
    }
}

/// Most characters of an attachment's name a report's `source` label repeats: the name is the
/// sender's text and may be megabytes long.
const MAX_LABEL_NAME_CHARS: usize = 200;

/// `name` as a `source` label shows it: at most [`MAX_LABEL_NAME_CHARS`] characters, then `…`.
fn name_for_label(name: &str) -> String {
    match name.char_indices().nth(MAX_LABEL_NAME_CHARS) {
        Some((cut, _)) => format!("{}…", name.get(..cut).unwrap_or(name)),
        None => name.to_string(),
    }
}

#[cfg(test)]
mod tests;
