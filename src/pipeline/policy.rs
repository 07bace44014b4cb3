//! From results to an answer: the `[spf]`, `[dmarc]` and `[policy]` settings applied to what
//! the checks found (docs/configuration.md, "Actions"), the answers when the checks could not
//! run (timeouts, internal errors, oversized header blocks), and the record of what was
//! applied and why (RFC 9990 `PolicyOverrideType`) for reports and logs.

use std::net::IpAddr;

use dmarc::{Disposition, DmarcResult};

use crate::app::App;
use crate::config::{
    InvalidFromAction, OversizeAction, QuarantineAction, ReplyValues, TempErrorAction,
    TempfailReply,
};

use super::decision::{Decision, NewHeader, Verdict};
use super::results::Results;

/// Facts about the message the policy needs besides the results.
pub struct PolicyInput {
    /// The client address.
    pub client_ip: Option<IpAddr>,
}

/// Why the disposition we applied differs from the one the domain asked for
/// (RFC 9990 `PolicyOverrideType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverrideKind {
    /// Our own configuration: enforcement off, an allow-list entry.
    LocalPolicy,
    /// The record's `t=y` lowered the disposition (RFC 9989 §4.7).
    PolicyTestMode,
    /// `pct` sampling left the message out (RFC 7489 §6.6.4).
    SampledOut,
    /// A trusted ARC sealer vouched for an aligned pass (RFC 8617 §7.2.1).
    TrustedForwarder,
}

impl OverrideKind {
    /// The RFC 9990 name (`local_policy`, `policy_test_mode`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            OverrideKind::LocalPolicy => "local_policy",
            OverrideKind::PolicyTestMode => "policy_test_mode",
            OverrideKind::SampledOut => "sampled_out",
            OverrideKind::TrustedForwarder => "trusted_forwarder",
        }
    }
}

/// One override with a comment for humans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyOverride {
    /// The kind.
    pub kind: OverrideKind,
    /// What exactly (e.g. `enforcement is off`, `allow_networks 192.0.2.0/24`).
    pub comment: String,
}

/// The DMARC policy as applied to one message (RFC 9990 `policy_evaluated`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedPolicy {
    /// The disposition we applied: `none`, `quarantine` or `reject`.
    pub disposition: Disposition,
    /// Why it differs from the policy the domain published, if it does.
    pub overrides: Vec<PolicyOverride>,
}

/// Applies the configured actions to inbound results. Never called for our own users' mail.
pub fn apply(app: &App, input: &PolicyInput, results: &Results, decision: &mut Decision) {
    let cfg = &app.config;
    let mut applied = AppliedPolicy {
        disposition: Disposition::None,
        overrides: Vec::new(),
    };
    let dmarc = results.dmarc.as_ref();
    if let Some(e) = dmarc.and_then(|d| d.primary())
        && e.result == DmarcResult::Fail
    {
        if e.testing {
            applied.overrides.push(PolicyOverride {
                kind: OverrideKind::PolicyTestMode,
                comment: "the record says t=y".into(),
            });
        }
        if e.sampled_out {
            applied.overrides.push(PolicyOverride {
                kind: OverrideKind::SampledOut,
                comment: "left out by pct=".into(),
            });
        }
    }
    if let Some(o) = &results.arc_override
        && dmarc.is_some_and(|d| d.disposition != Disposition::None)
    {
        // RFC 8617 §7.2.1: a trusted sealer vouched for an aligned pass; nothing is rejected
        // or quarantined on DMARC (an SPF hard reject still applies below, except to mail the
        // allow-lists exempt, as on every other path)
        applied.overrides.push(PolicyOverride {
            kind: OverrideKind::TrustedForwarder,
            comment: results
                .arc
                .as_ref()
                .map_or_else(|| o.to_string(), |a| a.report_comment()),
        });
        if allowed(app, input, results).is_none() && spf_reject(app, results, decision) {
            spf_rejected(results, decision, &mut applied);
        }
        decision.applied = Some(applied);
        return;
    }
    if let Some(why) = allowed(app, input, results) {
        if dmarc.is_some_and(|d| d.disposition != Disposition::None) {
            applied.overrides.push(PolicyOverride {
                kind: OverrideKind::LocalPolicy,
                comment: why,
            });
        }
        decision.applied = dmarc.map(|_| applied);
        return;
    }
    if spf_reject(app, results, decision) {
        spf_rejected(results, decision, &mut applied);
        decision.applied = dmarc.map(|_| applied);
        return;
    }
    let Some(d) = dmarc else { return };
    let domain = d.header_from().unwrap_or("the From domain").to_string();
    let values = ReplyValues {
        domain: &domain,
        ..ReplyValues::default()
    };
    match d.result {
        DmarcResult::Fail if d.disposition != Disposition::None => {
            if !cfg.dmarc.enforce {
                applied.overrides.push(PolicyOverride {
                    kind: OverrideKind::LocalPolicy,
                    comment: "enforcement is off ([dmarc] enforce = false)".into(),
                });
            } else if let Some(pass) = &results.arc_override_undecided
                && cfg.policy.temperror == TempErrorAction::Tempfail
            {
                // a trusted sealer recorded a pass, but DNS did not answer for its key: the
                // failure is not acted on permanently while a retry could rescue it (RFC 8617
                // §7.2.1 local policy; a DNS failure never grants the rescue, so with
                // `temperror = "accept"` the failure is acted on)
                tracing::info!("DMARC failure deferred: {pass}, but its key did not answer in DNS");
                decision.verdict = Verdict::TempFail(cfg.policy.tempfail_reply.render(&values));
            } else if d.disposition == Disposition::Reject {
                applied.disposition = Disposition::Reject;
                decision.verdict = Verdict::Reject(cfg.dmarc.reject_reply.render(&values));
            } else {
                applied.disposition = Disposition::Quarantine;
                quarantine(
                    app,
                    &format!("DMARC policy of {domain} says quarantine"),
                    decision,
                );
            }
        }
        DmarcResult::TempError
            if cfg.dmarc.enforce
                && cfg.policy.temperror == TempErrorAction::Tempfail
                && undecided_could_act(d) =>
        {
            decision.verdict = Verdict::TempFail(cfg.policy.tempfail_reply.render(&values));
        }
        DmarcResult::PermError if cfg.dmarc.enforce => {
            if let Some(problem) = &d.from_problem {
                let problem = problem.to_string();
                match cfg.dmarc.invalid_from {
                    InvalidFromAction::Reject => {
                        decision.verdict =
                            Verdict::Reject(cfg.dmarc.invalid_from_reply.render(&ReplyValues {
                                problem: &problem,
                                ..ReplyValues::default()
                            }));
                    }
                    InvalidFromAction::Quarantine => quarantine(
                        app,
                        &format!("{problem}; DMARC cannot be evaluated"),
                        decision,
                    ),
                    InvalidFromAction::Accept => {}
                }
            }
        }
        _ => {}
    }
    decision.applied = Some(applied);
}

/// Whether a `temperror` outcome could still end in quarantine or reject once the DNS
/// answers: not when every undecided author domain's policy is known to come to `none`
/// (`p=none`, which MUST NOT change how mail is handled, RFC 9989 §5.4; `p=quarantine` with
/// `t=y`), pass or fail. A policy that could not be read, or an evaluation that did not
/// complete, could be anything.
fn undecided_could_act(d: &dmarc::DmarcOutcome) -> bool {
    d.evaluations.is_empty()
        || d.evaluations.iter().any(|e| {
            e.result == DmarcResult::TempError && e.strictest_possible() != Disposition::None
        })
}

/// `[spf] reject_fail`: rejects an SPF fail (and tempfails an SPF temperror) of MAIL FROM,
/// unless DMARC passed: an aligned DKIM signature authenticated the author domain, as in mail
/// forwarded without SRS, which an SPF-only rejection loses (RFC 9989 §7.1). While DMARC is
/// undecided (`temperror`), an SPF fail follows `[policy] temperror` instead.
fn spf_reject(app: &App, results: &Results, decision: &mut Decision) -> bool {
    let cfg = &app.config;
    if !(cfg.spf.enabled && cfg.spf.reject_fail) {
        return false;
    }
    let dmarc = results.dmarc.as_ref();
    if dmarc.is_some_and(|d| d.result == DmarcResult::Pass) {
        return false;
    }
    let Some(o) = &results.spf_mail else {
        return false;
    };
    match o.result {
        // whether DMARC passes, which would spare the fail, waits for DNS: no 550 for that
        spf::SpfResult::Fail if dmarc.is_some_and(|d| d.result == DmarcResult::TempError) => {
            if cfg.policy.temperror != TempErrorAction::Tempfail {
                return false;
            }
            let domain = dmarc
                .and_then(|d| d.header_from())
                .unwrap_or("the From domain");
            decision.verdict = Verdict::TempFail(cfg.policy.tempfail_reply.render(&ReplyValues {
                domain,
                ..ReplyValues::default()
            }));
            true
        }
        spf::SpfResult::Fail => {
            let expl = o
                .explanation
                .clone()
                .unwrap_or_else(|| format!("{} does not authorize this sender", o.domain));
            decision.verdict = Verdict::Reject(cfg.spf.reject_reply.render(&ReplyValues {
                domain: &o.domain,
                explanation: &expl,
                ..ReplyValues::default()
            }));
            true
        }
        spf::SpfResult::TempError if cfg.policy.temperror == TempErrorAction::Tempfail => {
            decision.verdict = Verdict::TempFail(cfg.spf.tempfail_reply.render(&ReplyValues {
                domain: &o.domain,
                ..ReplyValues::default()
            }));
            true
        }
        _ => false,
    }
}

/// What an `[spf] reject_fail` refusal means for the DMARC record: a rejected message is
/// recorded with disposition `reject`, and as a `local_policy` override when the domain did
/// not ask for reject (RFC 9990 §3.1.1.9, §3.1.6). A temporary failure disposes of nothing:
/// the message comes again.
fn spf_rejected(results: &Results, decision: &Decision, applied: &mut AppliedPolicy) {
    if !matches!(decision.verdict, Verdict::Reject(_)) {
        return;
    }
    applied.disposition = Disposition::Reject;
    let requested = results.dmarc.as_ref().map(|d| d.disposition);
    if requested != Some(Disposition::Reject) {
        applied.overrides.push(PolicyOverride {
            kind: OverrideKind::LocalPolicy,
            comment: "SPF fail rejected ([spf] reject_fail)".into(),
        });
    }
}

/// Quarantine as `[dmarc] quarantine` says: the hold queue, or a header.
fn quarantine(app: &App, reason: &str, decision: &mut Decision) {
    match app.config.dmarc.quarantine {
        QuarantineAction::Hold => decision.quarantine = Some(reason.to_string()),
        QuarantineAction::Header => {
            let h = &app.config.dmarc.quarantine_header;
            decision
                .append
                .push(NewHeader::new(h.name.clone(), h.value.clone()));
        }
    }
}

/// The allow-lists: client networks, and domains that *authenticated* the message, are never
/// refused. A domain counts only through a passing check (SPF pass for the MAIL FROM domain,
/// or a DKIM signature that verifies with that `d=`), so a forged From or MAIL FROM of a
/// listed domain gets no exemption. Returns which entry allowed the message.
fn allowed(app: &App, input: &PolicyInput, results: &Results) -> Option<String> {
    let p = &app.config.policy;
    if let Some(ip) = input.client_ip
        && let Some(n) = p.allow_networks.iter().find(|n| n.contains(ip))
    {
        return Some(format!("allow_networks {}", n.0));
    }
    if p.allow_domains.is_empty() {
        return None;
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
    spf_domain.into_iter().chain(dkim_domains).find_map(|d| {
        p.allow_domains
            .iter()
            .find(|a| domain_within(d, a))
            .map(|a| format!("allow_domains {a}"))
    })
}

/// The answer when the checks could not finish in time or failed inside (`[policy] on_error`):
/// a tempfail, or acceptance with forged Authentication-Results removed and ours saying that
/// nothing was checked — never a forged header speaking for us.
pub fn on_error(app: &App, why: &str, decision: &mut Decision) {
    if app.config.policy.on_error == TempErrorAction::Tempfail {
        decision.verdict = Verdict::TempFail(
            TempfailReply::builtin(
                "451 4.3.0 Temporary failure while checking the message; try again later",
            )
            .render(&ReplyValues::default()),
        );
    }
    let ar = super::authres_header::not_checked(&app.authserv_id, why);
    decision.prepend.push(NewHeader::new(
        "Authentication-Results",
        ar.format(&authres::FormatOptions::milter()),
    ));
}

/// The answer for a message whose MTA sent header fields after end of headers: a tempfail
/// (the checks began without them; docs/milter-protocol.md).
pub fn late_header(decision: &mut Decision) {
    decision.verdict = Verdict::TempFail(
        TempfailReply::builtin(
            "451 4.3.0 Header fields arrived after the end of the headers; try again later",
        )
        .render(&ReplyValues::default()),
    );
}

/// The answer for a header block over `max_headers` / `max_header_bytes`: a tempfail, or
/// acceptance unchecked (`[server] on_oversize`); always a tempfail when `forged_left` (forged
/// Authentication-Results that are not all removed).
pub fn oversize(app: &App, why: &str, forged_left: bool, decision: &mut Decision) {
    if app.config.server.on_oversize == OversizeAction::Accept && !forged_left {
        let ar = super::authres_header::oversize(&app.authserv_id, why);
        decision.prepend.push(NewHeader::new(
            "Authentication-Results",
            ar.format(&authres::FormatOptions::milter()),
        ));
    } else {
        decision.verdict = Verdict::TempFail(
            TempfailReply::builtin(
                "451 4.3.4 The message header is too large to be checked; try again later",
            )
            .render(&ReplyValues::default()),
        );
    }
}

/// True when `domain` is `listed` or a subdomain of it (case-insensitive, trailing dots
/// ignored, U-labels compared as A-labels).
fn domain_within(domain: &str, listed: &str) -> bool {
    let Some(listed) = crate::config::allowed_domain(listed) else {
        return false;
    };
    let domain = dns::name::to_ascii(domain.as_bytes())
        .unwrap_or_else(|_| domain.trim_end_matches('.').to_ascii_lowercase());
    dns::name::is_subdomain_of(&domain, &listed)
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
        assert!(domain_within(
            "mail.xn--bcher-kva.example",
            "bücher.example"
        ));
        assert!(domain_within("Bücher.example", "xn--bcher-kva.example"));
    }
}
