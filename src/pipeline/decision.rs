//! What the pipeline decides for one message, independent of the milter wire format.

use std::fmt;

/// The final answer for a message (or an envelope stage).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Let the message through (with the header changes).
    Accept,
    /// Refuse it permanently with this SMTP reply (`550 5.7.1 ...`).
    Reject(String),
    /// Refuse it temporarily with this SMTP reply (`451 4.7.5 ...`).
    TempFail(String),
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

    /// The SMTP reply text for reject and tempfail.
    pub fn smtp_reply(&self) -> Option<&str> {
        match self {
            Verdict::Reject(r) | Verdict::TempFail(r) => Some(r),
            _ => None,
        }
    }
}

/// A header change, in the order it must be sent to the MTA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderChange {
    /// Insert a header at a 0-based position over all headers (0 = the very top).
    Insert {
        /// Position (milter INSHEADER semantics).
        index: u32,
        /// Header name.
        name: String,
        /// Value without the leading space, folded with `\n\t`.
        value: String,
    },
    /// Append a header at the bottom.
    Add {
        /// Header name.
        name: String,
        /// Value without the leading space, folded with `\n\t`.
        value: String,
    },
    /// Delete the `index`-th (1-based) header called `name`.
    Delete {
        /// Header name.
        name: String,
        /// 1-based occurrence among headers of that name.
        index: u32,
    },
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
#[derive(Debug)]
pub struct Decision {
    /// The final answer.
    pub verdict: Verdict,
    /// Put the message on hold with this reason (milter QUARANTINE).
    pub quarantine: Option<String>,
    /// Header changes, in sending order (deletions first, highest index first).
    pub headers: Vec<HeaderChange>,
    /// New envelope sender (SRS).
    pub new_sender: Option<String>,
    /// ESMTP parameters to send with the new sender (the original RET= and ENVID=).
    pub new_sender_args: Option<String>,
    /// Recipient changes (SRS reversal).
    pub recipients: Vec<RcptChange>,
    /// The check results in one line (`spf=pass dkim=pass ...`), for the log.
    pub summary: String,
    /// The inbound check results (for `eval`), when checks ran.
    pub results: Option<super::results::Results>,
}

impl Decision {
    /// Accept without changes.
    pub fn accept() -> Self {
        Decision {
            verdict: Verdict::Accept,
            quarantine: None,
            headers: Vec::new(),
            new_sender: None,
            new_sender_args: None,
            recipients: Vec::new(),
            summary: String::new(),
            results: None,
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
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.action())?;
        if let Some(reply) = self.verdict.smtp_reply() {
            write!(f, " ({reply})")?;
        }
        Ok(())
    }
}
