//! `[dmarc]` and `[policy]`: DMARC evaluation and what is done with the results.

use serde::{Deserialize, Serialize};

use super::mail_values::HeaderLine;
use super::reply::{RejectReply, TempfailReply};
use super::values::Network;

/// `[dmarc]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DmarcConfig {
    /// Evaluate DMARC for inbound mail.
    pub enabled: bool,
    /// `rfc9989` (DNS tree walk) or `rfc7489` (public suffix list, `pct=`).
    pub mode: DmarcMode,
    /// Apply the domain's policy: reject `p=reject`, quarantine `p=quarantine`.
    pub enforce: bool,
    /// What quarantine means: `hold` (milter QUARANTINE: Postfix hold queue) or `header`.
    pub quarantine: QuarantineAction,
    /// Header added to quarantined mail when `quarantine = "header"`.
    pub quarantine_header: HeaderLine,
    /// Reply for rejected mail; `{domain}` is the From domain.
    pub reject_reply: RejectReply,
    /// Messages with several From domains: `reject` them, or evaluate each and take the `strictest`.
    pub multiple_from: MultipleFrom,
    /// A message without a usable author domain (no From, an empty or unparseable From,
    /// control characters in it, several From fields under `multiple_from = "reject"`;
    /// RFC 9989 §5.3.1): `reject`, `quarantine` or `accept`. Applies when `enforce` is on.
    pub invalid_from: InvalidFromAction,
    /// Reply for `invalid_from = "reject"`; `{problem}` says what is wrong with the From.
    pub invalid_from_reply: RejectReply,
}

impl Default for DmarcConfig {
    fn default() -> Self {
        DmarcConfig {
            enabled: true,
            mode: DmarcMode::Rfc9989,
            enforce: false,
            quarantine: QuarantineAction::Hold,
            quarantine_header: HeaderLine {
                name: "X-Spam-Flag".into(),
                value: "YES".into(),
            },
            reject_reply: RejectReply::builtin(
                "550 5.7.1 Message rejected: DMARC policy of {domain} says reject",
            ),
            multiple_from: MultipleFrom::Strictest,
            invalid_from: InvalidFromAction::Reject,
            invalid_from_reply: RejectReply::builtin(
                "550 5.7.1 Message rejected: {problem}; DMARC cannot be evaluated",
            ),
        }
    }
}

/// Which DMARC specification to follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DmarcMode {
    /// RFC 9989 (DMARCbis): DNS tree walk, `np`, `psd`, `t`.
    Rfc9989,
    /// RFC 7489: public suffix list, `pct`.
    Rfc7489,
}

/// How DMARC quarantine is carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum QuarantineAction {
    /// Milter QUARANTINE: Postfix puts the message on hold.
    Hold,
    /// Add `dmarc.quarantine_header` for the delivery agent to file as junk.
    Header,
}

/// Handling of several From addresses or domains (RFC 7489 §6.6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MultipleFrom {
    /// Reject such messages.
    Reject,
    /// Evaluate every domain and apply the strictest result.
    Strictest,
}

/// What to do with a message that has no usable author domain (RFC 9989 §5.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InvalidFromAction {
    /// Refuse it with `invalid_from_reply`.
    Reject,
    /// Quarantine it (as `dmarc.quarantine` says).
    Quarantine,
    /// Deliver it; our Authentication-Results says `dmarc=permerror` with the problem.
    Accept,
}

/// `[policy]`: exceptions and failure handling.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyConfig {
    /// On a DNS temporary failure that decides the outcome: `tempfail` or `accept`.
    pub temperror: TempErrorAction,
    /// Reply for `tempfail`.
    pub tempfail_reply: TempfailReply,
    /// On an internal error or a blown deadline: `tempfail` or `accept`.
    pub on_error: TempErrorAction,
    /// Never reject or quarantine mail from these client networks.
    pub allow_networks: Vec<Network>,
    /// Never reject or quarantine mail authenticated by one of these domains (SPF pass for the
    /// MAIL FROM domain, or a verified DKIM signature with that `d=`; subdomains included).
    pub allow_domains: Vec<String>,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            temperror: TempErrorAction::Tempfail,
            tempfail_reply: TempfailReply::builtin(
                "451 4.7.5 Temporary DNS failure while checking {domain}; try again later",
            ),
            on_error: TempErrorAction::Tempfail,
            allow_networks: Vec::new(),
            allow_domains: Vec::new(),
        }
    }
}

impl PolicyConfig {
    /// Checks `allow_domains`: each entry a domain name (U-labels allowed), which covers its
    /// subdomains; anything else would never match a passing SPF or DKIM domain.
    pub(super) fn validate(&self, line_of: &dyn Fn(&str) -> String) -> anyhow::Result<()> {
        if let Some(entry) = self
            .allow_domains
            .iter()
            .find(|e| allowed_domain(e).is_none())
        {
            let hint = entry
                .trim()
                .strip_prefix("*.")
                .map(|rest| format!("; \"{rest}\" covers its subdomains"))
                .unwrap_or_default();
            anyhow::bail!(
                "policy.allow_domains{}: {entry:?} is not a domain (a domain covers its subdomains){hint}",
                line_of("allow_domains")
            );
        }
        Ok(())
    }
}

/// An `allow_domains` entry as the A-label domain it stands for (RFC 5890 §2.3.2.1; case,
/// surrounding spaces and a trailing dot ignored), or `None` when it is not a domain name.
pub fn allowed_domain(entry: &str) -> Option<String> {
    let d = entry.trim();
    let d = d.strip_suffix('.').unwrap_or(d);
    let ascii = dns::name::to_ascii(d.as_bytes()).ok()?;
    dns::name::is_host_like(&ascii).then_some(ascii)
}

/// Answer on temporary failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TempErrorAction {
    /// Ask the sender to retry (4xx).
    Tempfail,
    /// Accept the message (the A-R header still records temperror).
    Accept,
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    /// `[policy] allow_domains` matches the domain of a passing SPF or DKIM check, or a subdomain
    /// of it; an entry that is not a domain (`*.partner.example`, an address, two domains in one
    /// string) never matches anything, so the exemption the operator wrote silently did not exist
    /// and the partner's mail was refused.
    #[test]
    fn policy_allow_domains_take_domains_only() {
        let ok = "[policy]\nallow_domains = [\"partner.example\", \"Mail.Example.ORG.\", \"bücher.example\"]\n";
        assert!(Config::parse(ok).is_ok(), "{:?}", Config::parse(ok));
        for bad in [
            "*.partner.example",
            "user@partner.example",
            "partner.example other.example",
            "partner..example",
            "",
            ".",
        ] {
            let toml = format!("[policy]\n\nallow_domains = [\"{bad}\"]\n");
            let err = format!("{:#}", Config::parse(&toml).unwrap_err());
            assert!(
                err.contains("policy.allow_domains (line 3)") && err.contains("not a domain"),
                "{bad}: {err}"
            );
        }
        let err = format!(
            "{:#}",
            Config::parse("[policy]\nallow_domains = [\"*.partner.example\"]\n").unwrap_err()
        );
        assert!(
            err.contains("\"partner.example\" covers its subdomains"),
            "suggests the form: {err}"
        );
    }
}
