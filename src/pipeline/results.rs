//! The check results of one message and the one-line summary for the log.

use dkim::SignatureResult;
use dmarc::DmarcOutcome;
use iprev::IprevOutcome;
use spf::SpfOutput;

/// Everything the inbound checks found.
#[derive(Debug, Default)]
pub struct Results {
    /// SPF of MAIL FROM (or `postmaster@<helo>` for the null sender).
    pub spf_mail: Option<SpfOutput>,
    /// SPF of the HELO name.
    pub spf_helo: Option<SpfOutput>,
    /// The trusted upstream authserv-id the MAIL FROM SPF result was taken from, if any.
    pub spf_from_upstream: Option<String>,
    /// One result per DKIM signature (empty: unsigned).
    pub dkim: Vec<SignatureResult>,
    /// DKIM verification ran (so an empty `dkim` means "not signed").
    pub dkim_checked: bool,
    /// ARC chain validation (RFC 8617 §5.2), when it ran.
    pub arc: Option<arc::ArcOutcome>,
    /// A trusted sealer's recorded pass that kept a DMARC failure from being acted on
    /// (RFC 8617 §7.2.1), when one did.
    pub arc_override: Option<arc::TrustedPass>,
    /// The pass a trusted sealer recorded, when its key did not answer in DNS: the override
    /// it would have made is undecided (`[policy] temperror`), never granted.
    pub arc_override_undecided: Option<arc::TrustedPass>,
    /// DMARC.
    pub dmarc: Option<DmarcOutcome>,
    /// iprev.
    pub iprev: Option<IprevOutcome>,
}

impl Results {
    /// One line for the log: `spf=pass dkim=pass dmarc=pass iprev=fail`.
    /// Appended to `out` (one buffer, no string per part).
    /// (bounded whatever the message: at most [`SUMMARY_SIGNATURES`] signatures, each
    /// domain at most [`SUMMARY_DOMAIN_CHARS`] characters, so the log never cuts it)
    pub fn write_summary(&self, out: &mut String) {
        use std::fmt::Write;
        // each part after the first is preceded by a space
        let start = out.len();
        let sep = |out: &mut String| {
            if out.len() > start {
                out.push(' ');
            }
        };
        // writing to a String cannot fail
        if let Some(i) = &self.iprev {
            sep(out);
            let _ = write!(out, "iprev={}", i.result);
        }
        if let Some(o) = &self.spf_mail {
            sep(out);
            let _ = write!(out, "spf={} ({})", o.result, Shown(&o.domain));
        }
        if let Some(o) = &self.spf_helo {
            sep(out);
            let _ = write!(out, "spf.helo={}", o.result);
        }
        if self.dkim_checked {
            if self.dkim.is_empty() {
                sep(out);
                out.push_str("dkim=none");
            }
            for r in self.dkim.iter().take(SUMMARY_SIGNATURES) {
                sep(out);
                let _ = write!(out, "dkim={} ({})", r.result, Shown(&r.domain));
            }
            if let Some(more) = self.dkim.len().checked_sub(SUMMARY_SIGNATURES)
                && more > 0
            {
                sep(out);
                let _ = write!(out, "dkim=({more} more)");
            }
        }
        if let Some(a) = &self.arc {
            sep(out);
            let _ = write!(out, "arc={}", a.result);
        }
        if let Some(d) = &self.dmarc {
            sep(out);
            let _ = write!(
                out,
                "dmarc={} ({} p=",
                d.result,
                Shown(d.header_from().unwrap_or("-"))
            );
            match d.policy() {
                Some(p) => {
                    let _ = write!(out, "{p}");
                }
                None => out.push('-'),
            }
            let _ = write!(out, " dis={})", d.disposition);
        }
    }

    /// The results as separate log fields (JSON logs carry them as fields, not one string).
    pub fn log_fields(&self) -> LogFields {
        LogFields {
            spf: self
                .spf_mail
                .as_ref()
                .map(|o| o.result.as_str())
                .unwrap_or(""),
            dkim: self
                .dkim
                .iter()
                .map(|r| r.result.to_string())
                .collect::<Vec<_>>()
                .join(","),
            dmarc: self.dmarc.as_ref().map(|d| d.result.as_str()).unwrap_or(""),
            from_domain: self
                .dmarc
                .as_ref()
                .and_then(|d| d.header_from())
                .unwrap_or("")
                .to_string(),
            iprev: self.iprev.as_ref().map(|i| i.result.as_str()).unwrap_or(""),
            arc: self.arc.as_ref().map(|a| a.result.as_str()).unwrap_or(""),
        }
    }
}

/// Signatures listed one by one in the log's summary; the rest are counted.
pub const SUMMARY_SIGNATURES: usize = 8;
/// Characters of a domain shown in the log's summary (a sender chooses `d=` and the From).
pub const SUMMARY_DOMAIN_CHARS: usize = 64;

/// A domain as the summary shows it: cut after [`SUMMARY_DOMAIN_CHARS`] characters.
struct Shown<'a>(&'a str);

impl std::fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.char_indices().nth(SUMMARY_DOMAIN_CHARS) {
            Some((cut, _)) => write!(f, "{}...", self.0.get(..cut).unwrap_or_default()),
            None => f.write_str(self.0),
        }
    }
}

/// The results of one message as separate log fields (empty: not evaluated).
#[derive(Debug, Default)]
pub struct LogFields {
    /// `spf` of MAIL FROM.
    pub spf: &'static str,
    /// `dkim` results, comma-separated in header order.
    pub dkim: String,
    /// `dmarc`.
    pub dmarc: &'static str,
    /// The author domain DMARC evaluated.
    pub from_domain: String,
    /// `iprev`.
    pub iprev: &'static str,
    /// `arc`.
    pub arc: &'static str,
}
