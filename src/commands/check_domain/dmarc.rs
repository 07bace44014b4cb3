//! DMARC (RFC 9989 / RFC 7489): the record that applies, its syntax and policy, and where
//! reports go, including the authorization a report destination outside the domain must
//! publish (`<domain>._report._dmarc.<destination>`, RFC 7489 §7.1).

use dns::DnsError;

use super::Section;
use crate::app::App;

/// Checks the domain's DMARC record.
pub async fn check(app: &App, domain: &str) -> Section {
    let mut s = Section::new(format!("DMARC {domain}"));
    let from = format!(" postmaster@{domain}");
    let discovery = app.dmarc.discover(&*app.resolver, &[from.as_bytes()]).await;
    let outcome = app.dmarc.finish(&*app.resolver, discovery, None, &[]).await;
    if outcome.result == dmarc::DmarcResult::TempError {
        s.could_not_check("the DMARC record", &DnsError::Other(outcome.reason_text()));
        return s;
    }
    let Some(e) = outcome.primary() else {
        s.error(outcome.reason_text(), "check the domain name");
        return s;
    };
    let Some(record) = &e.record else {
        s.warn(
            "no DMARC record: receivers apply no policy to mail forged with this domain",
            format!("publish `_dmarc.{domain}. IN TXT \"v=DMARC1; p=none; rua=mailto:dmarc-reports@{domain}\"`, then tighten p= as reports show your mail passes"),
        );
        return s;
    };
    s.record = Some(record.text.clone());
    let policy_domain = e
        .policy_domain
        .clone()
        .unwrap_or_else(|| domain.to_string());
    if policy_domain != domain {
        s.note(format!(
            "no record at _dmarc.{domain}; the one at _dmarc.{policy_domain} applies"
        ));
    }
    for p in &record.problems {
        s.warn(
            format!("tag {}={:?} is invalid and ignored", p.tag, p.value),
            format!("correct or remove {}=", p.tag),
        );
    }
    match e.policy {
        Some(dmarc::Policy::None) => s.warn(
            "p=none: monitoring only, forged mail is still delivered",
            "move to p=quarantine, then p=reject, once the reports show all your mail passes",
        ),
        Some(p) => s.ok(format!("policy for this domain: {p}")),
        None => s.error(
            "no usable policy (p= missing or invalid)",
            "add p=none, p=quarantine or p=reject",
        ),
    }
    if record.testing {
        s.note("t=y: receivers apply one level less (testing)");
    }
    if record.pct < 100 {
        s.note(format!(
            "pct={}: RFC 7489 receivers apply the policy to that share only",
            record.pct
        ));
    }
    if record.rua.is_empty() {
        s.warn(
            "no rua=: you get no aggregate reports, so you cannot see who sends as you",
            format!("add rua=mailto:dmarc-reports@{policy_domain}"),
        );
    }
    for (tag, uris) in [("rua", &record.rua), ("ruf", &record.ruf)] {
        for uri in uris.iter() {
            check_destination(app, &mut s, &policy_domain, tag, uri).await;
        }
    }
    s
}

/// One report URI: a mailto: to our own organization is fine; one elsewhere needs the
/// destination's authorization record.
async fn check_destination(
    app: &App,
    s: &mut Section,
    policy_domain: &str,
    tag: &str,
    uri: &dmarc::ReportUri,
) {
    let Some(address) = uri.mailto_address() else {
        s.warn(
            format!("{tag}={uri}: receivers only send reports to mailto: URIs"),
            format!("use {tag}=mailto:ADDRESS"),
        );
        return;
    };
    let dest = address
        .rsplit_once('@')
        .map(|(_, d)| d.trim_end_matches('.').to_ascii_lowercase())
        .unwrap_or_default();
    let ours = dmarc::psl_organizational_domain(policy_domain);
    if dmarc::psl_organizational_domain(&dest) == ours {
        s.ok(format!("{tag} reports to {address}"));
        return;
    }
    let name = format!("{policy_domain}._report._dmarc.{dest}");
    match app.resolver.txt(&name).await {
        Ok(txts)
            if txts.iter().any(|t| {
                String::from_utf8_lossy(t).trim_start().to_ascii_lowercase().starts_with("v=dmarc1")
            }) =>
        {
            s.ok(format!("{tag} reports to {address}, authorized by {name}"));
        }
        Ok(_) => s.error(
            format!("{tag} reports to {address}: {name} holds no v=DMARC1 record, so receivers send {dest} nothing"),
            format!("ask {dest} to publish `{name}. IN TXT \"v=DMARC1\"`"),
        ),
        Err(e) if e.is_not_found() => s.error(
            format!("{tag} reports to {address}, outside {ours}, but {dest} has not authorized them (no {name}): receivers send nothing"),
            format!("ask {dest} to publish `{name}. IN TXT \"v=DMARC1\"`, or report to an address of {ours}"),
        ),
        Err(e) => s.could_not_check(&format!("the report authorization {name}"), &e),
    }
}
