//! OpenDKIM's SigningTable as `[[dkim.signing]]` rules (opendkim.conf(5) SigningTable): a
//! `refile:` table's patterns are matched against user@host in file order; any other table is
//! looked up user@host, host, user@.domain and .domain for every parent domain, user@*, then
//! *; only the first match signs unless MultipleSignatures, then every match does. Rules match the From domain and
//! the first matching rule wins, so the rules are ordered to pick what OpenDKIM picked.

use std::cmp::Reverse;

use super::output::Plan;

/// The From domains a table line matches, as a rule's `from` says it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    /// One domain (`example.com`), in A-labels.
    Domain(String),
    /// The subdomains of a domain, not the domain itself (`*.example.com`).
    Subdomains(String),
    /// Every domain (`*`).
    Any,
}

impl Pattern {
    /// The rule's `from` (docs/configuration.md, `[[dkim.signing]]`).
    fn rule_from(&self) -> String {
        match self {
            Pattern::Domain(d) => d.clone(),
            Pattern::Subdomains(d) => format!("*.{d}"),
            Pattern::Any => "*".into(),
        }
    }

    /// Where OpenDKIM's lookup (opendkim.conf(5) SigningTable) reaches it: the host, then
    /// the parent domains nearest first, then `*`.
    fn lookup_rank(&self) -> (u8, Reverse<usize>) {
        match self {
            Pattern::Domain(_) => (0, Reverse(0)),
            Pattern::Subdomains(d) => (1, Reverse(d.split('.').count())),
            Pattern::Any => (2, Reverse(0)),
        }
    }

    /// Whether this matches every From domain `other` matches.
    fn covers(&self, other: &Pattern) -> bool {
        let under = |d: &str, parent: &str| {
            d.strip_suffix(parent)
                .is_some_and(|rest| rest.len() > 1 && rest.ends_with('.'))
        };
        match (self, other) {
            (Pattern::Any, _) => true,
            (Pattern::Subdomains(p), Pattern::Domain(d)) => under(d, p),
            (Pattern::Subdomains(p), Pattern::Subdomains(d)) => d == p || under(d, p),
            (Pattern::Domain(p), Pattern::Domain(d)) => p == d,
            _ => false,
        }
    }
}

/// One table line that maps.
struct Line {
    /// The line as written.
    text: String,
    /// Its key as written (for duplicates in a plain table).
    lookup: String,
    pattern: Pattern,
    /// A plain-table key naming one user (`user@host`, `user@.domain`, `user@*`).
    user: bool,
    /// The key name, when it is among the migrated `[[dkim.key]]` blocks.
    key: Option<String>,
}

/// A domain a rule can hold (what config check accepts), in A-labels.
fn domain(d: &str) -> Option<String> {
    if d.contains(['*', '?', '[', ']', '%']) {
        return None;
    }
    crate::config::allowed_domain(d)
}

/// A `refile:` wildcard: `*@d` → d, `*@*.d` → *.d, `*` and `*@*` → *. A bare `d` is none:
/// OpenDKIM matches the pattern against user@host, so it never matches.
fn refile_pattern(p: &str) -> Option<Pattern> {
    if p == "*" || p == "*@*" {
        return Some(Pattern::Any);
    }
    let d = p.strip_prefix("*@")?;
    match d.strip_prefix("*.") {
        Some(parent) => domain(parent).map(Pattern::Subdomains),
        None => domain(d).map(Pattern::Domain),
    }
}

/// A plain table's key: `host`, `.domain`, `*`, or one of them after `user@` (the flag).
fn plain_pattern(key: &str) -> Option<(Pattern, bool)> {
    let (user, host) = match key.rsplit_once('@') {
        Some((_, host)) => (true, host),
        None => (false, key),
    };
    let pattern = if host == "*" {
        Pattern::Any
    } else if let Some(parent) = host.strip_prefix('.') {
        Pattern::Subdomains(domain(parent)?)
    } else {
        Pattern::Domain(domain(host)?)
    };
    Some((pattern, user))
}

/// Adds the rules for a SigningTable's `entries` (`pattern keyname` lines) to `plan`, whose
/// keys are already migrated; every line that does not map is listed with the reason.
pub fn signing_rules(entries: &[String], refile: bool, multiple: bool, plan: &mut Plan) {
    let mut lines: Vec<Line> = Vec::new();
    for e in entries {
        let shown = format!("SigningTable line {e}");
        let Some((lookup, key)) = super::conf::key_and_value(e) else {
            plan.unmapped(
                &shown,
                "expected `pattern keyname` (`pattern=keyname` in a csl: list)",
            );
            continue;
        };
        let parsed = if refile {
            refile_pattern(lookup).map(|p| (p, false))
        } else {
            plain_pattern(lookup)
        };
        let Some((pattern, user)) = parsed else {
            let why = if refile && !lookup.contains(['@', '*', '?', '[']) {
                "never matches: OpenDKIM looks a refile: SigningTable up as user@host, which a pattern without @ or a wildcard never matches, so OpenDKIM never signed with this line"
            } else if refile {
                "only *@domain, *@*.domain and * patterns map (rules match the From domain)"
            } else {
                "not host, .domain, user@host, user@.domain, user@* or *: no From address is looked up as this key, so OpenDKIM never used the line either"
            };
            plan.unmapped(&shown, why);
            continue;
        };
        let known = plan.keys.iter().any(|k| k.0 == key);
        if !known {
            plan.unmapped(
                &shown,
                format!("names the key {key}, which is not among the migrated [[dkim.key]] blocks (see the KeyTable lines above); left out, so this line signs nothing"),
            );
        }
        let line = Line {
            text: e.clone(),
            lookup: lookup.to_string(),
            pattern,
            user,
            key: known.then(|| key.to_string()),
        };
        if let Some(why) = shadowed(&line, &lines, refile, multiple) {
            plan.unmapped(&shown, why);
            continue;
        }
        lines.push(line);
    }
    // a user's line stands for the whole domain only where no line names the domain itself
    let mut kept: Vec<Line> = Vec::new();
    for line in lines {
        if line.user {
            let earlier = kept.iter().find(|l| l.pattern == line.pattern);
            if let Some(other) = earlier.map(|l| l.text.clone()) {
                plan.unmapped(
                    &format!("SigningTable line {}", line.text),
                    format!("rules match the From domain, not the address: `{other}` decides for every address of {}", line.pattern.rule_from()),
                );
                continue;
            }
            if let Some(key) = &line.key {
                plan.note(format!(
                    "SigningTable `{}`: rules match the From domain, so every address of {} is signed with {key}",
                    line.text,
                    line.pattern.rule_from()
                ));
            }
        } else if let Some(i) = kept
            .iter()
            .position(|l| l.user && l.pattern == line.pattern)
        {
            // the domain's own line wins over a user's, listed as unmapped
            let user_line = kept.remove(i);
            plan.unmapped(
                &format!("SigningTable line {}", user_line.text),
                format!("rules match the From domain, not the address: `{}` decides for every address of {}", line.text, line.pattern.rule_from()),
            );
        }
        kept.push(line);
    }
    if !refile || multiple {
        // the first matching rule wins: the most specific first, as OpenDKIM looks them up
        kept.sort_by_key(|l| l.pattern.lookup_rank());
    }
    let mut patterns: Vec<&Pattern> = Vec::new();
    for l in &kept {
        if !patterns.contains(&&l.pattern) {
            patterns.push(&l.pattern);
        }
    }
    for pattern in patterns {
        let mut keys: Vec<String> = Vec::new();
        // an empty rule keeps a line's meaning for its pattern: not signed
        for l in kept.iter().filter(|l| {
            if multiple {
                l.pattern.covers(pattern)
            } else {
                l.pattern == *pattern
            }
        }) {
            if let Some(k) = &l.key
                && !keys.contains(k)
            {
                keys.push(k.clone());
            }
        }
        plan.rules.push((pattern.rule_from(), keys));
    }
    if plan.rules.is_empty() {
        // OpenDKIM signs only what a table line matches; without any rule each key would
        // sign its own domain
        plan.rules.push((Pattern::Any.rule_from(), Vec::new()));
        plan.note("no SigningTable line maps to a rule, so one rule from = \"*\" with no keys leaves every message unsigned, as OpenDKIM left mail no table line matched (without any rule, each [[dkim.key]] would sign its own domain)");
    }
}

/// Why `line` is never used because of an earlier one: in a plain table one key is looked
/// up once; without MultipleSignatures only the first of a pattern's lines applies.
fn shadowed(line: &Line, earlier: &[Line], refile: bool, multiple: bool) -> Option<String> {
    if !refile
        && let Some(first) = earlier
            .iter()
            .find(|l| l.lookup.eq_ignore_ascii_case(&line.lookup))
    {
        return Some(format!(
            "the key {} is already on the line `{}`; a table key is looked up once, so the first line is kept",
            line.lookup, first.text
        ));
    }
    if refile
        && !multiple
        && let Some(first) = earlier.iter().find(|l| l.pattern == line.pattern)
    {
        return Some(format!(
            "never used: `{}` matches the same addresses first, and without MultipleSignatures only the first match signs",
            first.text
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Pattern {
        Pattern::Domain(s.into())
    }

    fn sub(s: &str) -> Pattern {
        Pattern::Subdomains(s.into())
    }

    #[test]
    fn refile_patterns() {
        assert_eq!(refile_pattern("*@example.com"), Some(d("example.com")));
        assert_eq!(refile_pattern("*@*.example.com"), Some(sub("example.com")));
        assert_eq!(refile_pattern("*"), Some(Pattern::Any));
        assert_eq!(refile_pattern("*@*"), Some(Pattern::Any));
        assert_eq!(refile_pattern("user@example.com"), None);
        assert_eq!(refile_pattern("example.com"), None);
        assert_eq!(refile_pattern("*@ex*.com"), None);
        assert_eq!(refile_pattern("*@%"), None);
    }

    /// opendkim.conf(5): host, .domain (subdomains), user@host, user@.domain, user@*, *.
    #[test]
    fn plain_keys() {
        assert_eq!(
            plain_pattern("Example.COM"),
            Some((d("example.com"), false))
        );
        assert_eq!(
            plain_pattern(".example.com"),
            Some((sub("example.com"), false))
        );
        assert_eq!(plain_pattern("*"), Some((Pattern::Any, false)));
        assert_eq!(
            plain_pattern("a@example.com"),
            Some((d("example.com"), true))
        );
        assert_eq!(
            plain_pattern("a@.example.com"),
            Some((sub("example.com"), true))
        );
        assert_eq!(plain_pattern("a@*"), Some((Pattern::Any, true)));
        for bad in [
            "%",
            "..example.com",
            "*.example.com",
            "a@%",
            "exa mple.com",
            ".",
        ] {
            assert_eq!(plain_pattern(bad), None, "{bad}");
        }
    }

    #[test]
    fn covering() {
        assert!(Pattern::Any.covers(&sub("example.com")));
        assert!(sub("example.com").covers(&d("a.example.com")));
        assert!(sub("example.com").covers(&sub("a.example.com")));
        assert!(sub("example.com").covers(&sub("example.com")));
        assert!(!sub("example.com").covers(&d("example.com")));
        assert!(!sub("example.com").covers(&d("badexample.com")));
        assert!(!d("example.com").covers(&sub("example.com")));
        assert!(!d("example.com").covers(&Pattern::Any));
    }

    fn rules(table: &str, refile: bool, multiple: bool) -> (Vec<(String, Vec<String>)>, String) {
        let mut plan = Plan::default();
        for k in ["k1", "k2", "k3"] {
            plan.keys
                .push((k.into(), "example.com".into(), k.into(), "/k".into()));
        }
        let entries: Vec<String> = table.lines().map(str::to_string).collect();
        signing_rules(&entries, refile, multiple, &mut plan);
        let text = plan.render("OpenDKIM", "opendkim.conf");
        (plan.rules, text)
    }

    fn rule(from: &str, keys: &[&str]) -> (String, Vec<String>) {
        (from.into(), keys.iter().map(|k| k.to_string()).collect())
    }

    /// With MultipleSignatures every matching line signs: a rule holds the keys of every line
    /// whose pattern covers it, the most specific rule first.
    #[test]
    fn multiple_signatures_collect_every_covering_line() {
        let table = "* k3\n*@*.example.com k2\n*@example.com k1\n*@a.example.com k1\n";
        let (got, _) = rules(table, true, true);
        assert_eq!(
            got,
            [
                rule("example.com", &["k1", "k3"]),
                rule("a.example.com", &["k1", "k2", "k3"]),
                rule("*.example.com", &["k2", "k3"]),
                rule("*", &["k3"]),
            ]
        );
        // refile without it: file order, the first line of a pattern only
        let (got, text) = rules("* k3\n*@example.com k1\n*@example.com k2\n", true, false);
        assert_eq!(got, [rule("*", &["k3"]), rule("example.com", &["k1"])]);
        assert!(
            text.contains("SigningTable line *@example.com k2\n#       -> never used"),
            "{text}"
        );
    }

    /// OpenDKIM looks a `refile:` table up as user@host only, so a pattern without `@` or a
    /// wildcard (`example.org korg`) matches no address: a live OpenDKIM 2.11 did not sign.
    /// It became a rule from = "example.org" that signed.
    #[test]
    fn a_refile_pattern_without_at_never_matches() {
        let (got, text) = rules("example.org k1\n*@example.com k2\n", true, false);
        assert_eq!(got, [rule("example.com", &["k2"])], "{text}");
        assert!(
            text.contains("#   SigningTable line example.org k1\n#       -> never matches"),
            "{text}"
        );
        // alone, it left no rule, and without any rule each key signs its own domain
        let (got, text) = rules("example.org k1\n", true, false);
        assert_eq!(got, [rule("*", &[])], "{text}");
    }

    /// A user's line stands for its domain only when no line names the domain; the others
    /// are listed, never merged into the domain's rule.
    #[test]
    fn user_lines_never_widen_a_domains_rule() {
        let (got, text) = rules(
            "alice@example.com k2\nexample.com k1\nbob@example.org k1\ncarol@example.org k2\nexample.com k3\n",
            false,
            true,
        );
        assert_eq!(
            got,
            [rule("example.com", &["k1"]), rule("example.org", &["k1"])]
        );
        for line in [
            "alice@example.com k2",
            "carol@example.org k2",
            "example.com k3",
        ] {
            assert!(
                text.contains(&format!("#   SigningTable line {line}\n")),
                "{line}: {text}"
            );
        }
        assert!(
            text.contains("every address of example.org is signed with k1"),
            "{text}"
        );
    }
}
