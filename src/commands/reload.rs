//! What a SIGHUP reload may change, and what it says about it: a reload never silently turns
//! enforcement off or moves our identity because a file was truncated or emptied.
//!
//! - an empty or comment-only file is refused;
//! - a change of `[dmarc] enforce`, `[spf] reject_fail`, `[authres] authserv_id` or
//!   `[dns] nameservers` is refused
//!   unless the new file sets that key itself (a key that fell back to its default is a
//!   truncated or wrong file, not a decision);
//! - a file without any `[[dkim.key]]` while keys sign is warned of (outbound mail leaves
//!   unsigned from then on), and every change of the keys is logged at warning level;
//! - every changed setting is logged, policy-relevant ones at warning level.

use std::collections::BTreeMap;

use anyhow::bail;

use crate::config::Config;

/// Keys whose change by default (the key missing from the new file) refuses the reload.
const GUARDED: [&str; 4] = [
    "dmarc.enforce",
    "spf.reject_fail",
    "authres.authserv_id",
    "dns.nameservers",
];

/// Keys (or `section.` prefixes) a reload cannot apply: they are read once at start. `[metrics]`
/// and the `[reports]` recorder, store and inbox have their own warnings.
const RESTART_ONLY: [&str; 6] = [
    "log.",
    "server.max_connections",
    "server.shutdown_timeout",
    "server.user",
    "server.group",
    "srs.socketmap",
];

/// Keys a reload applies only to the Unix sockets it opens: a socket kept across the reload
/// keeps its mode and owner (after the privilege drop the file is no longer ours to change).
const NEW_SOCKETS_ONLY: [&str; 3] = [
    "server.socket_mode",
    "server.socket_owner",
    "server.socket_group",
];

/// Sections and keys whose changes are logged at warning level: they change what mail gets
/// through.
const POLICY_RELEVANT: [&str; 10] = [
    "dmarc.",
    "policy.",
    "spf.reject_fail",
    "spf.enabled",
    "dkim.verify",
    "dkim.key",
    "dkim.signing",
    "authres.",
    "outbound.",
    "server.listen",
];

/// One changed setting: its dotted key, the old and the new value (TOML syntax).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// `section.key`.
    pub key: String,
    /// Old value.
    pub old: String,
    /// New value.
    pub new: String,
}

impl Change {
    /// Whether the change alters which mail gets through.
    pub fn is_policy_relevant(&self) -> bool {
        POLICY_RELEVANT.iter().any(|p| self.key.starts_with(p))
    }
}

/// Checks a reload of `text` over the running `old` configuration; returns the new
/// configuration and the changed settings, or why the reload is refused.
pub fn check_reload(old: &Config, text: &str) -> anyhow::Result<(Config, Vec<Change>)> {
    if !has_content(text) {
        bail!("the configuration file is empty or only comments; refusing to reload it");
    }
    let new = Config::parse(text)?;
    let changes = diff(old, &new)?;
    let explicit: toml::Table = toml::from_str(text)?;
    for key in GUARDED {
        if changes.iter().any(|c| c.key == key) && !sets(&explicit, key) {
            bail!(
                "the new file does not set {key} and the default differs from the running value; set {key} explicitly to change it (a truncated file must not change it)"
            );
        }
    }
    Ok((new, changes))
}

/// Warns when `new` loses every signing key `old` had: config check and serve accept a file
/// without keys, so a reload does too, but a file that lost its keys by accident stops all
/// signing, which must not pass unnoticed. Called once the reload is certain to apply.
pub fn warn_of_lost_keys(old: &Config, new: &Config) {
    if new.dkim.keys.is_empty() && !old.dkim.keys.is_empty() {
        tracing::warn!(
            "reload: the new file has no [[dkim.key]] while {} key(s) signed: outbound mail is no longer signed (and fails DMARC where the domain's policy asks for it); if that is not meant, restore the keys and reload",
            old.dkim.keys.len()
        );
    }
}

/// Logs every change (policy-relevant ones at warning level).
pub fn log_changes(changes: &[Change]) {
    if changes.is_empty() {
        tracing::info!(
            "reload: no setting changed; the files the settings name (keys, secrets, tokens) were read again"
        );
    }
    for c in changes {
        if c.is_policy_relevant() {
            tracing::warn!(key = %c.key, old = %c.old, new = %c.new, "reload: setting changed");
        } else {
            tracing::info!(key = %c.key, old = %c.old, new = %c.new, "reload: setting changed");
        }
    }
}

/// The changed keys among `changes` that take effect only at the next restart.
pub fn restart_only(changes: &[Change]) -> Vec<&str> {
    keys_in(changes, &RESTART_ONLY)
}

/// The changed keys a reload applies only to the sockets it opens ([`NEW_SOCKETS_ONLY`]).
pub fn new_sockets_only(changes: &[Change]) -> Vec<&str> {
    keys_in(changes, &NEW_SOCKETS_ONLY)
}

fn keys_in<'c>(changes: &'c [Change], keys: &[&str]) -> Vec<&'c str> {
    changes
        .iter()
        .filter(|c| keys.iter().any(|k| c.key.starts_with(k)))
        .map(|c| c.key.as_str())
        .collect()
}

/// The error of a failed reload on one line.
pub fn one_line(e: &anyhow::Error) -> String {
    format!("{e:#}")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && *l != "|")
        .collect::<Vec<_>>()
        .join(" ")
}

fn has_content(text: &str) -> bool {
    text.lines().any(|l| {
        let t = l.trim();
        !t.is_empty() && !t.starts_with('#')
    })
}

fn sets(table: &toml::Table, dotted: &str) -> bool {
    let mut parts = dotted.split('.');
    let (Some(section), Some(key)) = (parts.next(), parts.next()) else {
        return false;
    };
    table
        .get(section)
        .and_then(|s| s.as_table())
        .is_some_and(|s| s.contains_key(key))
}

fn diff(old: &Config, new: &Config) -> anyhow::Result<Vec<Change>> {
    let a = flatten(&toml::Value::try_from(old)?);
    let b = flatten(&toml::Value::try_from(new)?);
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    Ok(keys
        .into_iter()
        .filter_map(|k| {
            let (o, n) = (a.get(k), b.get(k));
            (o != n).then(|| Change {
                key: k.clone(),
                old: o.cloned().unwrap_or_else(|| "(unset)".into()),
                new: n.cloned().unwrap_or_else(|| "(unset)".into()),
            })
        })
        .collect())
}

/// `section.key` → value in TOML syntax; arrays of tables (listeners, keys) as one value.
fn flatten(v: &toml::Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let toml::Value::Table(sections) = v {
        for (section, body) in sections {
            match body {
                toml::Value::Table(keys) => {
                    for (key, value) in keys {
                        out.insert(format!("{section}.{key}"), value.to_string());
                    }
                }
                other => {
                    out.insert(section.clone(), other.to_string());
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn running() -> Config {
        Config::parse(
            "[dmarc]\nenforce = true\n[authres]\nauthserv_id = \"mx.example\"\n[dns]\nnameservers = [\"192.0.2.53\"]\n",
        )
        .unwrap()
    }

    #[test]
    fn empty_and_comment_only_files_are_refused() {
        for text in ["", "\n\n", "# only\n  # comments\n"] {
            let err = check_reload(&running(), text).unwrap_err().to_string();
            assert!(err.contains("empty or only comments"), "{err}");
        }
    }

    #[test]
    fn a_truncated_file_cannot_turn_enforcement_off() {
        // the file lost its [dmarc] section: enforce would fall back to false
        let text =
            "[authres]\nauthserv_id = \"mx.example\"\n[dns]\nnameservers = [\"192.0.2.53\"]\n";
        let err = check_reload(&running(), text).unwrap_err().to_string();
        assert!(err.contains("dmarc.enforce"), "{err}");
        // the same change made on purpose is accepted and reported
        let text = format!("{text}[dmarc]\nenforce = false\n");
        let (new, changes) = check_reload(&running(), &text).unwrap();
        assert!(!new.dmarc.enforce);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].key, "dmarc.enforce");
        assert!(changes[0].is_policy_relevant());
    }

    /// A file that lost its [[dkim.key]] blocks stops all signing: applied as config check
    /// accepts it, logged at warning level (with a line of its own); a changed key set is
    /// logged at warning level; a changed socket mode waits for a restart.
    #[test]
    fn signing_keys_and_sockets_on_reload() {
        let key = "[[dkim.key]]\nname = \"k\"\ndomain = \"example.com\"\nselector = \"s1\"\npath = \"/k.pem\"\n";
        let base = "[dmarc]\nenforce = true\n[authres]\nauthserv_id = \"mx.example\"\n[dns]\nnameservers = [\"192.0.2.53\"]\n";
        let signing = Config::parse(&format!("{base}{key}")).unwrap();
        let (_, changes) = check_reload(&signing, base).unwrap();
        assert!(
            changes
                .iter()
                .any(|c| c.key == "dkim.key" && c.is_policy_relevant()),
            "{changes:?}"
        );
        let renamed = key.replace("s1", "s2");
        let (_, changes) = check_reload(&signing, &format!("{base}{renamed}")).unwrap();
        assert!(
            changes
                .iter()
                .any(|c| c.key == "dkim.key" && c.is_policy_relevant()),
            "{changes:?}"
        );
        let (_, changes) = check_reload(
            &signing,
            &format!("{base}{key}[server]\nsocket_mode = \"0666\"\n"),
        )
        .unwrap();
        // a socket this reload opens gets the new mode at once; those kept wait for a restart
        assert!(restart_only(&changes).is_empty(), "{changes:?}");
        assert_eq!(new_sockets_only(&changes), ["server.socket_mode"]);
    }

    #[test]
    fn identity_and_nameservers_are_guarded_too() {
        let text = "[dmarc]\nenforce = true\n[dns]\nnameservers = [\"192.0.2.53\"]\n";
        assert!(
            check_reload(&running(), text)
                .unwrap_err()
                .to_string()
                .contains("authres.authserv_id")
        );
        let text = "[dmarc]\nenforce = true\n[authres]\nauthserv_id = \"mx.example\"\n";
        assert!(
            check_reload(&running(), text)
                .unwrap_err()
                .to_string()
                .contains("dns.nameservers")
        );
    }

    #[test]
    fn settings_read_only_at_start_are_named() {
        let base = "[dmarc]\nenforce = true\n[authres]\nauthserv_id = \"mx.example\"\n[dns]\nnameservers = [\"192.0.2.53\"]\n";
        let text = format!(
            "{base}[server]\nuser = \"nobody\"\nmax_connections = 9\nidle_timeout = \"60s\"\n[log]\nformat = \"json\"\n[srs]\nsocketmap = \"inet:127.0.0.1:10003\"\n"
        );
        let (_, changes) = check_reload(&running(), &text).unwrap();
        assert_eq!(
            restart_only(&changes),
            [
                "log.format",
                "server.max_connections",
                "server.user",
                "srs.socketmap"
            ]
        );
        let (_, changes) = check_reload(&running(), base).unwrap();
        assert!(restart_only(&changes).is_empty());
    }

    #[test]
    fn changes_are_listed_and_errors_fit_one_line() {
        let text = "[dmarc]\nenforce = true\n[authres]\nauthserv_id = \"mx.example\"\n[dns]\nnameservers = [\"192.0.2.53\"]\n[log]\nlevel = \"debug\"\n";
        let (_, changes) = check_reload(&running(), text).unwrap();
        assert_eq!(
            changes,
            [Change {
                key: "log.level".into(),
                old: "\"info\"".into(),
                new: "\"debug\"".into()
            }]
        );
        assert!(!changes[0].is_policy_relevant());
        let err = check_reload(&running(), "[dmarc]\nenforce = maybe\n").unwrap_err();
        let line = one_line(&err);
        assert!(!line.contains('\n') && line.contains("enforce"), "{line}");
    }

    #[test]
    fn a_truncated_file_cannot_turn_spf_rejection_off() {
        let base = "[dmarc]\nenforce = true\n[authres]\nauthserv_id = \"mx.example\"\n[dns]\nnameservers = [\"192.0.2.53\"]\n";
        let old = Config::parse(&format!("{base}[spf]\nreject_fail = true\n")).unwrap();
        let err = check_reload(&old, base).unwrap_err().to_string();
        assert!(err.contains("spf.reject_fail"), "{err}");
        let (new, _) = check_reload(&old, &format!("{base}[spf]\nreject_fail = false\n")).unwrap();
        assert!(!new.spf.reject_fail);
    }
}
