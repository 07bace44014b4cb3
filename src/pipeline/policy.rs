//! From results to an answer: the `[spf]`, `[dmarc]` and `[policy]` settings applied to what
//! the checks found (docs/configuration.md, "Actions").

use std::net::IpAddr;

use crate::app::App;
use crate::config::{QuarantineAction, TempErrorAction};

use super::decision::{Decision, HeaderChange, Verdict};
use super::results::Results;

/// Facts about the message the policy needs besides the results.
pub struct PolicyInput {
    /// The client address.
    pub client_ip: Option<IpAddr>,
}

/// Applies the configured actions to inbound results. Never called for our own users' mail.
pub fn apply(app: &App, input: &PolicyInput, results: &Results, decision: &mut Decision) {
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

/// The allow-lists: client networks, and domains that *authenticated* the message, are never
/// refused. A domain counts only through a passing check (SPF pass for the MAIL FROM domain,
/// or a DKIM signature that verifies with that `d=`), so a forged From or MAIL FROM of a
/// listed domain gets no exemption.
fn is_allowed(app: &App, input: &PolicyInput, results: &Results) -> bool {
    let p = &app.config.policy;
    if let Some(ip) = input.client_ip
        && p.allow_networks.iter().any(|n| n.contains(ip))
    {
        return true;
    }
    if p.allow_domains.is_empty() {
        return false;
    }
    let spf_domain = results
        .spf_mail
        .as_ref()
        .filter(|o| o.result == spf::SpfResult::Pass)
        .map(|o| o.domain.as_str());
    let dkim_domains = results
        .dkim
        .iter()
        .filter(|r| r.result == dkim::DkimResult::Pass)
        .map(|r| r.domain.as_str());
    spf_domain
        .into_iter()
        .chain(dkim_domains)
        .any(|d| p.allow_domains.iter().any(|a| domain_within(d, a)))
}

/// True when `domain` is `listed` or a subdomain of it (case-insensitive, trailing dots ignored).
fn domain_within(domain: &str, listed: &str) -> bool {
    let d = domain.trim_end_matches('.').to_ascii_lowercase();
    let l = listed.trim().trim_end_matches('.').to_ascii_lowercase();
    !l.is_empty() && (d == l || d.ends_with(&format!(".{l}")))
}

/// Fills `{name}` placeholders.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = template.to_string();
    for (k, v) in values {
        out = out.replace(&format!("{{{k}}}"), v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::domain_within;

    #[test]
    fn listed_domains_cover_subdomains() {
        assert!(domain_within("example.com", "example.com"));
        assert!(domain_within("Mail.Example.COM.", "example.com"));
        assert!(!domain_within("badexample.com", "example.com"));
        assert!(!domain_within("example.com", ""));
    }
}
