//! opendkim.conf → milter.toml (OpenDKIM 2.11 opendkim.conf(5)).

use super::Files;
use super::conf::{DataSet, Setting, dataset, networks, overridden_by, parse};
use super::output::Plan;

/// Maps an opendkim.conf.
pub fn migrate(text: &str, files: &Files) -> anyhow::Result<Plan> {
    let settings = parse(text);
    let mut plan = Plan::default();
    let get = |k: &str| settings.iter().rev().find(|s| s.key() == k);
    let mode = get("mode").map_or("sv".to_string(), |s| s.value.to_ascii_lowercase());
    // Mode s signs only mail from InternalHosts, authenticated clients and MacroList matches
    // and leaves the rest alone; role "sign" would sign every message, a forged From of our
    // domain from the internet too. "auto" signs the same mail and verifies the rest.
    let role = match (mode.contains('s'), mode.contains('v')) {
        (false, true) => "verify",
        _ => "auto",
    };
    if mode.contains('s') && !mode.contains('v') {
        plan.note(format!(
            "`Mode {mode}`: the listeners get role = \"auto\", which signs the same mail OpenDKIM signed (InternalHosts, authenticated clients, MacroList) and, unlike OpenDKIM, verifies other clients' mail (Authentication-Results only unless [dmarc] enforce = true); role = \"sign\" would sign every message, forged ones from the internet too"
        ));
    }
    let mut daemon_names = super::daemon_names::DaemonNames::default();
    for (index, s) in settings.iter().enumerate() {
        let shown = format!("{} {}", s.name, s.value);
        let from = format!("OpenDKIM {shown}");
        let before = plan.snapshot();
        match s.key().as_str() {
            "mode" => {} // with Socket
            "socket" if let Some(last) = overridden_by(&settings, index) => plan.unmapped(
                &shown,
                format!("overridden by the later `{} {}`: OpenDKIM listens on the last Socket only", last.name, last.value),
            ),
            "socket" => {
                if let Some((spec, note)) = super::daemon_socket(&s.value) {
                    if let Some(note) = note {
                        plan.note(note);
                    }
                    plan.listeners.push((spec.clone(), role, format!("{from} (Mode {mode})")));
                    if spec.starts_with("local:") || spec.starts_with("unix:") {
                        plan.note(format!(
                            "the Unix socket of `{shown}` is kept so Postfix's smtpd_milters stays as it is; its directory must exist and be writable by authmilter's user (the opendkim package's /run/opendkim goes away with it)"
                        ));
                    }
                } else {
                    plan.unmapped(&shown, "socket syntax not understood; set [[server.listen]] socket yourself");
                }
            }
            "canonicalization" => {
                if s.value.to_ascii_lowercase().parse::<crate::config::CanonPair>().is_ok() {
                    plan.set_str("dkim", "canonicalization", &s.value.to_ascii_lowercase(), &from);
                } else {
                    plan.unmapped(&shown, "not simple or relaxed");
                }
            }
            "oversignheaders" => {
                plan.set("dkim", "oversign", toml::Value::Boolean(true), &from);
                plan.note(format!(
                    "`{shown}`: oversign = true over-signs From, To, Cc, Subject, Date, Reply-To, Message-ID, In-Reply-To, References and the MIME headers"
                ));
            }
            "signheaders" => match dataset(&s.value, files) {
                Ok(DataSet::Entries { entries, .. }) => match super::sign_headers::sign_headers(&entries) {
                    Ok(Some(list)) => plan.set_list("dkim", "sign_headers", &list, &from),
                    Ok(None) => plan.note(format!("`{shown}` is authmilter's default list (RFC 6376 §5.4.1), so [dkim] sign_headers stays empty")),
                    Err(why) => plan.unmapped(&shown, format!("{why}; list the fields in [dkim] sign_headers yourself")),
                },
                _ => plan.unmapped(&shown, "header list not readable"),
            },
            "signaturettl" => match s.value.parse::<u64>() {
                Ok(n) => plan.set_str("dkim", "expiration", &format!("{n}s"), &from),
                Err(_) => plan.unmapped(&shown, "not a number of seconds"),
            },
            "maximumsignaturestoverify" => match s.value.parse::<i64>() {
                Ok(n) if n > 0 => plan.set("dkim", "max_signatures", toml::Value::Integer(n), &from),
                _ => plan.unmapped(&shown, "not a positive number"),
            },
            "requiresafekeys" => match s.flag() {
                Some(false) => plan.set("dkim", "allow_loose_key_permissions", toml::Value::Boolean(true), &from),
                Some(true) => {}
                None => plan.unmapped(&shown, "not a boolean: not carried over"),
            },
            "authservid" => authserv_id(&mut plan, s, &from),
            "userid" => user(&mut plan, s),
            "nameservers" => {
                let list: Vec<String> = s.value.split(',').map(|x| x.trim().to_string()).collect();
                if list.iter().all(|n| n.parse::<std::net::IpAddr>().is_ok()) {
                    plan.set_list("dns", "nameservers", &list, &from);
                } else {
                    plan.unmapped(&shown, "nameservers must be IP addresses");
                }
            }
            "dnstimeout" => match s.value.parse::<u64>() {
                Ok(0) => plan.unmapped(&shown, ZERO_DNS_TIMEOUT),
                Ok(n) => plan.set_str("dns", "timeout", &format!("{n}s"), &from),
                Err(_) => plan.unmapped(&shown, "not a number of seconds"),
            },
            "internalhosts" => match dataset(&s.value, files) {
                Ok(DataSet::Entries { entries, patterns }) => {
                    let list = networks(&entries, patterns);
                    plan.set_list("outbound", "internal_networks", &list.nets, &from);
                    host_list_leftovers(&mut plan, &entries, &list, "InternalHosts", "[outbound] internal_networks");
                }
                Ok(DataSet::Unsupported(kind)) => plan.unmapped(&shown, format!("{kind}: datasets are not read; list the networks in [outbound] internal_networks")),
                Err(e) => plan.unmapped(&shown, e),
            },
            "macrolist" => daemon_names.macro_list(s, files, &mut plan),
            "mta" => daemon_names.mta(s, files, &mut plan),
            "on-dnserror" => on_action(&mut plan, s, "temperror", &shown, &from),
            "on-internalerror" => on_action(&mut plan, s, "on_error", &shown, &from),
            k if k.starts_with("on-") => {
                if !matches!(s.value.to_ascii_lowercase().as_str(), "a" | "accept") {
                    plan.unmapped(&shown, "authmilter never rejects on a DKIM result alone: DMARC decides (see [dmarc] enforce), which is what RFC 6376 §6.3 asks");
                }
            }
            "keytable" | "signingtable" | "domain" | "selector" | "keyfile" => {} // below
            "externalignorelist" => plan.unmapped(&shown, "in OpenDKIM it only silences the \"external host tried to send mail as\" log line; authmilter has no such warning"),
            "syslog" | "syslogsuccess" | "logwhy" | "syslogfacility" | "logresults" => plan.unmapped(&shown, "authmilter logs one line per message to stderr (journald); set [log] level"),
            "umask" | "pidfile" | "background" | "autorestart" | "autorestartcount" | "autorestartrate" | "changerootdirectory" => plan.unmapped(&shown, "process management is systemd's job (examples/authmilter.service)"),
            "trustanchorfile" => plan.unmapped(&shown, "no DNSSEC validation of key records; use a validating resolver in [dns] nameservers"),
            "signaturealgorithm" => {
                if s.value.eq_ignore_ascii_case("rsa-sha1") {
                    plan.unmapped(&shown, "rsa-sha1 is forbidden by RFC 8301; signatures are rsa-sha256 or ed25519-sha256 by key type");
                } else {
                    plan.unmapped(&shown, "the key's type decides the algorithm (rsa-sha256 or ed25519-sha256)");
                }
            }
            "multiplesignatures" => match s.flag() {
                Some(true) => plan.note(format!("{shown}: every SigningTable line matching a From address signs, so each [[dkim.signing]] rule lists the keys of every line whose pattern covers it")),
                Some(false) => {}
                None => plan.unmapped(&shown, "not a boolean: not carried over (only the first matching SigningTable line signs)"),
            },
            "subdomains" => match s.flag() {
                Some(true) => plan.unmapped(&shown, "add a [[dkim.signing]] rule with from = \"*.DOMAIN\""),
                Some(false) => {}
                None => plan.unmapped(&shown, "not a boolean: not carried over"),
            },
            "minimumkeybits" => plan.unmapped(&shown, "RSA keys under 1024 bits give policy (RFC 8301); signing keys must have 2048 bits or more"),
            _ => plan.unmapped(&shown, "no equivalent"),
        }
        plan.undo_if_refused(before, &shown);
    }
    super::output::default_listener(&mut plan, role, "OpenDKIM", &format!("Mode {mode}"));
    if role == "auto" {
        defaults(&settings, &mut plan);
    }
    let before = plan.snapshot();
    daemon_names.write(&mut plan);
    plan.undo_if_refused(before, "MacroList, MTA");
    let before = plan.snapshot();
    keys_and_rules(&settings, files, &mut plan);
    plan.undo_if_refused(
        before,
        "KeyTable, SigningTable (or Domain, Selector, KeyFile)",
    );
    if !plan.keys.is_empty() {
        plan.note("the private key files must belong to authmilter's user, mode 0600: chown authmilter KEY && chmod 600 KEY (group- or world-readable keys are refused)");
    }
    Ok(plan)
}

/// OpenDKIM's defaults (opendkim.conf(5)) for the settings the file leaves out, where
/// authmilter's differ: written out, or kept and listed where authmilter's serves better.
/// They decide which mail is ours, so they matter only where a listener signs.
fn defaults(settings: &[Setting], plan: &mut Plan) {
    let set = |key: &str| settings.iter().any(|s| s.key() == key);
    if !set("internalhosts") {
        // opendkim.conf(5) says 127.0.0.1; OpenDKIM 2.11's built-in list adds ::1
        plan.set_list(
            "outbound",
            "internal_networks",
            &["127.0.0.1".to_string(), "::1".to_string()],
            "OpenDKIM's default InternalHosts 127.0.0.1, ::1 (no InternalHosts setting)",
        );
        plan.note("InternalHosts is not set, so OpenDKIM signed the mail of 127.0.0.1 and ::1 only (besides authenticated clients): [outbound] internal_networks = [\"127.0.0.1\", \"::1\"], where authmilter's default holds all of 127.0.0.0/8");
    }
    if !set("macrolist") && !set("mta") {
        plan.set_list(
            "outbound",
            "daemon_names",
            &[],
            "OpenDKIM's default MacroList, empty (no MacroList or MTA setting)",
        );
        plan.note("MacroList is not set, so no MTA daemon name made a client's mail OpenDKIM's to sign: [outbound] daemon_names = [], where authmilter's default [\"ORIGINATING\"] makes every client of a Postfix service with milter_macro_daemon_name=ORIGINATING ours");
    }
    if !set("oversignheaders") {
        plan.note("OversignHeaders is not set, so OpenDKIM over-signed no header; authmilter's default [dkim] oversign = true is kept: h= lists From, To, Cc, Subject, Date, Reply-To, Message-ID, In-Reply-To, References and the MIME headers once more than present, so none can be added after signing without breaking the signature (RFC 6376 §8.15). Set oversign = false to sign as OpenDKIM did");
    }
}

/// Why `DNSTimeout 0` (both programs) is not carried over.
pub const ZERO_DNS_TIMEOUT: &str = "0 (wait forever) has no equivalent: [dns] timeout must be more than 0s; the default 5s is kept";

/// What a host list (`InternalHosts`, OpenDMARC's `IgnoreHosts`) leaves: negated networks,
/// cut out of the listed ones (said in a note), and host names, which milter.toml cannot
/// hold (listed as unmapped; a negated one may be inside a listed network).
pub fn host_list_leftovers(
    plan: &mut Plan,
    entries: &[String],
    list: &super::conf::HostList,
    setting: &str,
    key: &str,
) {
    for (entry, why) in &list.never {
        plan.unmapped(&format!("{setting} entry {entry}"), *why);
    }
    let names = &list.other;
    let cut: Vec<&str> = entries
        .iter()
        .map(|e| e.trim())
        .filter(|e| {
            e.starts_with('!')
                && !names.iter().any(|n| n.trim() == *e)
                && !list.never.iter().any(|(n, _)| n.trim() == *e)
        })
        .collect();
    if !cut.is_empty() {
        plan.note(format!(
            "{setting} {}: cut out of the networks that contain them in {key} (milter.toml has no negation)",
            cut.join(", ")
        ));
    }
    let (negated, plain): (Vec<&String>, Vec<&String>) =
        names.iter().partition(|n| n.trim().starts_with('!'));
    if !plain.is_empty() {
        let plain: Vec<&str> = plain.iter().map(|n| n.as_str()).collect();
        plan.unmapped(
            &format!("{setting} entries {}", plain.join(", ")),
            format!("host names cannot be listed; add their addresses to {key} (localhost is 127.0.0.0/8 and ::1)"),
        );
    }
    if !negated.is_empty() {
        let negated: Vec<&str> = negated.iter().map(|n| n.as_str()).collect();
        plan.unmapped(
            &format!("{setting} entries {}", negated.join(", ")),
            format!("hosts excluded by name cannot be cut out: if a network in {key} holds their addresses, they are in it now; write the networks without them"),
        );
    }
}

/// `AuthservID` (also OpenDMARC's).
pub fn authserv_id(plan: &mut Plan, s: &Setting, from: &str) {
    if s.value.eq_ignore_ascii_case("hostname") {
        plan.set_str("authres", "authserv_id", "", from);
    } else {
        plan.set_str("authres", "authserv_id", &s.value, from);
    }
}

/// `UserID user[:group]` (also OpenDMARC's): a note, no `[server] user`, which config check
/// refuses on a machine without that user; the systemd unit names the user.
pub fn user(plan: &mut Plan, s: &Setting) {
    plan.note(format!(
        "{} {}: authmilter runs as its own user, not as {}: examples/authmilter.service starts it with User=authmilter (the Debian package creates that user); [server] user is for starting as root, e.g. user = \"authmilter\"",
        s.name, s.value, s.value
    ));
}

fn on_action(plan: &mut Plan, s: &Setting, key: &str, shown: &str, from: &str) {
    match s.value.to_ascii_lowercase().as_str() {
        "t" | "tempfail" => plan.set_str("policy", key, "tempfail", from),
        "a" | "accept" => plan.set_str("policy", key, "accept", from),
        _ => plan.unmapped(shown, "only tempfail or accept are possible here"),
    }
}

/// KeyTable + SigningTable, or the single-key form Domain + Selector + KeyFile.
fn keys_and_rules(settings: &[Setting], files: &Files, plan: &mut Plan) {
    let get = |k: &str| settings.iter().rev().find(|s| s.key() == k);
    if let Some(kt) = get("keytable") {
        let shown = format!("{} {}", kt.name, kt.value);
        match dataset(&kt.value, files) {
            Ok(DataSet::Entries { entries, .. }) => {
                for e in entries {
                    let Some((name, spec)) = super::conf::key_and_value(&e) else {
                        plan.unmapped(
                            &format!("KeyTable line {e}"),
                            "expected `name domain:selector:keyfile` (`name=...` in a csl: list)",
                        );
                        continue;
                    };
                    let fields: Vec<&str> = spec.splitn(3, ':').collect();
                    match fields.as_slice() {
                        _ if plan.keys.iter().any(|k| k.0 == name) => plan.unmapped(
                            &format!("KeyTable line {e}"),
                            format!("the key name {name} is used by an earlier line; key names must be unique, so this entry is left out"),
                        ),
                        [domain, selector, _] if same_record(plan, domain, selector).is_some() => plan.unmapped(
                            &format!("KeyTable line {e}"),
                            format!("{selector}._domainkey.{domain} is the record of the key {} too: one selector of one domain is one DNS record, so this entry is left out", same_record(plan, domain, selector).unwrap_or_default()),
                        ),
                        [domain, selector, path]
                            if path.starts_with('/')
                                && dns::name::is_host_like(domain)
                                && !selector.is_empty() =>
                        {
                            plan.keys.push((name.into(), (*domain).into(), (*selector).into(), (*path).into()));
                        }
                        _ => plan.unmapped(&format!("KeyTable line {e}"), "only `domain:selector:/path/to/key` entries map (no % domain, no inline key data)"),
                    }
                }
            }
            Ok(DataSet::Unsupported(kind)) => plan.unmapped(
                &shown,
                format!("{kind}: datasets are not read; write the [[dkim.key]] blocks yourself"),
            ),
            Err(e) => plan.unmapped(&shown, e),
        }
        if let Some(st) = get("signingtable") {
            let multiple = get("multiplesignatures").and_then(Setting::flag) == Some(true);
            signing_table(st, multiple, files, plan);
        }
    } else if let (Some(d), Some(sel), Some(kf)) = (get("domain"), get("selector"), get("keyfile"))
    {
        let shown = format!("{} {}", d.name, d.value);
        let domains = match dataset(&d.value, files) {
            Ok(DataSet::Entries { entries, .. }) => entries,
            Ok(DataSet::Unsupported(kind)) => {
                plan.unmapped(
                    &shown,
                    format!(
                        "{kind}: datasets are not read; write the [[dkim.key]] blocks yourself"
                    ),
                );
                Vec::new()
            }
            Err(e) => {
                plan.unmapped(&shown, e);
                Vec::new()
            }
        };
        for domain in domains {
            if plan.keys.iter().any(|k| k.1.eq_ignore_ascii_case(&domain)) {
                plan.unmapped(
                    &format!("Domain entry {domain}"),
                    "listed twice: its key is already migrated",
                );
                continue;
            }
            if !dns::name::is_host_like(&domain) {
                plan.unmapped(
                    &format!("Domain entry {domain}"),
                    "not a domain name a signature's d= can hold; add a [[dkim.key]] block per domain (and a [[dkim.signing]] rule for subdomains)",
                );
                continue;
            }
            plan.keys.push((
                format!("{domain}-{}", sel.value),
                domain,
                sel.value.clone(),
                kf.value.clone(),
            ));
        }
    } else if get("signingtable").is_some() {
        plan.unmapped("SigningTable without KeyTable", "nothing to sign with");
    } else {
        for s in ["domain", "selector", "keyfile"]
            .iter()
            .filter_map(|k| get(k))
        {
            plan.unmapped(
                &format!("{} {}", s.name, s.value),
                "Domain, Selector and KeyFile make a key only together; write the [[dkim.key]] block yourself",
            );
        }
    }
}

/// The name of a migrated key with the DNS record `selector._domainkey.domain` (RFC 6376
/// §3.6.2.1), compared as config check compares them.
fn same_record(plan: &Plan, domain: &str, selector: &str) -> Option<String> {
    let record = |d: &str, s: &str| {
        crate::config::DkimKey {
            domain: d.to_string(),
            selector: s.to_string(),
            ..Default::default()
        }
        .record_name()
    };
    let wanted = record(domain, selector);
    plan.keys
        .iter()
        .find(|k| record(&k.1, &k.2) == wanted)
        .map(|k| k.0.clone())
}

fn signing_table(st: &Setting, multiple: bool, files: &Files, plan: &mut Plan) {
    let shown = format!("{} {}", st.name, st.value);
    match dataset(&st.value, files) {
        Ok(DataSet::Entries { entries, patterns }) => {
            super::signing_table::signing_rules(&entries, patterns, multiple, plan)
        }
        Ok(DataSet::Unsupported(kind)) => plan.unmapped(
            &shown,
            format!("{kind}: datasets are not read; write [[dkim.signing]] rules yourself"),
        ),
        Err(e) => plan.unmapped(&shown, e),
    }
}

#[cfg(test)]
mod tests;
