//! The check results of one message, and what is made of them: the Authentication-Results
//! header (RFC 8601), the log summary, and the JSON report of `authmilter eval`.

use authres::{AuthenticationResults, MethodResult, Property};
use dkim::SignatureResult;
use dmarc::DmarcOutcome;
use iprev::IprevOutcome;
use serde::Serialize;
use spf::{Identity, SpfOutput};

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
    /// DMARC.
    pub dmarc: Option<DmarcOutcome>,
    /// iprev.
    pub iprev: Option<IprevOutcome>,
}

impl Results {
    /// The Authentication-Results field for these results (RFC 8601 §2.2), methods in the
    /// order iprev, spf, dkim, dmarc.
    pub fn authentication_results(&self, authserv_id: &str) -> AuthenticationResults {
        let mut ar = AuthenticationResults::new(authserv_id);
        if let Some(i) = &self.iprev {
            let mut prop = Property::new("policy", "iprev", i.ip.to_string());
            if let Some(name) = &i.name {
                prop = prop.with_comment(name.clone());
            }
            let mut m = MethodResult::new("iprev", i.result).with(prop);
            if i.result != iprev::IprevResult::Pass {
                m = m.with_reason(i.reason.to_string());
            }
            ar.push(m);
        }
        if let Some(o) = &self.spf_mail {
            let mut m = spf_method(o, Identity::MailFrom);
            if let Some(up) = &self.spf_from_upstream {
                m = m.with_comment(format!("from {up}"));
            }
            ar.push(m);
        }
        if let Some(o) = &self.spf_helo {
            ar.push(spf_method(o, Identity::Helo));
        }
        if self.dkim_checked {
            if self.dkim.is_empty() {
                ar.push(MethodResult::new("dkim", "none"));
            }
            for r in &self.dkim {
                let mut m = MethodResult::new("dkim", r.result);
                if let Some(reason) = &r.reason
                    && r.result != dkim::DkimResult::Pass
                {
                    m = m.with_reason(reason.to_string());
                }
                if let Some(bits) = r.key_bits
                    && r.result == dkim::DkimResult::Pass
                {
                    m = m.with_comment(format!("{bits}-bit key"));
                }
                if !r.domain.is_empty() {
                    m = m.with_property("header", "d", r.domain.clone());
                }
                if let Some(i) = &r.identity {
                    m = m.with_property("header", "i", i.clone());
                }
                if !r.selector.is_empty() {
                    m = m.with_property("header", "s", r.selector.clone());
                }
                if let Some(a) = r.algorithm {
                    m = m.with_property("header", "a", a.as_str().to_string());
                }
                if !r.header_b.is_empty() {
                    let b: String = r.header_b.chars().take(8).collect();
                    m = m.with_property("header", "b", b);
                }
                ar.push(m);
            }
        }
        if let Some(d) = &self.dmarc {
            ar.push(dmarc_method(d));
        }
        ar
    }

    /// One line for the log: `spf=pass dkim=pass dmarc=pass iprev=fail`.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if let Some(i) = &self.iprev {
            parts.push(format!("iprev={}", i.result));
        }
        if let Some(o) = &self.spf_mail {
            parts.push(format!("spf={} ({})", o.result, o.domain));
        }
        if let Some(o) = &self.spf_helo {
            parts.push(format!("spf.helo={}", o.result));
        }
        if self.dkim_checked {
            if self.dkim.is_empty() {
                parts.push("dkim=none".into());
            }
            for r in &self.dkim {
                parts.push(format!("dkim={} ({})", r.result, r.domain));
            }
        }
        if let Some(d) = &self.dmarc {
            parts.push(format!(
                "dmarc={} ({} p={} dis={})",
                d.result,
                d.header_from().unwrap_or("-"),
                d.policy()
                    .map(|p| p.to_string())
                    .unwrap_or_else(|| "-".into()),
                d.disposition
            ));
        }
        parts.join(" ")
    }

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
        }
    }
}

fn spf_method(o: &SpfOutput, identity: Identity) -> MethodResult {
    let prop = spf::authres_property(o, identity);
    let mut m =
        MethodResult::new("spf", o.result).with_property(prop.ptype, prop.property, prop.value);
    if let Some(p) = &o.problem {
        m = m.with_reason(p.to_string());
    } else if let Some(mech) = &o.mechanism
        && matches!(o.result, spf::SpfResult::Fail | spf::SpfResult::SoftFail)
    {
        m = m.with_reason(format!("mechanism {mech} matched"));
    }
    m
}

fn dmarc_method(d: &DmarcOutcome) -> MethodResult {
    let mut m = MethodResult::new("dmarc", d.result);
    if let Some(e) = d.primary() {
        let mut comment = Vec::new();
        if let Some(p) = e.policy {
            comment.push(format!("p={p}"));
        }
        if e.record.is_some() {
            comment.push(format!("dis={}", e.disposition));
        }
        if !comment.is_empty() {
            m = m.with_comment(comment.join(" "));
        }
    }
    if matches!(
        d.result,
        dmarc::DmarcResult::Fail | dmarc::DmarcResult::TempError | dmarc::DmarcResult::PermError
    ) {
        let why = d.reason_text();
        if !why.is_empty() {
            m = m.with_reason(why);
        }
    }
    if let Some(from) = d.header_from() {
        m = m.with_property("header", "from", from.to_string());
    }
    if let Some(p) = d.policy() {
        m = m.with_property("policy", "dmarc", p.to_string());
    }
    m
}

/// `eval --json`: every check with its result and reason.
#[derive(Debug, Serialize)]
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
