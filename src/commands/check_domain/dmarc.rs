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
        // a broken record at the domain's own name is known whatever DNS says higher up
        if let Some(text) = not_a_record(app, domain).await {
            ignored_record(
                &mut s,
                domain,
                &text,
                "so receivers look for a record higher up instead",
            );
            s.record = Some(text);
        }
        return s;
    }
    let Some(e) = outcome.primary() else {
        s.error(outcome.reason_text(), "check the domain name");
        return s;
    };
    // RFC 9989 §4.10 steps 2 and 6, RFC 7489 §6.6.3: several records at one name are all
    // discarded, which is not the same mistake as publishing none
    let mut several = false;
    for r in &e.reasons {
        if let dmarc::Reason::MultipleRecords(name) = r {
            several = true;
            s.error(
                format!("several DMARC records at {name}: receivers discard them all"),
                format!("keep exactly one v=DMARC1 record at {name}"),
            );
        }
    }
    let Some(record) = &e.record else {
        if several {
            return s;
        }
        if let Some(text) = not_a_record(app, domain).await {
            ignored_record(&mut s, domain, &text, "so no DMARC policy applies");
            s.record = Some(text);
            return s;
        }
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
        match not_a_record(app, domain).await {
            Some(text) => ignored_record(
                &mut s,
                domain,
                &text,
                &format!("and use the record at _dmarc.{policy_domain}"),
            ),
            None => s.note(format!(
                "no record at _dmarc.{domain}; the one at _dmarc.{policy_domain} applies"
            )),
        }
    }
    // RFC 9989 §4.10.1, RFC 7489 §6.6.3: a missing or invalid p=, or an invalid sp= (np=),
    // voids the record's policy: read as p=none with a valid rua=, else no DMARC at all
    let voided = e.reasons.iter().find_map(|r| match r {
        dmarc::Reason::InvalidPolicyAsNone(_) => Some("receivers read the record as p=none"),
        dmarc::Reason::InvalidPolicyIgnored(_) => {
            Some("receivers ignore the record (it has no valid rua= either)")
        }
        _ => None,
    });
    let policy_tags = ["p", "sp", "np"];
    for p in &record.problems {
        if p.duplicate {
            // RFC 6376 §3.2 (the tag-list of RFC 9989 §4.7): receivers that follow it
            // ignore the whole record; others (this milter among them) take the first value
            s.error(
                format!(
                    "tag {}= appears more than once ({}={:?} again; DMARC tag names ignore case): a tag-list with a repeated tag is invalid (RFC 6376 §3.2, whose tag-list RFC 9989 §4.7 uses), and receivers that follow that ignore the whole record",
                    p.tag, p.tag, p.value
                ),
                format!("keep one {}= in the record", p.tag),
            );
            continue;
        }
        if voided.is_some() && policy_tags.contains(&p.tag.as_str()) {
            continue;
        }
        s.warn(
            format!("tag {}={:?} is invalid and ignored", p.tag, p.value),
            format!("correct or remove {}=", p.tag),
        );
    }
    // the tag that applies to this name (RFC 9989 §4.10.1: p, sp for a subdomain, np for a
    // name that does not exist)
    let tag = e.policy_source.unwrap_or(dmarc::PolicySource::P);
    match (voided, e.policy) {
        (Some(effect), _) => void_policy(&mut s, record, effect),
        (None, Some(dmarc::Policy::None)) => s.warn(
            format!("{tag}=none: monitoring only, forged mail is still delivered"),
            format!(
                "move to {tag}=quarantine, then {tag}=reject, once the reports show all your mail passes"
            ),
        ),
        (None, Some(p)) => s.ok(format!("policy for this domain: {p}")),
        (None, None) => s.error(
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
    if e.record_source == Some(dmarc::RecordSource::PublicSuffixDomain) {
        // a public suffix's record is no place for a domain's own feedback (RFC 9989 §4.10.1)
        // the policies that apply now, so that following the advice lowers nothing: this name
        // gets what applies to it; its subdomains the suffix's sp= (else p=), names that do
        // not exist its np= (else sp=, p=), and testing stays testing (RFC 9989 §4.10.1)
        let none = dmarc::Policy::None;
        let applied = e.policy.unwrap_or(none);
        let sp = record.subdomain_policy.or(record.policy).unwrap_or(none);
        let np = record.nonexistent_policy.unwrap_or(sp);
        let testing = if record.testing { " t=y;" } else { "" };
        s.warn(
            format!("only the public suffix's record at _dmarc.{policy_domain} applies: you get no aggregate reports of your own"),
            format!("publish `_dmarc.{domain}. IN TXT \"v=DMARC1; p={applied}; sp={sp}; np={np};{testing} rua=mailto:dmarc-reports@{domain}\"`"),
        );
    } else if record.rua.is_empty() {
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

/// A TXT record at `_dmarc.<domain>` meant as a DMARC record (it names `v=DMARC`) that is
/// none (RFC 9989 §4.7 `v`, RFC 7489 §6.3: receivers ignore it), as published.
async fn not_a_record(app: &App, domain: &str) -> Option<String> {
    let txts = app.resolver.txt(&format!("_dmarc.{domain}")).await.ok()?;
    txts.iter()
        .filter(|t| dmarc::parse_record(t).is_err())
        .map(|t| String::from_utf8_lossy(t).into_owned())
        .find(|t| {
            let squeezed: String = t.chars().filter(|c| !c.is_whitespace()).collect();
            squeezed.to_ascii_lowercase().contains("v=dmarc")
        })
}

/// The error for `text` at `_dmarc.<domain>`, which receivers ignore (`effect` says with
/// what result): what is wrong in it, by RFC 9989 §4.7 (the record begins with exactly
/// `v=DMARC1`; tags are separated by `;`).
fn ignored_record(s: &mut Section, domain: &str, text: &str, effect: &str) {
    let first = text.split(';').next().unwrap_or_default();
    let (name, value) = first.split_once('=').unwrap_or((first, ""));
    let value = value.trim();
    let version = value.split_whitespace().next().unwrap_or_default();
    let (why, fix) = if !name.trim().eq_ignore_ascii_case("v") {
        (
            "it must begin with v=DMARC1".to_string(),
            "move v=DMARC1; to the front".to_string(),
        )
    } else if version.eq_ignore_ascii_case("DMARC1") && version != value {
        (
            format!("no `;` after v={version}: tags are separated by semicolons"),
            "separate the tags with `;`, as in `v=DMARC1; p=reject`".to_string(),
        )
    } else {
        (
            format!("v={value} is not v=DMARC1 (exactly so, in capitals)"),
            "begin the record with v=DMARC1;".to_string(),
        )
    };
    s.error(
        format!("the TXT record at _dmarc.{domain} is not a DMARC record: {why}; receivers ignore it, {effect}"),
        fix,
    );
}

/// The finding for a record whose policy receivers cannot use as published: what is wrong
/// with p=, sp= or np=, and how receivers read the record instead (`effect`).
fn void_policy(s: &mut Section, record: &dmarc::Record, effect: &str) {
    let mut causes = Vec::new();
    let mut fixes = Vec::new();
    if !record.present.p {
        causes.push("p= is missing".to_string());
        fixes.push("add p=none, p=quarantine or p=reject".to_string());
    }
    for p in record
        .problems
        .iter()
        .filter(|p| ["p", "sp", "np"].contains(&p.tag.as_str()))
    {
        causes.push(format!("{}={:?} is invalid", p.tag, p.value));
        let verb = if p.tag == "p" {
            "correct"
        } else {
            "correct or remove"
        };
        fixes.push(format!("{verb} {}= (none, quarantine or reject)", p.tag));
    }
    if causes.is_empty() {
        causes.push("the policy is not valid".to_string());
        fixes.push("use p=, sp= and np= values none, quarantine or reject".to_string());
    }
    s.error(
        format!("{}, so {effect} (RFC 9989 §4.10.1)", causes.join(", ")),
        fixes.join("; "),
    );
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
    if uri.mailto_address().is_none() {
        s.warn(
            format!("{tag}={uri}: receivers only send reports to mailto: URIs"),
            format!("use {tag}=mailto:ADDRESS"),
        );
        return;
    }
    // as receivers (and our own reports) read it: percent-decoded, the domain in A-labels
    // (RFC 6068 §2, RFC 9990 §4 step 1)
    let (Some(decoded), Some(dest)) = (
        reports::mailto_address(&uri.uri),
        reports::destination::destination_host(&uri.uri),
    ) else {
        s.warn(
            format!("{tag}={uri}: not one address receivers can send to"),
            format!("use {tag}=mailto:ADDRESS"),
        );
        return;
    };
    let address = match decoded.rsplit_once('@') {
        Some((local, _)) => format!("{local}@{dest}"),
        None => decoded,
    };
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
