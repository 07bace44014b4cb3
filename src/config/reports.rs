//! `[reports]` and `[reports.failure]` (`[reports.inbox]` is in `inbox.rs`): recording DMARC evaluations, the report store, and
//! sending aggregate (RFC 9990) and failure (RFC 9991) reports (docs/reports.md).

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::inbox::InboxConfig;
use super::values::{SocketSpec, Span};

/// `[reports]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReportsConfig {
    /// Record inbound DMARC evaluations and send reports.
    pub enabled: bool,
    /// Where the store is: `sqlite:/path` or `postgres://user@host/db`.
    pub store: StoreSetting,
    /// How long records, report states and received reports are kept.
    pub keep: Span,
    /// Also record evaluations whose policy record has no `rua=` (for statistics).
    pub record_all: bool,
    /// `org_name` of our reports; empty: the authserv-id.
    pub org_name: String,
    /// The contact address in our reports (`email`, RFC 9990 §3.1.1.3).
    pub email: String,
    /// `extra_contact_info`, e.g. a web page; empty: none.
    pub extra_contact_info: String,
    /// `From:` of report mails; empty: `email`.
    pub from: String,
    /// The reporting domain (`Submitter:`); empty: the domain of `from`.
    pub submitter: String,
    /// The SMTP relay reports are submitted to.
    pub relay: SocketSpec,
    /// Our EHLO name towards the relay; empty: this host's name.
    pub helo: String,
    /// This node sends reports (`serve` runs the schedule); false: it only records.
    pub send: bool,
    /// Reports of a day go out from this UTC hour of the next day on.
    pub send_hour: u8,
    /// How often the schedule looks for reports due and retries.
    pub interval: Span,
    /// `rfc9990`, or `rfc7489` for receivers that need the old schema.
    pub format: ReportFormatSetting,
    /// Report `envelope_to` for rows with one recipient domain.
    pub include_envelope_to: bool,
    /// Never send reports to these domains (and their subdomains) or addresses.
    pub deny: Vec<String>,
    /// Skip destinations whose domain has no MX (nor A/AAAA).
    pub require_mx: bool,
    /// At most this many aggregate reports to one destination address, e.g. `"100/1h"`.
    pub destination_rate: Rate,
    /// Give a destination up after this many failed submissions.
    pub max_attempts: u32,
    /// How long a sender holds a report; after a crash another sender resumes it then.
    pub claim_timeout: Span,
    /// Timeout of each SMTP step.
    pub smtp_timeout: Span,
    /// Records waiting between the milter and the store (full: new ones are dropped and
    /// counted).
    pub queue: usize,
    /// A write starts when this many records wait (and takes every record queued).
    pub batch_size: usize,
    /// Longest a record waits in memory before it is written.
    pub flush_interval: Span,
    /// This node's name in the store; empty: this host's name.
    pub node: String,
    /// Failure reports.
    pub failure: FailureReportsConfig,
    /// Reading the aggregate reports mailed to us.
    pub inbox: InboxConfig,
}

impl Default for ReportsConfig {
    fn default() -> Self {
        ReportsConfig {
            enabled: false,
            store: StoreSetting(report_store::StoreLocation::Sqlite(
                "/var/lib/authmilter/reports.db".into(),
            )),
            keep: Span::secs(90 * 86_400),
            record_all: false,
            org_name: String::new(),
            email: String::new(),
            extra_contact_info: String::new(),
            from: String::new(),
            submitter: String::new(),
            relay: SocketSpec::Inet {
                host: "127.0.0.1".into(),
                port: 25,
            },
            helo: String::new(),
            send: true,
            send_hour: 1,
            interval: Span::secs(900),
            format: ReportFormatSetting::Rfc9990,
            include_envelope_to: false,
            deny: Vec::new(),
            require_mx: true,
            destination_rate: Rate {
                count: 100,
                per: Span::secs(3600),
            },
            max_attempts: 5,
            claim_timeout: Span::secs(900),
            smtp_timeout: Span::secs(60),
            queue: 10_000,
            batch_size: 500,
            flush_interval: Span::secs(1),
            node: String::new(),
            failure: FailureReportsConfig::default(),
            inbox: InboxConfig::default(),
        }
    }
}

/// `[reports.failure]`: failure reports (RFC 9991), off by default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FailureReportsConfig {
    /// Send failure reports where `ruf=` and `fo=` ask for them.
    pub enabled: bool,
    /// What of the failed message to include: `headers` or `full` (with the body).
    pub original: OriginalSetting,
    /// A file with a secret: local parts of addresses are replaced by keyed hashes
    /// (RFC 6590); empty: no redaction.
    pub redaction_key: PathBuf,
    /// At most this many failure reports per policy domain.
    pub domain_rate: Rate,
    /// At most this many failure reports per destination address.
    pub destination_rate: Rate,
    /// At most this many failure reports in all, made by this node (RFC 9991 §8.1).
    pub total_rate: Rate,
    /// `Reporting-MTA` host name; empty: not written.
    pub reporting_mta: String,
    /// Failed messages waiting to be turned into reports (full: dropped and counted).
    pub queue: usize,
}

impl Default for FailureReportsConfig {
    fn default() -> Self {
        FailureReportsConfig {
            enabled: false,
            original: OriginalSetting::Headers,
            redaction_key: PathBuf::new(),
            domain_rate: Rate {
                count: 10,
                per: Span::secs(3600),
            },
            destination_rate: Rate {
                count: 20,
                per: Span::secs(3600),
            },
            total_rate: Rate {
                count: 1000,
                per: Span::secs(3600),
            },
            reporting_mta: String::new(),
            queue: 1000,
        }
    }
}

impl FailureReportsConfig {
    /// The `Reporting-MTA: dns;` name (RFC 6591 §3.1 via RFC 5965 §3.1) in A-labels; `None`:
    /// not written.
    pub fn reporting_mta_name(&self) -> Option<String> {
        Some(host_name(&self.reporting_mta)).filter(|s| !s.is_empty())
    }
}

/// The store location, checked when the file loads; shown with its password hidden.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct StoreSetting(pub report_store::StoreLocation);

impl TryFrom<String> for StoreSetting {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse().map(StoreSetting).map_err(|e| e.to_string())
    }
}

impl From<StoreSetting> for String {
    fn from(s: StoreSetting) -> String {
        s.0.to_string()
    }
}

/// `format`: the XML schema of our aggregate reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportFormatSetting {
    /// RFC 9990.
    Rfc9990,
    /// RFC 7489 Appendix C.
    Rfc7489,
}

/// `original`: how much of a failed message a failure report carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OriginalSetting {
    /// The header only (`text/rfc822-headers`).
    Headers,
    /// The whole message (`message/rfc822`); the body is still left out with redaction.
    Full,
}

/// A rate: `count` events per `per`, written `"100/1h"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Rate {
    /// Events allowed per window (at least 1).
    pub count: u64,
    /// The window.
    pub per: Span,
}

impl FromStr for Rate {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || format!("bad rate {text:?}: expected COUNT/DURATION, e.g. \"100/1h\"");
        let (count, per) = text.trim().split_once('/').ok_or_else(bad)?;
        let count: u64 = count.trim().parse().map_err(|_| bad())?;
        let per: Span = per.trim().parse().map_err(|e| format!("{}: {e}", bad()))?;
        if count == 0 || per.is_zero() {
            return Err(format!("{}: count and duration must not be 0", bad()));
        }
        Ok(Rate { count, per })
    }
}

impl TryFrom<String> for Rate {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<Rate> for String {
    fn from(r: Rate) -> String {
        r.to_string()
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.count, self.per)
    }
}

impl ReportsConfig {
    /// Checks the values serde cannot check alone; `line_of` finds a key's line.
    pub(super) fn validate(&self, line_of: &dyn Fn(&str) -> String) -> anyhow::Result<()> {
        use anyhow::bail;
        if self.send_hour > 23 {
            bail!(
                "reports.send_hour{}: an hour of the day, 0 to 23 (UTC)",
                line_of("send_hour")
            );
        }
        if self.interval.get() < std::time::Duration::from_secs(1) {
            bail!("reports.interval{}: at least 1s", line_of("interval"));
        }
        if self.keep.get() < std::time::Duration::from_secs(86_400) {
            bail!(
                "reports.keep{}: at least 1d (a report covers a day)",
                line_of("keep")
            );
        }
        for (key, value) in [
            ("reports.queue", self.queue),
            ("reports.batch_size", self.batch_size),
            ("reports.failure.queue", self.failure.queue),
        ] {
            if value == 0 {
                // Config::parse adds the key's line (config::with_line)
                bail!("{key}: at least 1");
            }
        }
        if self.flush_interval.is_zero() {
            bail!(
                "reports.flush_interval{}: must not be 0",
                line_of("flush_interval")
            );
        }
        for (key, value) in [
            ("claim_timeout", self.claim_timeout.get()),
            ("smtp_timeout", self.smtp_timeout.get()),
        ] {
            if value < std::time::Duration::from_secs(1) {
                bail!("reports.{key}{}: at least 1s", line_of(key));
            }
        }
        if self.max_attempts == 0 {
            bail!(
                "reports.max_attempts{}: at least 1",
                line_of("max_attempts")
            );
        }
        for (key, value) in [("email", &self.email), ("from", &self.from)] {
            if !value.is_empty() && !plain_address(value) {
                bail!(
                    "reports.{key}{}: {value:?} is not a plain address like dmarc-reports@example.com",
                    line_of(&format!("{key} ="))
                );
            }
        }
        // compared with whole domains (and their subdomains) and whole addresses: anything
        // else (`*.bad.example`, `*@bad.example`) would never match, and the reports it was
        // meant to stop would go out
        for d in &self.deny {
            let t = d.trim();
            let address = plain_address(t) && !t.starts_with("*@");
            if !address && super::policy::allowed_domain(t).is_none() {
                let hint = t
                    .strip_prefix("*.")
                    .or_else(|| t.strip_prefix("*@"))
                    .map(|rest| format!("; \"{rest}\" covers it and its subdomains"))
                    .unwrap_or_default();
                bail!(
                    "reports.deny{}: {d:?} is not a domain or an address{hint}",
                    line_of("deny")
                );
            }
        }
        // written into SMTP commands and header fields (EHLO, `Subject:`/`Submitter:` of the
        // report mail, `Reporting-MTA: dns;`): a value that is not a host name would be sent
        // as is, and a CR or LF in it would start another command or field
        for (key, value) in [
            ("helo", &self.helo),
            ("submitter", &self.submitter),
            ("failure.reporting_mta", &self.failure.reporting_mta),
        ] {
            let v = value.trim();
            let literal = key == "helo" && address_literal(v);
            if !v.is_empty() && !literal && super::policy::allowed_domain(v).is_none() {
                let what = if key == "helo" {
                    "a host name or an address literal like [192.0.2.1]"
                } else {
                    "a host name"
                };
                let short: String = v.chars().take(80).collect();
                bail!("reports.{key}{}: {short:?} is not {what}", line_of(key));
            }
        }
        // text written into the XML of every report (XML 1.0 §2.2 allows no C0 control but
        // TAB, CR and LF, and a receiver's parser refuses the whole report for one) and the
        // store; one line each
        for (key, value) in [
            ("org_name", &self.org_name),
            ("extra_contact_info", &self.extra_contact_info),
            ("node", &self.node),
        ] {
            if value.chars().any(char::is_control) {
                bail!(
                    "reports.{key}{}: control characters (CR, LF, TAB, NUL...) are not allowed",
                    line_of(&format!("{key} ="))
                );
            }
        }
        if self.enabled
            && let Err(e) = self.store.0.check_files()
        {
            bail!("reports.store{}: {e}", line_of("store"));
        }
        if self.enabled && self.send && self.email.trim().is_empty() {
            bail!(
                "reports.email{}: required when reports are sent (the contact address every report carries, RFC 9990 section 3.1.1.3); or set reports.send = false on a node that only records",
                line_of("[reports]")
            );
        }
        Ok(())
    }

    /// The contact address, `From:` address and reporting domain, with the defaults filled.
    pub fn identity(&self) -> (String, String, String) {
        let email = self.email.trim().to_string();
        let from = if self.from.trim().is_empty() {
            email.clone()
        } else {
            self.from.trim().to_string()
        };
        let submitter = if self.submitter.trim().is_empty() {
            from.rsplit_once('@')
                .map(|(_, d)| d.to_ascii_lowercase())
                .unwrap_or_default()
        } else {
            host_name(&self.submitter)
        };
        (email, from, submitter)
    }

    /// Our EHLO name towards the relay (RFC 5321 §4.1.1.1: a domain in A-labels or an address
    /// literal); `None`: this host's name.
    pub fn helo_name(&self) -> Option<String> {
        let v = self.helo.trim();
        if v.is_empty() {
            None
        } else if address_literal(v) {
            Some(v.to_string())
        } else {
            Some(host_name(v))
        }
    }
}

/// A host name as configured, in lower-case A-labels (RFC 5890 §2.3.2.1) and without a final
/// dot; validation has refused what is not one.
fn host_name(value: &str) -> String {
    let v = value.trim();
    super::policy::allowed_domain(v).unwrap_or_else(|| v.to_ascii_lowercase())
}

/// `[192.0.2.1]` or `[IPv6:2001:db8::1]` (RFC 5321 §4.1.3).
fn address_literal(s: &str) -> bool {
    let Some(inner) = s.strip_prefix('[').and_then(|r| r.strip_suffix(']')) else {
        return false;
    };
    match inner.get(..5) {
        Some(tag) if tag.eq_ignore_ascii_case("IPv6:") => inner
            .get(5..)
            .is_some_and(|a| a.parse::<std::net::Ipv6Addr>().is_ok()),
        _ => inner.parse::<std::net::Ipv4Addr>().is_ok(),
    }
}

/// `local@domain.tld` without display name, brackets or spaces.
pub(super) fn plain_address(s: &str) -> bool {
    match s.rsplit_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !s.contains(|c: char| c.is_whitespace() || c.is_control() || "<>\"".contains(c))
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates() {
        let r: Rate = "100/1h".parse().unwrap();
        assert_eq!((r.count, r.per), (100, Span::secs(3600)));
        assert_eq!(r.to_string(), "100/1h");
        for bad in ["100", "0/1h", "5/0s", "x/1h", "5/1 parsec"] {
            assert!(bad.parse::<Rate>().is_err(), "{bad}");
        }
    }

    /// `helo`, `submitter` and `failure.reporting_mta` are written into the SMTP dialogue with
    /// the relay and into header fields of every report mail: anything but a host name (or,
    /// for EHLO, an address literal) is refused with its key and line, a CR/LF above all (it
    /// would start another SMTP command or header field), and U-labels are used as A-labels.
    #[test]
    fn report_host_names_are_host_names() {
        use crate::config::Config;
        for (key, table) in [
            ("helo", "[reports]"),
            ("submitter", "[reports]"),
            ("reporting_mta", "[reports.failure]"),
        ] {
            for bad in [
                "mx.example\\r\\nRSET",
                "mx.example\\nX-Injected: 1",
                "two words.example",
                "mx..example",
                "<mx.example>",
                "mx_example!",
            ] {
                let text = format!("{table}\n{key} = \"{bad}\"\n");
                let Err(e) = Config::parse(&text) else {
                    panic!("{key} = {bad} accepted")
                };
                let e = format!("{e:#}");
                assert!(
                    e.contains(key) && e.contains("(line 2)"),
                    "{key} = {bad}: {e}"
                );
            }
            for good in ["mx.example", "MX.Example.ORG.", "b\u{fc}cher.example"] {
                let text = format!("{table}\n{key} = \"{good}\"\n");
                assert!(
                    Config::parse(&text).is_ok(),
                    "{key} = {good}: {:?}",
                    Config::parse(&text).err()
                );
            }
        }
        for literal in ["[192.0.2.1]", "[IPv6:2001:db8::1]"] {
            assert!(
                Config::parse(&format!("[reports]\nhelo = \"{literal}\"\n")).is_ok(),
                "{literal}"
            );
        }
        for bad in ["[192.0.2.300]", "[2001:db8::1]", "[IPv6:nonsense]"] {
            assert!(
                Config::parse(&format!("[reports]\nhelo = \"{bad}\"\n")).is_err(),
                "{bad}"
            );
        }
        let c = Config::parse(
            "[reports]\nhelo = \"B\u{fc}cher.Example.\"\nsubmitter = \"B\u{fc}cher.example\"\n\
             [reports.failure]\nreporting_mta = \"MX.b\u{fc}cher.example\"\n",
        )
        .unwrap();
        assert_eq!(
            c.reports.helo_name().as_deref(),
            Some("xn--bcher-kva.example")
        );
        assert_eq!(c.reports.identity().2, "xn--bcher-kva.example");
        assert_eq!(
            c.reports.failure.reporting_mta_name().as_deref(),
            Some("mx.xn--bcher-kva.example")
        );
        assert_eq!(ReportsConfig::default().helo_name(), None);
        assert_eq!(FailureReportsConfig::default().reporting_mta_name(), None);
    }

    /// `org_name`, `extra_contact_info` and `node` go into the XML of every aggregate report
    /// (and the store): a control character there makes the report unreadable to every
    /// receiver's XML parser (XML 1.0 §2.2), so it is refused when the file loads.
    #[test]
    fn report_texts_have_no_control_characters() {
        use crate::config::Config;
        for key in ["org_name", "extra_contact_info", "node"] {
            for bad in [
                "Example\\u0000Org",
                "Example\\nOrg",
                "Example\\u001bOrg",
                "a\\tb",
            ] {
                let text = format!("[reports]\n{key} = \"{bad}\"\n");
                let Err(e) = Config::parse(&text) else {
                    panic!("{key} = {bad} accepted")
                };
                let e = format!("{e:#}");
                assert!(e.contains(&format!("reports.{key} (line 2)")), "{e}");
            }
            let text = format!("[reports]\n{key} = \"Example Org, B\u{fc}cher & Co <x>\"\n");
            assert!(Config::parse(&text).is_ok(), "{key}");
        }
    }

    /// A `deny` entry that is neither a domain nor an address would never match a destination
    /// (the list is compared with whole domains and addresses): refused, as in the other
    /// domain lists, instead of silently sending the reports it was meant to stop.
    #[test]
    fn deny_entries_are_domains_or_addresses() {
        let parse =
            |entry: &str| crate::config::Config::parse(&format!("[reports]\ndeny = [{entry:?}]\n"));
        for good in [
            "bad.example",
            "BAD.example.",
            "dmarc@bad.example",
            "b\u{fc}cher.example",
        ] {
            assert!(parse(good).is_ok(), "{good}: {:?}", parse(good).err());
        }
        for bad in [
            "*.bad.example",
            "*@bad.example",
            "@bad.example",
            "bad..example",
            "bad_x!",
        ] {
            let Err(e) = parse(bad) else {
                panic!("{bad} accepted")
            };
            assert!(format!("{e:#}").contains("reports.deny"), "{bad}: {e:#}");
        }
    }
}
