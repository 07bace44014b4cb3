//! `[reports.inbox]`: reading the aggregate reports mailed to us (RFC 9990 §3.5.2: the
//! `rua=mailto:` addresses of our own DMARC records) as they pass through the milter
//! (docs/reports.md, "Reports in").

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::values::Span;

/// `max_records` by default: storing a record holds ~2 KB until its report's transaction
/// ends (docs/architecture.md), so 50,000 keep one report near 100 MB; a report that large
/// covers 50,000 sources and results in one day.
const DEFAULT_MAX_RECORDS: usize = 50_000;

/// `[reports.inbox]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InboxConfig {
    /// Mail to these addresses is read as aggregate reports and stored; empty: off.
    pub addresses: Vec<String>,
    /// What happens to such a message once its reports are stored.
    pub action: InboxAction,
    /// Larger messages are delivered untouched, unread (and logged), bytes.
    pub max_size: usize,
    /// Memory for captured messages at once, being received and waiting to be read, bytes;
    /// a message that does not fit is delivered unread (and logged). Also the most XML one
    /// message's attachments may decompress to.
    pub max_memory: usize,
    /// Most records one report may hold to be stored here (RFC 9990 §8.1); a larger one is
    /// logged as unreadable and its message delivered (`report import` reads more).
    pub max_records: usize,
    /// `action = "discard"`: the reports must be read and stored within this time, or the
    /// message is delivered.
    pub discard_timeout: Span,
    /// Look up the reverse DNS names of the sources in new reports (for the dashboard).
    pub resolve_names: bool,
    /// Store only the reports of a message whose From domain passed DMARC (RFC 9990 §3.5.2);
    /// any other is logged, not read, and delivered.
    pub authenticated_only: bool,
    /// Only reports whose policy domain is one of these or below one are stored (RFC 9990
    /// §3.1.1.9 `policy_published/domain`); others are logged and skipped. Empty: any.
    pub domains: Vec<String>,
}

impl Default for InboxConfig {
    fn default() -> Self {
        InboxConfig {
            addresses: Vec::new(),
            action: InboxAction::Deliver,
            max_size: 10 << 20,
            max_memory: 64 << 20,
            max_records: DEFAULT_MAX_RECORDS,
            discard_timeout: Span::secs(10),
            resolve_names: true,
            authenticated_only: false,
            domains: Vec::new(),
        }
    }
}

/// `action`: a report message once its reports are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InboxAction {
    /// Deliver it as usual (the reports are read in the background).
    Deliver,
    /// Drop it, but only once every report in it is stored, and only when it passed DMARC
    /// and holds nothing but reports; anything else is delivered.
    Discard,
}

impl InboxConfig {
    /// True when some address is configured.
    pub fn enabled(&self) -> bool {
        !self.addresses.is_empty()
    }

    /// Whether `rcpt` (an envelope recipient, without angle brackets) is one of the
    /// addresses: ASCII case-insensitively, as mailbox providers treat them.
    pub fn matches(&self, rcpt: &[u8]) -> bool {
        self.addresses
            .iter()
            .any(|a| a.as_bytes().eq_ignore_ascii_case(rcpt))
    }

    /// Whether a report about `policy_domain` (its key: a lowercase A-label, RFC 9990
    /// §3.1.1.9) is stored: `domains` is empty, or the domain is one of them or below one
    /// (ASCII case and a trailing dot ignored; a U-label of ours compared as its A-label,
    /// RFC 5890 §2.3.2.1).
    pub fn wants_domain(&self, policy_domain: &str) -> bool {
        self.domains.is_empty()
            || self.domains.iter().any(|ours| {
                let ours = ours.trim().trim_end_matches('.');
                let key = reports::PolicyPublished::key_of(ours);
                dns::name::is_subdomain_of(policy_domain, key.as_deref().unwrap_or(ours))
            })
    }

    /// The reader's limits for one captured message (RFC 9990 §8.1): `max_size` of input,
    /// at most `max_memory` of decompressed XML, `max_records` a report; the rest as
    /// `report import` reads.
    pub fn read_limits(&self) -> reports::Limits {
        let defaults = reports::Limits::default();
        reports::Limits {
            max_input_bytes: self.max_size,
            max_xml_bytes: defaults.max_xml_bytes.min(self.max_memory),
            max_total_xml_bytes: defaults.max_total_xml_bytes.min(self.max_memory),
            max_records: self.max_records,
            ..defaults
        }
    }

    /// Checks the values serde cannot check alone; `eom_timeout` is `[server] eom_timeout`.
    pub(super) fn validate(
        &self,
        eom_timeout: Duration,
        line_of: &dyn Fn(&str) -> String,
    ) -> anyhow::Result<()> {
        use anyhow::bail;
        for a in &self.addresses {
            if !super::reports::plain_address(a) {
                bail!(
                    "reports.inbox.addresses{}: {a:?} is not a plain address like dmarc@example.com",
                    line_of("addresses")
                );
            }
        }
        for (i, d) in self.domains.iter().enumerate() {
            // an A-label or a U-label (RFC 5890 §2.3.2.1)
            if reports::PolicyPublished::key_of(d.trim().trim_end_matches('.')).is_none() {
                bail!(
                    "reports.inbox.domains[{i}]{}: {d:?} is not a domain name",
                    line_of("domains")
                );
            }
        }
        if self.max_size < 1024 || self.max_size > self.max_memory {
            bail!(
                "reports.inbox.max_size{}: at least 1024 bytes and at most max_memory ({})",
                line_of("max_size"),
                self.max_memory
            );
        }
        let most_records = reports::Limits::default().max_records;
        if !(1..=most_records).contains(&self.max_records) {
            bail!(
                "reports.inbox.max_records{}: 1 to {most_records} (the reader's own limit)",
                line_of("max_records")
            );
        }
        if self.max_memory > 4 << 30 {
            bail!(
                "reports.inbox.max_memory{}: at most 4 GiB",
                line_of("max_memory")
            );
        }
        // only discard waits for the reports; a deliver-only inbox (or none) fits any budget
        let waits = self.action == InboxAction::Discard;
        if self.discard_timeout.is_zero() || (waits && self.discard_timeout.get() >= eom_timeout) {
            bail!(
                "reports.inbox.discard_timeout{}: more than 0 and less than server.eom_timeout ({}s), so that the milter still answers in time",
                line_of("discard_timeout"),
                eom_timeout.as_secs()
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use super::*;

    #[test]
    fn addresses_match_case_insensitively_and_values_are_checked() {
        let c = Config::parse(
            "[reports.inbox]\naddresses = [\"DMARC@Example.com\"]\naction = \"discard\"\n",
        )
        .unwrap();
        let inbox = &c.reports.inbox;
        assert!(inbox.enabled());
        assert_eq!(inbox.action, InboxAction::Discard);
        assert!(inbox.matches(b"dmarc@example.COM"));
        assert!(!inbox.matches(b"dmarc@example.com.evil"));
        assert!(!InboxConfig::default().enabled());
        assert!(InboxConfig::default().wants_domain("anything.example"));
        let c = Config::parse("[reports.inbox]\ndomains = [\"Example.com.\", \"example.net\"]\n")
            .unwrap();
        let inbox = &c.reports.inbox;
        for ours in [
            "example.com",
            "EXAMPLE.com.",
            "mail.example.com",
            "example.net",
        ] {
            assert!(inbox.wants_domain(ours), "{ours}");
        }
        for theirs in [
            "evilexample.com",
            "example.com.evil",
            "com",
            "paypal.com",
            "",
        ] {
            assert!(!inbox.wants_domain(theirs), "{theirs}");
        }
        // a U-label is a domain name (RFC 5890 §2.3.2.1); reports name policy domains in
        // A-labels, the key the store uses
        let c = Config::parse("[reports.inbox]\ndomains = [\"Bücher.example.\"]\n").unwrap();
        let inbox = &c.reports.inbox;
        for ours in ["xn--bcher-kva.example", "dmarc.xn--bcher-kva.example"] {
            assert!(inbox.wants_domain(ours), "{ours}");
        }
        assert!(!inbox.wants_domain("bucher.example"));
        for (bad, key) in [
            ("addresses = [\"Reports <d@example.com>\"]", "addresses"),
            ("addresses = [\"nodomain\"]", "addresses"),
            ("max_size = 10", "max_size"),
            ("domains = [\"not a domain\"]", "domains"),
            ("max_size = 200\nmax_memory = 100", "max_size"),
            ("discard_timeout = \"0s\"", "discard_timeout"),
            ("max_records = 0", "max_records"),
            ("max_records = 200001", "max_records"),
            (
                "action = \"discard\"\ndiscard_timeout = \"300s\"",
                "discard_timeout",
            ),
            ("act = \"deliver\"", "act"),
            ("action = \"bounce\"", "action"),
        ] {
            let err = Config::parse(&format!("[reports.inbox]\n{bad}\n"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(key), "{bad}: {err}");
        }
        // the discard budget stays inside the milter's end-of-message budget
        let err = Config::parse(
            "[server]\neom_timeout = \"5s\"\n[reports.inbox]\naction = \"discard\"\n\
             discard_timeout = \"5s\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("less than server.eom_timeout"), "{err}");
        // without discard the timeout is not used: a short eom_timeout is fine
        for inbox in ["", "[reports.inbox]\naddresses = [\"d@example.com\"]\n"] {
            let text = format!("[server]\neom_timeout = \"1s\"\n{inbox}");
            assert!(Config::parse(&text).is_ok(), "{text}");
        }
    }

    /// RFC 9990 §8.1: what one captured message may cost follows the inbox's own settings,
    /// while `report import` keeps the reader's defaults.
    #[test]
    fn the_reader_limits_follow_the_inbox_settings() {
        let c = Config::parse(
            "[reports.inbox]\naddresses = [\"d@example.com\"]\nmax_size = 2048\n\
             max_memory = 8388608\nmax_records = 1000\n",
        )
        .unwrap();
        let limits = c.reports.inbox.read_limits();
        assert_eq!(limits.max_input_bytes, 2048);
        assert_eq!(limits.max_xml_bytes, 8 << 20);
        assert_eq!(limits.max_total_xml_bytes, 8 << 20);
        assert_eq!(limits.max_records, 1000);
        let defaults = reports::Limits::default();
        assert_eq!(limits.max_zip_entries, defaults.max_zip_entries);
        // by default: 10 MB of mail, 64 MiB of XML in all, 50,000 records a report
        let limits = InboxConfig::default().read_limits();
        assert_eq!(limits.max_input_bytes, 10 << 20);
        assert_eq!(limits.max_xml_bytes, 64 << 20);
        assert_eq!(limits.max_total_xml_bytes, 64 << 20);
        assert!(limits.max_total_xml_bytes < defaults.max_total_xml_bytes);
        assert_eq!(limits.max_records, 50_000);
    }
}
