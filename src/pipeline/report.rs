//! The JSON report of `authmilter eval` (keys documented in docs/cli.md).

use dkim::SignatureResult;
use serde::Serialize;
use spf::SpfOutput;

use super::results::Results;

impl Results {
    /// The JSON report of `authmilter eval` (keys documented in docs/cli.md).
    pub fn report(&self) -> ResultsReport {
        ResultsReport {
            spf: self.spf_mail.as_ref().map(SpfReport::from),
            spf_helo: self.spf_helo.as_ref().map(SpfReport::from),
            dkim: self.dkim.iter().map(DkimReport::from).collect(),
            dmarc: self.dmarc.as_ref().map(|d| DmarcReport {
                result: d.result.to_string(),
                domain: d.header_from().map(str::to_string),
                policy: d.policy().map(|p| p.to_string()),
                disposition: d.disposition.to_string(),
                reason: Some(d.reason_text()).filter(|r| !r.is_empty()),
            }),
            iprev: self.iprev.as_ref().map(|i| IprevReport {
                result: i.result.to_string(),
                name: i.name.clone(),
                reason: Some(i.reason.to_string()),
            }),
            arc: self.arc.as_ref().map(|a| ArcReport {
                result: a.result.to_string(),
                reason: a.reason.as_ref().map(ToString::to_string),
                oldest_pass: a.oldest_pass,
                sealers: a
                    .sets
                    .iter()
                    .map(|s| format!("i={} d={} s={}", s.instance, s.seal_domain, s.seal_selector))
                    .collect(),
                trusted_override: self.arc_override.as_ref().map(ToString::to_string),
            }),
            checked: self.dkim_checked,
        }
    }
}

/// `eval --json`: every check with its result and reason.
#[derive(Debug, Default, Serialize)]
pub struct ResultsReport {
    /// SPF of MAIL FROM.
    pub spf: Option<SpfReport>,
    /// SPF of HELO.
    pub spf_helo: Option<SpfReport>,
    /// One entry per DKIM signature.
    pub dkim: Vec<DkimReport>,
    /// DMARC.
    pub dmarc: Option<DmarcReport>,
    /// iprev.
    pub iprev: Option<IprevReport>,
    /// ARC.
    pub arc: Option<ArcReport>,
    /// The inbound checks ran (an empty `dkim` then means unsigned).
    #[serde(skip)]
    pub checked: bool,
}

/// SPF in the JSON report.
#[derive(Debug, Serialize)]
pub struct SpfReport {
    /// `pass`, `fail`, ...
    pub result: String,
    /// The domain checked.
    pub domain: String,
    /// The mechanism that matched.
    pub mechanism: Option<String>,
    /// The explanation for fail.
    pub explanation: Option<String>,
    /// Why it is an error.
    pub reason: Option<String>,
    /// DNS-querying terms used.
    pub lookups: usize,
}

impl From<&SpfOutput> for SpfReport {
    fn from(o: &SpfOutput) -> Self {
        SpfReport {
            result: o.result.to_string(),
            domain: o.domain.clone(),
            mechanism: o.mechanism.clone(),
            explanation: o.explanation.clone(),
            reason: o.problem.as_ref().map(ToString::to_string),
            lookups: o.dns_terms,
        }
    }
}

/// One DKIM signature in the JSON report (same shape as `dkim verify --json`).
#[derive(Debug, Serialize)]
pub struct DkimReport {
    /// `pass`, `fail`, `policy`, ...
    pub result: String,
    /// `d=`.
    pub domain: String,
    /// `s=`.
    pub selector: String,
    /// `a=`.
    pub algorithm: Option<String>,
    /// Why it did not pass.
    pub reason: Option<String>,
}

impl From<&SignatureResult> for DkimReport {
    fn from(r: &SignatureResult) -> Self {
        DkimReport {
            result: r.result.to_string(),
            domain: r.domain.clone(),
            selector: r.selector.clone(),
            algorithm: r.algorithm.map(|a| a.as_str().to_string()),
            reason: r
                .reason
                .as_ref()
                .filter(|_| r.result != dkim::DkimResult::Pass)
                .map(ToString::to_string),
        }
    }
}

/// DMARC in the JSON report.
#[derive(Debug, Serialize)]
pub struct DmarcReport {
    /// `pass`, `fail`, `none`, `temperror`, `permerror`.
    pub result: String,
    /// The From domain evaluated.
    pub domain: Option<String>,
    /// The policy that applies (`none`, `quarantine`, `reject`).
    pub policy: Option<String>,
    /// The disposition after pct / t=.
    pub disposition: String,
    /// How the result came about.
    pub reason: Option<String>,
}

/// ARC in the JSON report (RFC 8617).
#[derive(Debug, Serialize)]
pub struct ArcReport {
    /// `none`, `pass`, `fail`.
    pub result: String,
    /// Why it failed.
    pub reason: Option<String>,
    /// The oldest-pass instance (RFC 8617 §5.2).
    pub oldest_pass: Option<u32>,
    /// Each set's sealer, newest last: `i=1 d=google.com s=arc-2024`.
    pub sealers: Vec<String>,
    /// The trusted sealer's pass that kept a DMARC failure from being acted on.
    pub trusted_override: Option<String>,
}

/// iprev in the JSON report.
#[derive(Debug, Serialize)]
pub struct IprevReport {
    /// `pass`, `fail`, `temperror`, `permerror`.
    pub result: String,
    /// The confirmed name.
    pub name: Option<String>,
    /// Why.
    pub reason: Option<String>,
}
