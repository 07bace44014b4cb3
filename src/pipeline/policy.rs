//! From results to an answer: the `[spf]`, `[dmarc]` and `[policy]` settings applied to what
//! the checks found (docs/configuration.md, "Actions").

use std::net::IpAddr;

use crate::app::App;
use crate::config::{QuarantineAction, TempErrorAction};

use super::decision::{Decision, HeaderChange, Verdict};
use super::results::Results;

/// Facts about the message the policy needs besides the results.
pub struct PolicyInput<'a> {
    /// The client address.
    pub client_ip: Option<IpAddr>,
    /// MAIL FROM domain (lowercase), if any.
    pub mail_from_domain: Option<&'a str>,
}

/// Applies the configured actions to inbound results. Never called for our own users' mail.
pub fn apply(app: &App, input: &PolicyInput<'_>, results: &Results, decision: &mut Decision) {
    let cfg = &app.config;
    if is_allowed(app, input, results) {
        return;
    }
    // SPF fail rejection (off by default: DMARC decides).
    if cfg.spf.enabled
        && cfg.spf.reject_fail
        && let Some(o) = &results.spf_mail
    {
        match o.result {
            spf::SpfResult::Fail => {
                let expl = o
                    .explanation
                    .clone()
                    .unwrap_or_else(|| format!("{} does not authorize this sender", o.domain));
                decision.verdict = Verdict::Reject(fill(
                    &cfg.spf.reject_reply,
                    &[("domain", &o.domain), ("explanation", &expl)],
                ));
                return;
            }
            spf::SpfResult::TempError if cfg.policy.temperror == TempErrorAction::Tempfail => {
                decision.verdict =
                    Verdict::TempFail(fill(&cfg.policy.tempfail_reply, &[("domain", &o.domain)]));
                return;
            }
            _ => {}
        }
    }
    let Some(d) = &results.dmarc else { return };
    if !cfg.dmarc.enforce {
        return;
    }
    let domain = d.header_from().unwrap_or("the From domain").to_string();
    match d.result {
        dmarc::DmarcResult::Fail => match d.disposition {
            dmarc::Disposition::Reject => {
                decision.verdict =
                    Verdict::Reject(fill(&cfg.dmarc.reject_reply, &[("domain", &domain)]));
            }
            dmarc::Disposition::Quarantine => match cfg.dmarc.quarantine {
                QuarantineAction::Hold => {
                    decision.quarantine = Some(format!("DMARC policy of {domain} says quarantine"));
                }
                QuarantineAction::Header => {
                    if let Some((name, value)) = cfg.dmarc.quarantine_header.split_once(':') {
                        decision.headers.push(HeaderChange::Add {
                            name: name.trim().to_string(),
                            value: value.trim().to_string(),
                        });
                    }
                }
            },
            dmarc::Disposition::None => {}
        },
        dmarc::DmarcResult::TempError => {
            if cfg.policy.temperror == TempErrorAction::Tempfail {
                decision.verdict =
                    Verdict::TempFail(fill(&cfg.policy.tempfail_reply, &[("domain", &domain)]));
            }
        }
        dmarc::DmarcResult::PermError => {
            if let Some(problem) = &d.from_problem
                && cfg.dmarc.multiple_from == crate::config::MultipleFrom::Reject
                && matches!(
                    problem,
                    dmarc::FromProblem::MultipleFromFields(_)
                        | dmarc::FromProblem::MultipleAuthorDomains(_)
                        | dmarc::FromProblem::MultipleAddresses(_)
                )
            {
                decision.verdict = Verdict::Reject(format!(
                    "550 5.7.1 Message rejected: {problem}; DMARC cannot be evaluated"
                ));
            }
        }
        dmarc::DmarcResult::Pass | dmarc::DmarcResult::None => {}
    }
}

/// The allow-lists: client networks and sending domains that are never refused.
fn is_allowed(app: &App, input: &PolicyInput<'_>, results: &Results) -> bool {
    let p = &app.config.policy;
    if let Some(ip) = input.client_ip
        && p.allow_networks.iter().any(|n| n.contains(ip))
    {
        return true;
    }
    let listed = |d: &str| {
        p.allow_domains
            .iter()
            .any(|a| a.trim_end_matches('.').eq_ignore_ascii_case(d))
    };
    if input.mail_from_domain.is_some_and(listed) {
        return true;
    }
    results
        .dmarc
        .as_ref()
        .and_then(|d| d.header_from())
        .is_some_and(listed)
}

/// Fills `{name}` placeholders.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = template.to_string();
    for (k, v) in values {
        out = out.replace(&format!("{{{k}}}"), v);
    }
    out
}
