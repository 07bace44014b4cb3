//! opendmarc.conf → milter.toml (OpenDMARC 1.4 opendmarc.conf(5)).

use super::Files;
use super::conf::{DataSet, Setting, dataset, networks, overridden_by, parse};
use super::opendkim::{authserv_id, user};
use super::output::Plan;

/// The settings whose value is a boolean (opendmarc.conf(5)); any other value is reported,
/// never read as false.
const BOOLEANS: &[&str] = &[
    "rejectfailures",
    "holdquarantinedmessages",
    "rejectmultivaluefrom",
    "ignoreauthenticatedclients",
    "spfselfvalidate",
    "spfignoreresults",
    "failurereports",
    "failurereportsonnone",
    "requiredheaders",
];

/// Maps an opendmarc.conf.
pub fn migrate(text: &str, files: &Files) -> anyhow::Result<Plan> {
    let settings = parse(text);
    let mut plan = Plan::default();
    plan.note("OpenDMARC follows RFC 7489; authmilter follows RFC 9989 (DMARCbis: DNS tree walk, np=, t=) unless [dmarc] mode = \"rfc7489\"");
    // SPFIgnoreResults applies whatever the order of the settings (OpenDMARC reads the whole
    // file first), so it is resolved before TrustedAuthservIDs is read
    let spf_ignored = last_flag(&settings, "spfignoreresults")
        .filter(|(ignore, _)| *ignore)
        .map(|(_, shown)| shown);
    let mut allow_domains: Vec<String> = Vec::new();
    let mut allow_domains_from: Vec<String> = Vec::new();
    for (index, s) in settings.iter().enumerate() {
        let shown = format!("{} {}", s.name, s.value);
        let from = format!("OpenDMARC {shown}");
        let flag = s.flag();
        if BOOLEANS.contains(&s.key().as_str()) && flag.is_none() {
            plan.unmapped(
                &shown,
                "not a boolean (OpenDMARC reads a value starting with t, y or 1 as true and f, n or 0 as false): not carried over",
            );
            continue;
        }
        let before = plan.snapshot();
        match s.key().as_str() {
            "socket" if let Some(last) = overridden_by(&settings, index) => plan.unmapped(
                &shown,
                format!("overridden by the later `{} {}`: OpenDMARC listens on the last Socket only", last.name, last.value),
            ),
            "socket" => {
                if let Some((spec, note)) = super::daemon_socket(&s.value) {
                    if let Some(note) = note {
                        plan.note(note);
                    }
                    plan.listeners.push((spec, "verify", from.clone()));
                } else {
                    plan.unmapped(&shown, "socket syntax not understood");
                }
            }
            "authservid" => authserv_id(&mut plan, s, &from),
            "trustedauthservids" if spf_ignored.is_some() => plan.unmapped(
                &shown,
                "SPFIgnoreResults true: OpenDMARC ignores the SPF results of these headers, the only part of them used here (DKIM is always verified here), so [authres] trusted_ids = []",
            ),
            "trustedauthservids" => {
                let ids: Vec<String> = s.value.split(',').map(|x| x.trim().to_string()).filter(|x| !x.is_empty()).collect();
                plan.set_list("authres", "trusted_ids", &ids, &from);
                plan.note(format!("`{shown}`: only the SPF result of a trusted upstream header is used; DKIM is always verified here"));
            }
            "userid" => user(&mut plan, s),
            "rejectfailures" => plan.set("dmarc", "enforce", toml::Value::Boolean(flag == Some(true)), &from),
            "holdquarantinedmessages" => {} // below: the last one counts
            "rejectmultivaluefrom" => {
                let how = if flag == Some(true) { "reject" } else { "strictest" };
                plan.set_str("dmarc", "multiple_from", how, &from);
            }
            "ignoreauthenticatedclients" => match flag {
                // role "verify" ignores [outbound]: the listeners become "auto" below, with
                // only authenticated clients as ours
                Some(true) => {
                    plan.set("outbound", "authenticated", toml::Value::Boolean(true), &from);
                    let only = format!("{from} (only authenticated clients are ours)");
                    plan.set_list("outbound", "internal_networks", &[], &only);
                    plan.set_list("outbound", "daemon_names", &[], &only);
                }
                Some(false) => plan.note(format!("{shown}: the listeners have role = \"verify\", which checks every client's mail, authenticated or not, as OpenDMARC did")),
                None => plan.unmapped(&shown, "not a boolean: not carried over"),
            },
            "ignorehosts" => match dataset(&s.value, files) {
                Ok(DataSet::Entries { entries, patterns }) => {
                    let list = networks(&entries, patterns);
                    plan.set_list("policy", "allow_networks", &list.nets, &from);
                    super::opendkim::host_list_leftovers(&mut plan, &entries, &list, "IgnoreHosts", "[policy] allow_networks");
                    plan.note(format!("`{shown}`: mail from these networks is still evaluated and recorded, just never rejected or quarantined"));
                }
                Ok(DataSet::Unsupported(kind)) => plan.unmapped(&shown, format!("{kind}: datasets are not read")),
                Err(e) => plan.unmapped(&shown, e),
            },
            // IgnoreMailFrom is OpenDMARC 1.4's name; IgnoreDomains an older one
            "ignoredomains" | "ignoremailfrom" => match dataset(&s.value, files) {
                Ok(DataSet::Entries { entries, .. }) => {
                    // [policy] allow_domains takes domains, each covering its subdomains
                    let (domains, others): (Vec<String>, Vec<String>) = entries
                        .into_iter()
                        .partition(|e| crate::config::allowed_domain(e).is_some());
                    for d in domains {
                        if !allow_domains.contains(&d) {
                            allow_domains.push(d);
                        }
                    }
                    allow_domains_from.push(from.clone());
                    if !others.is_empty() {
                        plan.unmapped(
                            &format!("{} entries {}", s.name, others.join(", ")),
                            "not domain names; a listed domain already covers its subdomains",
                        );
                    }
                    plan.note(format!("`{shown}`: allow_domains exempts mail only when the domain authenticated it (SPF pass or a valid DKIM signature), so a forged From of these domains is still rejected"));
                }
                _ => plan.unmapped(&shown, "domain list not readable"),
            },
            "rejectstring" => reject_string(&mut plan, &s.value, &shown, &from),
            "spfselfvalidate" => {
                if flag == Some(false) {
                    plan.unmapped(&shown, "SPF is always evaluated here; to use an upstream host's result, list its authserv-id in [authres] trusted_ids");
                }
            }
            "spfignoreresults" => {} // below: the last one counts, wherever it is
            "dnstimeout" => match s.value.parse::<u64>() {
                Ok(0) => plan.unmapped(&shown, super::opendkim::ZERO_DNS_TIMEOUT),
                Ok(n) => plan.set_str("dns", "timeout", &format!("{n}s"), &from),
                Err(_) => plan.unmapped(&shown, "not a number of seconds"),
            },
            "historyfile" => plan.unmapped(&shown, "aggregate-report data is not written to a history file: with [reports] enabled = true authmilter records it in its report store and sends the aggregate reports itself (docs/reports.md), so opendmarc-import/opendmarc-reports are not needed"),
            "failurereports" | "failurereportsbcc" | "failurereportssentby" | "failurereportsonnone" | "copyfailuresto" | "reportcommand" => {
                if flag != Some(false) {
                    plan.unmapped(&shown, "not carried over: the milter sends failure reports itself when [reports] enabled = true and [reports.failure] enabled = true (docs/reports.md)");
                }
            }
            "publicsuffixlist" => plan.unmapped(&shown, "the public suffix list is compiled in (used with [dmarc] mode = \"rfc7489\"); `cargo update -p psl` refreshes it"),
            "requiredheaders" => {} // below: the last one counts
            "syslog" | "syslogfacility" | "autorestart" | "autorestartcount" | "autorestartrate" | "basedirectory" | "changerootdirectory" | "pidfile" | "umask" | "background" => plan.unmapped(&shown, "process management and logging are systemd's job; authmilter logs to stderr (journald)"),
            "softwareheader" => plan.unmapped(&shown, "no software header is added"),
            "authservidwithjobid" => plan.unmapped(&shown, "the authserv-id never carries the queue id"),
            "recordallmessages" => plan.unmapped(&shown, "every message is logged with its results at level info"),
            _ => plan.unmapped(&shown, "no equivalent"),
        }
        plan.undo_if_refused(before, &shown);
    }
    super::output::default_listener(&mut plan, "verify", "OpenDMARC", "it verifies every client");
    let before = plan.snapshot();
    if !allow_domains_from.is_empty() {
        plan.set_list(
            "policy",
            "allow_domains",
            &allow_domains,
            &allow_domains_from.join("; "),
        );
    }
    if !settings.iter().any(|s| s.key() == "ignorehosts") {
        // opendmarc.conf(5): "If not specified, defaults to 127.0.0.1 only"
        plan.set_list(
            "policy",
            "allow_networks",
            &["127.0.0.1".to_string()],
            "OpenDMARC's default IgnoreHosts 127.0.0.1 (no IgnoreHosts setting)",
        );
        plan.note("IgnoreHosts is not set, so OpenDMARC ignored 127.0.0.1 (opendmarc.conf(5)): [policy] allow_networks = [\"127.0.0.1\"] keeps local mail (cron, web forms, Postfix's non_smtpd_milters) from being rejected or quarantined; it is still evaluated and recorded");
    }
    if let Some(shown) = &spf_ignored {
        plan.set_list("authres", "trusted_ids", &[], &format!("OpenDMARC {shown}"));
    }
    quarantine(&mut plan, &settings);
    invalid_from(&mut plan, &settings);
    multiple_from(&mut plan, &settings);
    if settings
        .iter()
        .rev()
        .find(|s| s.key() == "ignoreauthenticatedclients")
        .and_then(|s| s.flag())
        == Some(true)
    {
        for l in &mut plan.listeners {
            l.1 = "auto";
        }
        plan.note("IgnoreAuthenticatedClients true: the listeners have role = \"auto\" so that authenticated clients' mail is ours (never checked or rejected); role = \"verify\" checks every message");
    }
    plan.undo_if_refused(
        before,
        "IgnoreDomains, IgnoreMailFrom, IgnoreAuthenticatedClients",
    );
    Ok(plan)
}

/// The value of the last `key` setting that is a boolean, and the setting as written.
fn last_flag(settings: &[Setting], key: &str) -> Option<(bool, String)> {
    settings
        .iter()
        .rev()
        .filter(|s| s.key() == key)
        .find_map(|s| s.flag().map(|f| (f, format!("{} {}", s.name, s.value))))
}

/// `HoldQuarantinedMessages` (opendmarc.conf(5), default false) as `[dmarc] quarantine`:
/// OpenDMARC calls smfi_quarantine only under RejectFailures and HoldQuarantinedMessages
/// both, and otherwise delivers a p=quarantine failure, which `"header"` does too; the
/// default `"hold"` would put it on Postfix's hold queue.
fn quarantine(plan: &mut Plan, settings: &[Setting]) {
    let (hold, from) = match last_flag(settings, "holdquarantinedmessages") {
        Some((hold, shown)) => (hold, format!("OpenDMARC {shown}")),
        None => (
            false,
            "OpenDMARC's default HoldQuarantinedMessages false (no HoldQuarantinedMessages setting)"
                .to_string(),
        ),
    };
    if hold {
        plan.set_str("dmarc", "quarantine", "hold", &from);
        return;
    }
    plan.set_str("dmarc", "quarantine", "header", &from);
    if last_flag(settings, "rejectfailures").is_some_and(|(reject, _)| reject) {
        plan.note("HoldQuarantinedMessages is false (opendmarc.conf(5)'s default): OpenDMARC delivered mail whose domain says p=quarantine, with only its Authentication-Results; [dmarc] quarantine = \"header\" delivers it too, adding [dmarc] quarantine_header (X-Spam-Flag: YES) for the delivery agent to file as junk, where authmilter's default \"hold\" would put it on Postfix's hold queue");
    }
}

/// `RejectMultiValueFrom` false or unset (opendmarc.conf(5): a From with several domains "will
/// otherwise be ignored by the filter"): authmilter evaluates each domain instead
/// (`multiple_from = "strictest"`), so with enforcement such a message that fails for one
/// of them is refused where OpenDMARC delivered it. Stricter, kept, and listed.
fn multiple_from(plan: &mut Plan, settings: &[Setting]) {
    let enforce = last_flag(settings, "rejectfailures").is_some_and(|(reject, _)| reject);
    let reject = last_flag(settings, "rejectmultivaluefrom").is_some_and(|(r, _)| r);
    if enforce && !reject {
        plan.note("RejectMultiValueFrom is false (opendmarc.conf(5)'s default): OpenDMARC did not evaluate a From field naming several domains and delivered the message; authmilter evaluates each domain ([dmarc] multiple_from = \"strictest\") and applies the strictest policy, so such a message that fails DMARC for a p=reject domain is refused here");
    }
}

/// `RequiredHeaders` (opendmarc.conf(5), default false) as `[dmarc] invalid_from`: OpenDMARC
/// rejects a message without exactly one From field, or with a From it cannot parse, only
/// when it is true, and otherwise accepts it unevaluated (opendmarc.c, mlfi_eom).
fn invalid_from(plan: &mut Plan, settings: &[Setting]) {
    let enforce = last_flag(settings, "rejectfailures").is_some_and(|(reject, _)| reject);
    let multi_reject = last_flag(settings, "rejectmultivaluefrom").is_some_and(|(r, _)| r);
    match last_flag(settings, "requiredheaders") {
        Some((true, shown)) => {
            plan.set_str(
                "dmarc",
                "invalid_from",
                "reject",
                &format!("OpenDMARC {shown}"),
            );
            plan.note(format!("`{shown}`: a message without a usable From field is rejected ([dmarc] invalid_from = \"reject\"), as OpenDMARC did; several From fields are rejected only under [dmarc] multiple_from = \"reject\" (RejectMultiValueFrom true), and OpenDMARC's other RFC 5322 §3.6 checks (exactly one Date, at most one To, Cc, Subject, Message-ID, ...) are not made here: such messages are delivered, unless the MTA's header checks refuse them"));
        }
        required => {
            let from = match &required {
                Some((_, shown)) => format!("OpenDMARC {shown}"),
                None => "OpenDMARC's default RequiredHeaders false (no RequiredHeaders setting)"
                    .to_string(),
            };
            if multi_reject {
                plan.set_str(
                    "dmarc",
                    "invalid_from",
                    "reject",
                    &format!("{from}; RejectMultiValueFrom true, which invalid_from carries out"),
                );
                plan.note("RequiredHeaders is false, so OpenDMARC accepted a message without a From field or with one it could not parse; [dmarc] invalid_from is kept \"reject\" because it also carries out multiple_from = \"reject\" (RejectMultiValueFrom true), so such messages are refused here. invalid_from = \"accept\" would deliver them as OpenDMARC did, and messages with several From domains too");
            } else {
                plan.set_str("dmarc", "invalid_from", "accept", &from);
                if enforce {
                    plan.note("RequiredHeaders is false (opendmarc.conf(5)'s default): OpenDMARC accepted a message without a From field or with one it could not parse, so [dmarc] invalid_from = \"accept\" delivers it (with dmarc=permerror in the Authentication-Results), where authmilter's default \"reject\" would refuse it");
                }
            }
        }
    }
}

/// `RejectString` (opendmarc.conf(5): the rejection's text, `%s` the From domain) as
/// `[dmarc] reject_reply`, with OpenDMARC's code 550 5.7.1 (RFC 7372 §3.2 has no DMARC code).
fn reject_string(plan: &mut Plan, text: &str, shown: &str, from: &str) {
    let reply = format!("550 5.7.1 {}", text.trim().replace("%s", "{domain}"));
    // what config check accepts: a 5xx template whose only placeholder is {domain}
    let checked = crate::config::RejectReply::try_from(reply.clone()).and_then(|r| {
        match r.unfilled(&["domain"]) {
            Some(slot) => Err(format!("{{{slot}}} is not filled in a DMARC rejection")),
            None => Ok(()),
        }
    });
    match checked {
        Ok(()) => plan.set_str("dmarc", "reject_reply", &reply, from),
        Err(why) => plan.unmapped(
            shown,
            format!("{reply:?} cannot be [dmarc] reject_reply: {why}; the default reply is kept"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Migrates `conf` (tables under a temporary root); the result must load.
    fn migrated(conf: &str, tables: &[(&str, &str)]) -> (String, crate::config::Config) {
        super::super::tests::rendered(migrate, ("OpenDMARC", "opendmarc.conf"), conf, tables)
    }

    /// OpenDMARC 1.4 calls its From-domain list IgnoreMailFrom (opendmarc.conf(5)); only the
    /// older IgnoreDomains was mapped, IgnoreMailFrom was "no equivalent". Both map, merged.
    #[test]
    fn ignore_mail_from_maps_like_ignore_domains() {
        let (toml, config) = migrated("IgnoreMailFrom partner.example, other.example\n", &[]);
        assert_eq!(
            config.policy.allow_domains,
            ["partner.example", "other.example"],
            "{toml}"
        );
        assert!(!toml.contains("#   IgnoreMailFrom"), "{toml}");
        let (toml, config) = migrated("IgnoreDomains a.example\nIgnoreMailFrom b.example\n", &[]);
        assert_eq!(
            config.policy.allow_domains,
            ["a.example", "b.example"],
            "{toml}"
        );
    }

    /// opendmarc.conf(5) RejectString: the rejection's text, "%s" the From domain; it was
    /// "no equivalent". It becomes [dmarc] reject_reply with OpenDMARC's 550 5.7.1; a text
    /// that cannot be a reply is listed.
    #[test]
    fn reject_string_becomes_the_reject_reply() {
        let (toml, config) = migrated("RejectString rejected by DMARC policy for %s\n", &[]);
        assert_eq!(
            config.dmarc.reject_reply.to_string(),
            "550 5.7.1 rejected by DMARC policy for {domain}",
            "{toml}"
        );
        assert!(!toml.contains("#   RejectString"), "{toml}");
        for bad in [
            "no {slot} here %s",
            "caf\u{e9} %s",
            "open { %s",
            "{explanation} %s",
        ] {
            let (toml, _) = migrated(&format!("RejectString {bad}\n"), &[]);
            assert!(
                toml.contains(&format!("#   RejectString {bad}\n")),
                "{toml}"
            );
        }
    }

    /// opendmarc.conf(5) IgnoreHosts: "If not specified, defaults to 127.0.0.1 only". The
    /// migration dropped that default, so local mail (cron, web forms, Postfix's
    /// non_smtpd_milters) got DMARC-rejected after the switch.
    #[test]
    fn absent_ignore_hosts_keeps_opendmarcs_default() {
        for conf in [
            "Socket inet:8893@localhost\nRejectFailures true\n",
            "Socket inet:8893@localhost\nIgnoreAuthenticatedClients true\n",
        ] {
            let (toml, config) = migrated(conf, &[]);
            let nets: Vec<String> = config
                .policy
                .allow_networks
                .iter()
                .map(|n| n.0.to_string())
                .collect();
            assert_eq!(nets, ["127.0.0.1/32"], "{toml}");
            assert!(toml.contains("IgnoreHosts"), "no note:\n{toml}");
        }
        // listed hosts replace the default, as in OpenDMARC
        let (toml, config) = migrated("IgnoreHosts /hosts\n", &[("hosts", "192.0.2.0/24\n")]);
        assert_eq!(config.policy.allow_networks.len(), 1, "{toml}");
    }

    /// opendmarc.conf(5) HoldQuarantinedMessages defaults to false, and OpenDMARC calls
    /// smfi_quarantine only under RejectFailures and HoldQuarantinedMessages both: it
    /// delivered p=quarantine failures. The migration left authmilter's quarantine = "hold",
    /// so after the switch they went to Postfix's hold queue.
    #[test]
    fn quarantine_is_delivered_unless_hold_quarantined_messages() {
        use crate::config::QuarantineAction;
        for conf in [
            "RejectFailures true\n",
            "RejectFailures true\nHoldQuarantinedMessages false\n",
        ] {
            let (toml, config) = migrated(conf, &[]);
            assert!(config.dmarc.enforce, "{toml}");
            assert_eq!(config.dmarc.quarantine, QuarantineAction::Header, "{toml}");
            assert!(
                toml.contains("#   - HoldQuarantinedMessages"),
                "no note:\n{toml}"
            );
        }
        let (toml, config) = migrated("RejectFailures true\nHoldQuarantinedMessages true\n", &[]);
        assert_eq!(config.dmarc.quarantine, QuarantineAction::Hold, "{toml}");
    }

    /// OpenDMARC accepts a message without a From field, or with one it cannot parse, unless
    /// RequiredHeaders is true (opendmarc.c, mlfi_eom; opendmarc.conf(5): default false).
    /// RequiredHeaders was "no equivalent" and authmilter's default invalid_from = "reject"
    /// refused such mail after the switch.
    #[test]
    fn required_headers_decides_mail_without_a_usable_from() {
        use crate::config::InvalidFromAction::{Accept, Reject};
        for (conf, want) in [
            ("RejectFailures true\n", Accept),
            ("RejectFailures true\nRequiredHeaders false\n", Accept),
            ("RejectFailures true\nRequiredHeaders true\n", Reject),
            ("RequiredHeaders true\nRequiredHeaders no\n", Accept),
        ] {
            let (toml, config) = migrated(conf, &[]);
            assert_eq!(config.dmarc.invalid_from, want, "{conf}\n{toml}");
            assert!(!toml.contains("#   RequiredHeaders"), "{toml}");
        }
        let (toml, _) = migrated("RejectFailures true\n", &[]);
        assert!(toml.contains("#   - RequiredHeaders"), "no note:\n{toml}");
        // multiple_from = "reject" is carried out by invalid_from: it stays "reject", and the
        // difference is listed
        let (toml, config) = migrated("RejectFailures true\nRejectMultiValueFrom true\n", &[]);
        assert_eq!(config.dmarc.invalid_from, Reject, "{toml}");
        assert!(toml.contains("#   - RequiredHeaders"), "no note:\n{toml}");
    }

    /// opendmarc.conf(5) RejectMultiValueFrom: unset or false, OpenDMARC ignores a From with
    /// several domains; authmilter's strictest evaluation refuses more, which is listed.
    #[test]
    fn several_from_domains_evaluated_where_opendmarc_ignored_them_is_listed() {
        for conf in [
            "RejectFailures true
",
            "RejectFailures true
RejectMultiValueFrom false
",
        ] {
            let (toml, _) = migrated(conf, &[]);
            assert!(
                toml.contains("#   - RejectMultiValueFrom is false"),
                "{conf}\n{toml}"
            );
        }
        for conf in [
            "RejectFailures false
",
            "RejectFailures true
RejectMultiValueFrom true
",
        ] {
            let (toml, _) = migrated(conf, &[]);
            assert!(
                !toml.contains("RejectMultiValueFrom is false"),
                "{conf}\n{toml}"
            );
        }
    }

    /// opendmarc.conf(5) SPFIgnoreResults: the SPF results in the message's headers are
    /// ignored, whatever the order of the settings. Written before TrustedAuthservIDs, the
    /// later TrustedAuthservIDs won and trusted_ids kept the upstream ids.
    #[test]
    fn spf_ignore_results_wins_in_any_order() {
        for conf in [
            "SPFIgnoreResults true\nTrustedAuthservIDs mx1.example.net\n",
            "TrustedAuthservIDs mx1.example.net\nSPFIgnoreResults true\n",
        ] {
            let (toml, config) = migrated(conf, &[]);
            assert!(config.authres.trusted_ids.is_empty(), "{toml}");
            assert!(
                toml.contains("#   TrustedAuthservIDs mx1.example.net\n#       -> "),
                "{toml}"
            );
        }
        // the last SPFIgnoreResults counts
        let (toml, config) = migrated(
            "SPFIgnoreResults true\nTrustedAuthservIDs mx1.example.net\nSPFIgnoreResults no\n",
            &[],
        );
        assert_eq!(config.authres.trusted_ids, ["mx1.example.net"], "{toml}");
    }
}
