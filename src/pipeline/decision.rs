//! What the pipeline decides for one message, independent of the milter wire format: a typed
//! verdict, the header changes in the order they must appear, envelope changes.

use std::fmt;
use std::sync::Arc;

use milter_proto::SmtpReply;

use super::policy::AppliedPolicy;
use super::results::Results;

/// The final answer for a message (or an envelope stage).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Let the message through (with the header changes).
    Accept,
    /// Refuse it permanently with this SMTP reply (`550 5.7.1 ...`).
    Reject(SmtpReply),
    /// Refuse it temporarily with this SMTP reply (`451 4.7.5 ...`).
    TempFail(SmtpReply),
    /// Accept and drop it silently.
    Discard,
}

impl Verdict {
    /// The lowercase action name used in logs and `eval --json`.
    pub fn action(&self) -> &'static str {
        match self {
            Verdict::Accept => "accept",
            Verdict::Reject(_) => "reject",
            Verdict::TempFail(_) => "tempfail",
            Verdict::Discard => "discard",
        }
    }

    /// The SMTP reply for reject and tempfail.
    pub fn smtp_reply(&self) -> Option<&SmtpReply> {
        match self {
            Verdict::Reject(r) | Verdict::TempFail(r) => Some(r),
            _ => None,
        }
    }

    /// The SMTP reply as one line of text (lines joined with a space), for logs and `eval`.
    pub fn reply_text(&self) -> Option<String> {
        self.smtp_reply().map(reply_text)
    }
}

/// An SMTP reply as one line of text: `550 5.7.1 text` (continuation lines joined).
pub fn reply_text(r: &SmtpReply) -> String {
    let mut out = r.code().to_string();
    if let Some(e) = r.enhanced() {
        out.push(' ');
        out.push_str(&e.to_string());
    }
    for line in r.lines() {
        if !line.is_empty() {
            out.push(' ');
            out.push_str(&String::from_utf8_lossy(line));
        }
    }
    out
}

/// A header we add: name and value (folded with `\n\t`, no leading space: the MTA adds the
/// space after the colon).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewHeader {
    /// Header name.
    pub name: String,
    /// Value, folded with `\n\t`.
    pub value: String,
}

impl NewHeader {
    /// A header from its name and value.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        NewHeader {
            name: name.into(),
            value: value.into(),
        }
    }

    /// The value unfolded onto one line (RFC 5322 §2.2.3: a fold's line break goes, a fold
    /// with a tab reads as one space), for logs and `eval`.
    pub fn one_line(&self) -> String {
        self.value.replace("\n\t", " ").replace('\n', "")
    }
}

/// An incoming header to delete: its name and its 1-based occurrence among headers of that
/// name (the milter CHGHEADER index, milter-protocol.md "Header changes").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderDeletion {
    /// Header name.
    pub name: String,
    /// 1-based occurrence among headers of that name.
    pub index: u32,
}

/// A change to the envelope recipients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RcptChange {
    /// Remove this recipient.
    Delete(String),
    /// Add this recipient.
    Add(String),
}

/// Everything the milter sends at end of message.
#[derive(Debug, Clone)]
pub struct Decision {
    /// The final answer.
    pub verdict: Verdict,
    /// Put the message on hold with this reason (milter QUARANTINE).
    pub quarantine: Option<String>,
    /// Incoming headers to delete (forged Authentication-Results).
    pub delete: Vec<HeaderDeletion>,
    /// Headers to add at the very top, in top-down order: the first one ends up first in the
    /// message (docs/architecture.md, "Header order").
    pub prepend: Vec<NewHeader>,
    /// Headers to add at the bottom of the header block, in order.
    pub append: Vec<NewHeader>,
    /// New envelope sender (SRS).
    pub new_sender: Option<String>,
    /// ESMTP parameters to send with the new sender (the original RET= and ENVID=).
    pub new_sender_args: Option<String>,
    /// Recipient changes (SRS reversal).
    pub recipients: Vec<RcptChange>,
    /// The check results in one line (`spf=pass dkim=pass ...`), for the log.
    pub summary: String,
    /// The inbound check results, when checks ran.
    pub results: Option<Arc<Results>>,
    /// The DMARC policy as applied (disposition and overrides), when DMARC was evaluated.
    pub applied: Option<AppliedPolicy>,
    /// Our DKIM signatures, as `domain/selector` labels.
    pub signed: Vec<String>,
    /// How many distinct body hashes were computed (each body byte was hashed this many
    /// times, however many signatures were verified and made).
    pub body_hashes: usize,
}

impl Decision {
    /// Accept without changes.
    pub fn accept() -> Self {
        Decision {
            verdict: Verdict::Accept,
            quarantine: None,
            delete: Vec::new(),
            prepend: Vec::new(),
            append: Vec::new(),
            new_sender: None,
            new_sender_args: None,
            recipients: Vec::new(),
            summary: String::new(),
            results: None,
            applied: None,
            signed: Vec::new(),
            body_hashes: 0,
        }
    }

    /// The action name for logs: `quarantine` when held, else the verdict's.
    pub fn action(&self) -> &'static str {
        if self.quarantine.is_some() && self.verdict == Verdict::Accept {
            "quarantine"
        } else {
            self.verdict.action()
        }
    }

    /// Our Authentication-Results value, if we add one.
    pub fn authentication_results(&self) -> Option<&NewHeader> {
        self.prepend
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("Authentication-Results"))
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.action())?;
        if let Some(reply) = self.verdict.reply_text() {
            write!(f, " ({reply})")?;
        }
        Ok(())
    }
}
