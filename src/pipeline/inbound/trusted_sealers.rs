//! A trusted ARC sealer's recorded pass as a DMARC override (RFC 8617 §7.2.1, docs/arc.md
//! "Trusting sealers"): which failing messages it lets through, and how a sealed pass aligns.

use crate::app::App;
use crate::pipeline::results::Results;

/// A trusted sealer's recorded pass for the From domain of a message that failed DMARC
/// (RFC 8617 §7.2.1, docs/arc.md "Trusting sealers"): the chain must pass, the sealer be on
/// `[arc] trusted_sealers`, its results still apply to this message, and the recorded pass
/// be a `dmarc=pass` for the author domain or a DKIM/SPF pass aligned with it as the record's
/// `adkim`/`aspf` ask. With several author domains (`multiple_from = "strictest"`) every one
/// that DMARC would act on needs such a pass of its own, and one whose DMARC is undecided
/// (temperror) allows no override: a pass for one domain says nothing about another.
pub(super) fn trusted_override(app: &App, results: &Results) -> Option<arc::TrustedPass> {
    override_found(app, results, Validation::Passed)
}

/// The override a trusted sealer's recorded pass would have made, when DNS did not answer
/// for that sealer's key ([`arc::ArcOutcome::trusted_pass_undecided`]): the failure is not
/// acted on permanently while a retry could find the chain valid (`[policy] temperror`).
pub(super) fn undecided_override(app: &App, results: &Results) -> Option<arc::TrustedPass> {
    override_found(app, results, Validation::UndecidedByDns)
}

/// Which chains a recorded pass is read from.
#[derive(Clone, Copy)]
enum Validation {
    /// A chain that passed (RFC 8617 §5.2).
    Passed,
    /// A chain that failed only for a DNS failure on a trusted sealer's key.
    UndecidedByDns,
}

fn override_found(
    app: &App,
    results: &Results,
    validation: Validation,
) -> Option<arc::TrustedPass> {
    if app.config.arc.trusted_sealers.is_empty() {
        return None;
    }
    let chain = results.arc.as_ref()?;
    let d = results.dmarc.as_ref()?;
    let e = d.primary()?;
    if e.result != dmarc::DmarcResult::Fail {
        return None;
    }
    let pass = trusted_pass_for(app, chain, e, validation)?;
    for other in d.evaluations.iter().skip(1) {
        match other.result {
            dmarc::DmarcResult::Pass | dmarc::DmarcResult::None => {}
            dmarc::DmarcResult::Fail if other.disposition == dmarc::Disposition::None => {}
            dmarc::DmarcResult::Fail => {
                trusted_pass_for(app, chain, other, validation)?;
            }
            dmarc::DmarcResult::TempError | dmarc::DmarcResult::PermError => return None,
        }
    }
    Some(pass)
}

/// A trusted sealer's recorded pass for the author domain of one evaluation, aligned as its
/// record asks (RFC 8617 §7.2.1, RFC 9989 §4.4).
fn trusted_pass_for(
    app: &App,
    chain: &arc::ArcOutcome,
    e: &dmarc::Evaluation,
    validation: Validation,
) -> Option<arc::TrustedPass> {
    let author = e.author_domain.as_str();
    let (adkim, aspf) = e.record.as_ref().map_or(
        (dmarc::AlignmentMode::Relaxed, dmarc::AlignmentMode::Relaxed),
        |r| (r.adkim, r.aspf),
    );
    // the author's Organizational Domain as this evaluation found it: the DNS tree walk's
    // in RFC 9989 mode, so a sealed pass aligns exactly as a fresh one would here
    let walked_org = match e.discovery {
        dmarc::DiscoveryMethod::TreeWalk => e.org_domain.as_deref(),
        dmarc::DiscoveryMethod::Psl => None,
    };
    let trusted = |sealer: &str| app.config.arc.trusts(sealer);
    let aligned = |kind, domain: &str| {
        let mode = match kind {
            arc::PassKind::Spf => aspf,
            _ => adkim,
        };
        sealed_pass_aligns(mode, author, walked_org, domain)
    };
    match validation {
        Validation::Passed => chain.trusted_pass(trusted, author, aligned),
        Validation::UndecidedByDns => chain.trusted_pass_undecided(trusted, author, aligned),
    }
}

/// Whether a domain a trusted sealer recorded a pass for aligns with the author domain
/// (RFC 9989 §4.4, RFC 7489 §3.1). Relaxed: the same Organizational Domain — with
/// `walked_org` (RFC 9989 §4.10, the author's found by the tree walk) a domain at or below it,
/// else by the public suffix list (RFC 7489 §3.2).
fn sealed_pass_aligns(
    mode: dmarc::AlignmentMode,
    author: &str,
    walked_org: Option<&str>,
    domain: &str,
) -> bool {
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    if domain == author {
        return true;
    }
    match (mode, walked_org) {
        (dmarc::AlignmentMode::Strict, _) => false,
        (dmarc::AlignmentMode::Relaxed, Some(org)) => dns::name::is_subdomain_of(&domain, org),
        (dmarc::AlignmentMode::Relaxed, None) => {
            dmarc::psl_organizational_domain(&domain) == dmarc::psl_organizational_domain(author)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::sealed_pass_aligns;
    use dmarc::AlignmentMode::{Relaxed, Strict};

    /// RFC 9989 §4.4: a trusted sealer's recorded pass aligns by the Organizational Domain
    /// this evaluation used: the tree walk's when it walked, else the public suffix list's.
    #[test]
    fn a_sealed_pass_aligns_by_the_evaluations_organizational_domain() {
        // the tree walk found github.io to be the author's Organizational Domain (no psd=y
        // there); the PSL would call each user's github.io subdomain its own organization
        let walked = Some("github.io");
        assert!(sealed_pass_aligns(
            Relaxed,
            "a.github.io",
            walked,
            "b.github.io"
        ));
        assert!(!sealed_pass_aligns(
            Relaxed,
            "a.github.io",
            None,
            "b.github.io"
        ));
        assert!(sealed_pass_aligns(
            Relaxed,
            "a.github.io",
            walked,
            "GitHub.io."
        ));
        assert!(!sealed_pass_aligns(
            Relaxed,
            "a.github.io",
            walked,
            "evilgithub.io"
        ));
        assert!(!sealed_pass_aligns(Relaxed, "a.github.io", walked, "io"));
        assert!(!sealed_pass_aligns(
            Strict,
            "a.github.io",
            walked,
            "b.github.io"
        ));
        assert!(sealed_pass_aligns(
            Strict,
            "a.github.io",
            walked,
            "A.github.io"
        ));
        // without a walk, the public suffix list
        assert!(sealed_pass_aligns(
            Relaxed,
            "mail.example.com",
            None,
            "example.com"
        ));
        assert!(!sealed_pass_aligns(
            Relaxed,
            "mail.example.com",
            None,
            "example.net"
        ));
    }
}
