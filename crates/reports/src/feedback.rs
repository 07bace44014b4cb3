//! The aggregate report model: the complex types of the RFC 9990 XSD (Appendix A), wide
//! enough to hold RFC 7489 reports (Appendix C) too. Built from observations
//! ([`crate::aggregate`]), written ([`crate::xml_write`]) and parsed ([`crate::xml_parse`]).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::observation::OverrideReason;
use crate::vocabulary::{
    ActionDisposition, AlignedResult, AlignmentMode, DiscoveryMethod, Disposition, DkimResult,
    SpfResult, SpfScope,
};

/// An aggregate feedback report, the `feedback` root element (RFC 9990 §3.1.1.1–§3.1.1.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Feedback {
    /// `version`: `1.0` in reports we write; whatever the reporter wrote when parsed.
    pub version: Option<String>,
    /// `report_metadata` (RFC 9990 §3.1.1.3).
    pub metadata: ReportMetadata,
    /// `policy_published` (RFC 9990 §3.1.1.5).
    pub policy: PolicyPublished,
    /// `record` elements (RFC 9990 §3.1.1.7), at least one.
    pub records: Vec<Record>,
}

impl Feedback {
    /// The key that identifies a report for de-duplication: (org_name, report_id)
    /// (RFC 9990 §3.5.4: re-sent reports keep their identifiers).
    pub fn idempotency_key(&self) -> (&str, &str) {
        (&self.metadata.org_name, &self.metadata.report_id)
    }

    /// The number of messages the report covers: the sum of the rows' `count`.
    pub fn message_count(&self) -> u64 {
        self.records
            .iter()
            .fold(0u64, |sum, r| sum.saturating_add(r.row.count))
    }
}

/// Report generator metadata (RFC 9990 §3.1.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportMetadata {
    /// `org_name`: the reporting organization.
    pub org_name: String,
    /// `email`: a contact address of the reporting organization.
    pub email: String,
    /// `extra_contact_info`.
    pub extra_contact_info: Option<String>,
    /// `report_id` (RFC 9990 §3.5.1).
    pub report_id: String,
    /// `date_range` (RFC 9990 §3.1.1.4).
    pub date_range: DateRange,
    /// `error` messages about the policy record (RFC 9990 §3.1.5; one element in RFC 9990,
    /// any number in RFC 7489).
    pub errors: Vec<String>,
    /// `generator`: name and version of the reporting software (RFC 9990 only).
    pub generator: Option<String>,
}

/// The reporting period, Unix seconds, UTC (RFC 9990 §3.1.1.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DateRange {
    /// Start of the period.
    pub begin: u64,
    /// End of the period.
    pub end: u64,
}

impl DateRange {
    /// The UTC day containing `time`: 00:00:00 to 23:59:59 (RFC 9990 §3.1.1.4 "typically a
    /// single UTC day, beginning at 0000UTC").
    pub fn utc_day(time: u64) -> Self {
        let begin = time - time % 86_400;
        DateRange {
            begin,
            end: begin.saturating_add(86_399),
        }
    }

    /// Whether `time` lies in the period (both ends included).
    pub fn contains(&self, time: u64) -> bool {
        self.begin <= time && time <= self.end
    }
}

/// The policy record as the receiver saw it (RFC 9990 §3.1.1.5; RFC 7489 adds `pct`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyPublished {
    /// `domain`: the DMARC Policy Domain.
    pub domain: String,
    /// `discovery_method` (RFC 9990 only).
    pub discovery_method: Option<DiscoveryMethod>,
    /// `p`.
    pub p: Disposition,
    /// `sp`.
    pub sp: Option<Disposition>,
    /// `np` (RFC 9990 only).
    pub np: Option<Disposition>,
    /// `adkim`.
    pub adkim: Option<AlignmentMode>,
    /// `aspf`.
    pub aspf: Option<AlignmentMode>,
    /// `pct` (RFC 7489 only).
    pub pct: Option<u8>,
    /// `fo`, as in the record (`0`, `1:d`, ...).
    pub fo: Option<String>,
    /// `testing`: the `t` tag (RFC 9990 only).
    pub testing: Option<bool>,
}

impl PolicyPublished {
    /// The Policy Domain in the one spelling the store, the dashboard and the inbox's
    /// domain list key it by: lowercase A-label without a trailing dot (RFC 9990 §3.1.1.9,
    /// RFC 5890 §2.3.2.1), so `Example.COM.` and `example.com` are one domain. `domain` keeps
    /// what the reporter wrote; a parsed report always has a key.
    pub fn domain_key(&self) -> String {
        Self::key_of(&self.domain).unwrap_or_else(|| self.domain.to_ascii_lowercase())
    }

    /// The key of `domain` as [`Self::domain_key`] makes it (RFC 9990 §3.1.1.9), or `None`
    /// when it is no host name: also for a domain an operator asks for.
    pub fn key_of(domain: &str) -> Option<String> {
        dns::name::to_ascii(domain.as_bytes())
            .ok()
            .filter(|d| dns::name::is_host_like(d))
    }
}

/// One row of the report: a set of messages with identical data (RFC 9990 §3.1.1.7).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Record {
    /// `row` (RFC 9990 §3.1.1.8).
    pub row: Row,
    /// `identifiers` (RFC 9990 §3.1.1.10).
    pub identifiers: Identifiers,
    /// `auth_results` (RFC 9990 §3.1.1.11).
    pub auth_results: AuthResults,
}

/// Source and count (RFC 9990 §3.1.1.8).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Row {
    /// `source_ip`: the connecting IP address.
    pub source_ip: IpAddr,
    /// `count`: how many messages.
    pub count: u64,
    /// `policy_evaluated` (RFC 9990 §3.1.1.9).
    pub policy_evaluated: PolicyEvaluated,
}

impl Row {
    /// The source as the store keys it: an IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, as
    /// a reporter's dual-stack listener sees IPv4 clients) is the IPv4 address it maps
    /// (RFC 4291 §2.5.5.2), one source with its other reports and looked up in in-addr.arpa.
    pub fn source(&self) -> IpAddr {
        self.source_ip.to_canonical()
    }
}

/// The result of applying DMARC (RFC 9990 §3.1.1.9).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PolicyEvaluated {
    /// `disposition` applied.
    pub disposition: ActionDisposition,
    /// `dkim`: aligned DKIM pass or not.
    pub dkim: AlignedResult,
    /// `spf`: aligned SPF pass or not.
    pub spf: AlignedResult,
    /// `reason` elements (RFC 9990 §3.1.1.14).
    pub reasons: Vec<OverrideReason>,
}

/// The identifiers used to apply policy (RFC 9990 §3.1.1.10).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Identifiers {
    /// `header_from`: the RFC5322.From domain.
    pub header_from: String,
    /// `envelope_from`: the RFC5321.MailFrom domain (empty for a null reverse-path).
    pub envelope_from: Option<String>,
    /// `envelope_to`: the RFC5321.RcptTo domain.
    pub envelope_to: Option<String>,
}

/// DKIM and SPF results, uninterpreted with respect to DMARC (RFC 9990 §3.1.1.11).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct AuthResults {
    /// `dkim` elements.
    pub dkim: Vec<DkimAuthResult>,
    /// `spf` elements (at most one in RFC 9990; one or more in RFC 7489).
    pub spf: Vec<SpfAuthResult>,
}

/// One DKIM signature's result (RFC 9990 §3.1.1.12).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DkimAuthResult {
    /// `domain`: `d=`.
    pub domain: String,
    /// `selector`: `s=` (required by RFC 9990, optional in RFC 7489).
    pub selector: Option<String>,
    /// `result`.
    pub result: DkimResult,
    /// `human_result`.
    pub human_result: Option<String>,
}

/// The SPF result (RFC 9990 §3.1.1.13).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SpfAuthResult {
    /// `domain` checked.
    pub domain: String,
    /// `scope` (`mfrom`; RFC 7489 also `helo`).
    pub scope: Option<SpfScope>,
    /// `result`.
    pub result: SpfResult,
    /// `human_result` (RFC 9990 only).
    pub human_result: Option<String>,
}
