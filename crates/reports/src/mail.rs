//! The aggregate report mail (RFC 9990 §3.5.2): file name, subject, MIME structure, and the
//! `!size` limit of the destination (RFC 7489 §7.2.1).
//!
//! The message is `multipart/mixed`: a short `text/plain` part for humans, then the report as
//! an attachment, `application/gzip` named `….xml.gz` (or `text/xml` named `….xml` when
//! compression is off), base64-encoded. Lines end in CRLF. The caller DKIM-signs (with a
//! domain aligned with `From:`, RFC 9990 §3.5.2) and submits it.

use serde::{Deserialize, Serialize};

use crate::error::ReportsError;
use crate::feedback::{DateRange, Feedback};
use crate::message::{
    base64_body, boundary, checked_address, header, header_safe, iso_utc, rfc5322_date, short_hash,
};
use crate::observation::ReportAddress;
use crate::xml_write::{ReportFormat, write_feedback};

/// How report mails are written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailOptions {
    /// The reporting domain: `Submitter:` in the subject and the receiver part of the file
    /// name (RFC 9990 §3.5.2).
    pub submitter: String,
    /// The `From:` address; its domain should be DMARC-aligned with the DKIM signature.
    pub from: String,
    /// The XML schema (RFC 9990 by default).
    pub format: ReportFormat,
    /// gzip the XML (RFC 9990 §3.5.2 SHOULD); on by default.
    pub compress: bool,
    /// The optional `unique-id` of the file name (letters and digits only). RFC 9990 §3.1.4
    /// wants it identical to the Report-ID where both appear, and generated Report-IDs hold
    /// dots and `@`: leave it `None` (the default) unless report ids are made to match.
    pub unique_id: Option<String>,
}

impl MailOptions {
    /// Options with the defaults: RFC 9990 format, gzip, no unique-id.
    pub fn new(submitter: impl Into<String>, from: impl Into<String>) -> Self {
        MailOptions {
            submitter: submitter.into(),
            from: from.into(),
            format: ReportFormat::Rfc9990,
            compress: true,
            unique_id: None,
        }
    }
}

/// Keeps the characters of a domain name (letters, digits, `.`, `-`, and `_`, which DNS
/// names may hold, RFC 2181 §11: dropping it named another domain, `_m.example` as
/// `m.example`), lowercase.
fn domain_chars(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .collect::<String>()
        .to_ascii_lowercase()
}

/// The attachment file name: `receiver!policy-domain!begin!end[!unique-id].xml[.gz]`
/// (RFC 9990 §3.5.2). Errors when `unique_id` has other characters than letters and digits.
pub fn report_filename(
    submitter: &str,
    policy_domain: &str,
    range: DateRange,
    unique_id: Option<&str>,
    compressed: bool,
) -> Result<String, ReportsError> {
    let mut name = format!(
        "{}!{}!{}!{}",
        domain_chars(submitter),
        domain_chars(policy_domain),
        range.begin,
        range.end
    );
    if let Some(id) = unique_id {
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(ReportsError::InvalidInput {
                what: "unique-id (letters and digits only)",
                value: id.chars().take(64).collect(),
            });
        }
        name.push('!');
        name.push_str(id);
    }
    name.push_str(if compressed { ".xml.gz" } else { ".xml" });
    Ok(name)
}

/// The subject: `Report Domain: <policy domain> Submitter: <submitter> Report-ID: <<id>>`
/// (RFC 9990 §3.5.2 `dmarc-subject`), unfolded.
pub fn report_subject(policy_domain: &str, submitter: &str, report_id: &str) -> String {
    format!(
        "Report Domain: {} Submitter: {} Report-ID: <{}>",
        domain_chars(policy_domain),
        domain_chars(submitter),
        header_safe(report_id).replace(['<', '>', ' '], "")
    )
}

/// The complete report message to `to` (RFC 9990 §3.5.2), as bytes with CRLF line ends.
/// `date` is the `Date:` (Unix seconds).
pub fn aggregate_report_message(
    feedback: &Feedback,
    to: &str,
    date: u64,
    opts: &MailOptions,
) -> Result<Vec<u8>, ReportsError> {
    let to = checked_address(to, "recipient address")?;
    let from = checked_address(&opts.from, "From address")?;
    let xml = write_feedback(feedback, opts.format)?;
    let range = feedback.metadata.date_range;
    let policy_domain = &feedback.policy.domain;
    let filename = report_filename(
        &opts.submitter,
        policy_domain,
        range,
        opts.unique_id.as_deref(),
        opts.compress,
    )?;
    let (ctype, payload) = if opts.compress {
        ("application/gzip", gzip(&xml)?)
    } else {
        ("text/xml", xml)
    };
    let report_id = header_safe(&feedback.metadata.report_id).replace(['<', '>', ' '], "");
    let text = format!(
        "This is an aggregate DMARC report (RFC 9990).\r\n\
         Policy domain: {}\r\n\
         Submitter: {}\r\n\
         Period: {} to {}\r\n\
         Messages: {} in {} rows\r\n\
         Report file: {}\r\n",
        domain_chars(policy_domain),
        domain_chars(&opts.submitter),
        iso_utc(range.begin),
        iso_utc(range.end),
        feedback.message_count(),
        feedback.records.len(),
        filename
    );
    let encoded = base64_body(&payload);
    let b = boundary(report_id.as_bytes(), &[text.as_bytes()]);
    // the same report to the same destination always gets the same Message-ID (RFC 9990
    // §3.5.2 allows the Report-ID in it, to spot re-sent reports)
    let (id_local, id_domain) = report_id
        .rsplit_once('@')
        .unwrap_or((report_id.as_str(), opts.submitter.as_str()));
    let message_id = format!(
        "<{}.{}@{}>",
        id_local,
        short_hash(to.to_ascii_lowercase().as_bytes(), 4),
        domain_chars(id_domain)
    );

    let mut m = String::with_capacity(encoded.len() + 2048);
    m.push_str(&header("From", &from));
    m.push_str(&header("To", &to));
    m.push_str(&header("Date", &rfc5322_date(date)));
    m.push_str(&header(
        "Subject",
        &report_subject(policy_domain, &opts.submitter, &report_id),
    ));
    m.push_str(&header("Message-ID", &message_id));
    // RFC 3834 §5: automatic mail, so auto-responders answer it not
    m.push_str("Auto-Submitted: auto-generated\r\n");
    m.push_str("MIME-Version: 1.0\r\n");
    m.push_str(&format!(
        "Content-Type: multipart/mixed;\r\n boundary=\"{b}\"\r\n\r\n"
    ));
    m.push_str("This is a multi-part message in MIME format.\r\n\r\n");
    m.push_str(&format!("--{b}\r\n"));
    m.push_str("Content-Type: text/plain; charset=us-ascii\r\n");
    m.push_str("Content-Transfer-Encoding: 7bit\r\n\r\n");
    m.push_str(&text);
    m.push_str(&format!("\r\n--{b}\r\n"));
    m.push_str(&format!(
        "Content-Type: {ctype};\r\n name=\"{filename}\"\r\n"
    ));
    m.push_str("Content-Transfer-Encoding: base64\r\n");
    m.push_str(&format!(
        "Content-Disposition: attachment;\r\n filename=\"{filename}\"\r\n\r\n"
    ));
    m.push_str(&encoded);
    m.push_str(&format!("--{b}--\r\n"));
    Ok(m.into_bytes())
}

/// The most bytes an aggregate report's file (compressed as [`MailOptions::compress`] says)
/// may take: the mail carrying it in base64 (×4/3, and a CRLF every 76 characters) then stays
/// under 10,240,000 bytes, Postfix's default `message_size_limit`. RFC 9990 §3.5.2 warns that
/// a report can exceed what a receiver's SMTP service accepts; a report refused for its size
/// loses the whole day for every domain owner it was for.
pub const MAX_REPORT_FILE_BYTES: usize = 7 << 20;

/// What [`fit_report_file`] left out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LeftOut {
    /// Records removed.
    pub rows: u64,
    /// The messages they stood for.
    pub messages: u64,
}

/// Room [`fit_report_file`] leaves under its bound for the notes the sender adds to
/// `<error>` once the rows are chosen (what was left out and why: a few hundred bytes).
const NOTES_ROOM: usize = 4 << 10;

/// Keeps the records that stand for the most messages, in their order, so that the report
/// file is at most `max_bytes` (RFC 9990 §3.5.2; see [`MAX_REPORT_FILE_BYTES`]): a sender can
/// make every message a record of its own, with rows that do not compress (random DKIM
/// selectors). At least one record stays; 4 KiB under the bound are left for `<error>` notes.
///
/// Which rows fit is found by bisection on how many of the rows with the most messages are
/// kept (a file of more rows is not smaller), starting from the share the size suggests; it
/// stops within 1 % of the rows: at most some log2(rows) trial files are written and
/// compressed (17 for 100,000 rows), the later ones at most the size that fits.
pub fn fit_report_file(
    feedback: &mut Feedback,
    opts: &MailOptions,
    max_bytes: usize,
) -> Result<LeftOut, ReportsError> {
    let budget = max_bytes.saturating_sub(NOTES_ROOM);
    let rows = feedback.records.len();
    let whole = report_file_size(feedback, opts)?;
    if whole <= budget || rows <= 1 {
        return Ok(LeftOut::default());
    }
    // the rows in the order they are given up: the fewest messages last (stable: of equal
    // counts, the earlier row stays)
    let mut by_count: Vec<usize> = (0..rows).collect();
    by_count
        .sort_by_key(|&i| std::cmp::Reverse(feedback.records.get(i).map_or(0, |r| r.row.count)));
    let all = std::mem::take(&mut feedback.records);
    let top = |k: usize| -> Vec<bool> {
        let mut kept = vec![false; rows];
        for &i in by_count.iter().take(k) {
            if let Some(flag) = kept.get_mut(i) {
                *flag = true;
            }
        }
        kept
    };
    // `fits` rows are known to fit (one stays whatever its size), `over` are known not to
    let (mut fits, mut over) = (1usize, rows);
    let mut guess = (rows as f64 * budget as f64 / whole as f64 * 0.9) as usize;
    while over - fits > 1.max(over / 100) {
        let k = guess.clamp(fits + 1, over - 1);
        feedback.records = all
            .iter()
            .zip(top(k))
            .filter(|(_, kept)| *kept)
            .map(|(r, _)| r.clone())
            .collect();
        if report_file_size(feedback, opts)? <= budget {
            fits = k;
        } else {
            over = k;
        }
        guess = fits + (over - fits) / 2;
    }
    let mut left = LeftOut::default();
    feedback.records = all
        .into_iter()
        .zip(top(fits))
        .filter_map(|(r, kept)| {
            if !kept {
                left.rows += 1;
                left.messages = left.messages.saturating_add(r.row.count);
            }
            kept.then_some(r)
        })
        .collect();
    Ok(left)
}

/// The size of the report file as [`aggregate_report_message`] attaches it.
fn report_file_size(feedback: &Feedback, opts: &MailOptions) -> Result<usize, ReportsError> {
    let xml = write_feedback(feedback, opts.format)?;
    Ok(if opts.compress {
        gzip(&xml)?.len()
    } else {
        xml.len()
    })
}

fn gzip(data: &[u8]) -> Result<Vec<u8>, ReportsError> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(data)
        .map_err(|e| ReportsError::Write(e.to_string()))?;
    enc.finish().map_err(|e| ReportsError::Write(e.to_string()))
}

/// What to do for one `rua` destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Send `message` to `address`.
    Send {
        /// The recipient (the `mailto:` address).
        address: String,
        /// The whole message.
        message: Vec<u8>,
    },
    /// The message is larger than the URI's `!size` limit: this destination MUST NOT be
    /// used (RFC 7489 §7.2.1); the others still get the report.
    TooLarge {
        /// The URI.
        uri: String,
        /// The message size in bytes.
        size: u64,
        /// The URI's limit.
        limit: u64,
    },
    /// Not a `mailto:` URI (no other scheme is defined, RFC 9990 §3.5.3), or no address.
    Unsupported {
        /// The URI.
        uri: String,
    },
}

/// One delivery per destination, in the order given (RFC 9990 §3.5: every URI is tried).
/// The size compared with `!size` is that of the whole message, after compression and
/// base64 (RFC 7489 §7.2.1: "after compression and after any encoding"). Destinations
/// should already be verified ([`crate::destination::verify_destination`]).
pub fn aggregate_report_deliveries(
    feedback: &Feedback,
    destinations: &[ReportAddress],
    date: u64,
    opts: &MailOptions,
) -> Result<Vec<Delivery>, ReportsError> {
    let mut out = Vec::with_capacity(destinations.len());
    for dest in destinations {
        let Some(address) = crate::destination::mailto_address(&dest.uri) else {
            out.push(Delivery::Unsupported {
                uri: dest.uri.clone(),
            });
            continue;
        };
        let message = match aggregate_report_message(feedback, &address, date, opts) {
            Ok(m) => m,
            Err(ReportsError::InvalidInput {
                what: "recipient address",
                ..
            }) => {
                out.push(Delivery::Unsupported {
                    uri: dest.uri.clone(),
                });
                continue;
            }
            Err(e) => return Err(e),
        };
        let size = message.len() as u64;
        match dest.max_size {
            Some(limit) if size > limit => out.push(Delivery::TooLarge {
                uri: dest.uri.clone(),
                size,
                limit,
            }),
            _ => out.push(Delivery::Send { address, message }),
        }
    }
    Ok(out)
}
