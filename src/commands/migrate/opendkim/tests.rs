//! The OpenDKIM migration's tests: key tables, signing tables, host lists and daemon names.

use super::*;

/// Migrates `conf` with `tables` ((path, text)) under a temporary root; returns the
/// rendered TOML, which must load.
fn migrated(conf: &str, tables: &[(&str, &str)]) -> String {
    super::super::tests::rendered(migrate, ("OpenDKIM", "opendkim.conf"), conf, tables).0
}

/// A SigningTable naming a key the KeyTable lacks (or whose entry could not be mapped),
/// a KeyTable name given twice, and lines without a key are reported, and the result
/// still loads.
#[test]
fn signing_table_keys_that_do_not_map_are_reported() {
    let toml = migrated(
        "KeyTable /kt\nSigningTable refile:/st\n",
        &[
            (
                "kt",
                "k1 example.com:s1:/k1.pem\nk1 example.org:s1:/k2.pem\npct %:s:/k3.pem\nnosel example.net::/k4.pem\n",
            ),
            (
                "st",
                "*@example.com k1\n*@example.org missing-key\n*@*.example.com pct\nlonely\n*@example.net nosel\n",
            ),
        ],
    );
    let comments: String = toml.lines().filter(|l| l.starts_with('#')).collect();
    for word in [
        "missing-key",
        "lonely",
        "example.org:s1:/k2.pem",
        "nosel",
        "pct",
    ] {
        assert!(comments.contains(word), "{word} not reported:\n{toml}");
    }
    assert_eq!(
        toml.lines().filter(|l| *l == "[[dkim.key]]").count(),
        1,
        "{toml}"
    );
}

/// The single-key form (Domain, Selector, KeyFile): missing parts, an unreadable domain
/// list and domains that cannot be d= are reported, not dropped.
#[test]
fn single_key_form_problems_are_reported() {
    let toml = migrated("Domain /nonexistent\nSelector s1\nKeyFile /k.pem\n", &[]);
    assert!(toml.contains("/nonexistent"), "{toml}");
    let toml = migrated("Domain example.com\nKeyFile /k.pem\n", &[]);
    assert!(toml.contains("#   Domain example.com"), "{toml}");
    assert!(toml.contains("#   KeyFile /k.pem"), "{toml}");
    let toml = migrated(
        "Domain *.example.com,example.org\nSelector s1\nKeyFile /k.pem\n",
        &[],
    );
    assert!(toml.contains("#   Domain entry *.example.com"), "{toml}");
    assert_eq!(
        toml.lines().filter(|l| *l == "[[dkim.key]]").count(),
        1,
        "{toml}"
    );
}

/// opendkim.conf(5) OmitHeaders: "*,+name" is the default list plus name. It became
/// sign_headers = ["*", "+List-Unsubscribe"], which signed only From.
#[test]
fn sign_headers_delta_is_applied_to_the_default_list() {
    let toml = migrated("SignHeaders *,+List-Unsubscribe\n", &[]);
    assert!(!toml.contains("sign_headers ="), "{toml}");
    assert!(toml.contains("SignHeaders *,+List-Unsubscribe"), "{toml}");
    let toml = migrated("SignHeaders *,-Date\n", &[]);
    let config = crate::config::Config::parse(&toml).unwrap();
    assert!(!config.dkim.sign_headers.is_empty(), "{toml}");
    assert!(
        !config.dkim.sign_headers.iter().any(|h| h == "Date"),
        "{toml}"
    );
    let toml = migrated("SignHeaders From,+To\n", &[]);
    assert!(
        toml.contains("#   SignHeaders From,+To\n#       -> "),
        "{toml}"
    );
}

/// opendkim(8) writes MacroList values `macro=value1|value2`; the code split on '|'
/// first and reported `daemon_name=MSA|ORIGINATING` as unmapped. `MTA` (opendkim.conf(5):
/// MTA names whose mail is signed) is the same as a daemon name and was "no equivalent".
#[test]
fn daemon_names_come_from_macro_list_and_mta() {
    let names = |conf: &str| {
        let toml = migrated(conf, &[]);
        let config = crate::config::Config::parse(&toml).unwrap();
        (config.outbound.daemon_names, toml)
    };
    let (got, toml) = names("MacroList daemon_name=MSA|ORIGINATING\n");
    assert_eq!(got, ["MSA", "ORIGINATING"], "{toml}");
    assert!(!toml.contains("#   MacroList"), "{toml}");
    let (got, toml) = names("MTA MSA\nMacroList {daemon_name}|ORIGINATING,{auth_type}\n");
    assert_eq!(got, ["MSA", "ORIGINATING"], "{toml}");
    assert!(
        toml.contains("#   MacroList entries {auth_type}\n"),
        "{toml}"
    );
    assert!(!toml.contains("#   MTA"), "{toml}");
    let (_, toml) = names("MacroList daemon_name\n");
    assert!(!toml.contains("daemon_names ="), "{toml}");
    assert!(toml.contains("#   MacroList daemon_name\n"), "{toml}");
}

/// `UserID` became `[server] user = "authmilter"`, which config check refuses ("no such
/// user") where that user does not exist, though the output must always pass it. It is a
/// note now: the example systemd unit runs authmilter as User=authmilter.
#[test]
fn user_id_is_a_note_not_a_user_key() {
    let toml = migrated("UserID opendkim:opendkim\n", &[]);
    let config = crate::config::Config::parse(&toml).unwrap();
    assert!(config.server.user.is_empty(), "{toml}");
    assert!(!toml.contains("\nuser = "), "{toml}");
    assert!(toml.contains("UserID opendkim:opendkim"), "{toml}");
    assert!(toml.contains("User=authmilter"), "{toml}");
}

/// OpenDKIM's defaults (opendkim.conf(5); 2.11's built-in InternalHosts list is 127.0.0.1
/// and ::1): no MacroList, no OversignHeaders. Unset, authmilter's defaults applied
/// silently: all of 127.0.0.0/8 internal, the daemon name ORIGINATING ours, oversigning.
#[test]
fn opendkims_defaults_are_written_or_listed() {
    let outbound = |toml: &str| {
        let config = crate::config::Config::parse(toml).unwrap();
        let nets: Vec<String> = config
            .outbound
            .internal_networks
            .iter()
            .map(|n| n.0.to_string())
            .collect();
        (nets, config.outbound.daemon_names, config.dkim.oversign)
    };
    let toml = migrated("Socket inet:8891@localhost\n", &[]);
    let (nets, names, oversign) = outbound(&toml);
    assert_eq!(nets, ["127.0.0.1/32", "::1/128"], "{toml}");
    assert!(names.is_empty(), "{toml}");
    // kept, and listed as a difference
    assert!(oversign, "{toml}");
    for setting in ["InternalHosts", "MacroList", "OversignHeaders"] {
        assert!(
            toml.contains(&format!("#   - {setting} is not set")),
            "{setting}: no note:\n{toml}"
        );
    }
    let toml = migrated(
        "InternalHosts 192.0.2.0/24\nMacroList daemon_name=MSA\nOversignHeaders From\n",
        &[],
    );
    let (nets, names, _) = outbound(&toml);
    assert_eq!(nets, ["192.0.2.0/24"], "{toml}");
    assert_eq!(names, ["MSA"], "{toml}");
    assert!(!toml.contains("is not set"), "{toml}");
}

/// The `[[dkim.signing]]` rules of a migrated configuration: (from, keys).
fn rules(toml: &str) -> Vec<(String, Vec<String>)> {
    let config = crate::config::Config::parse(toml).unwrap();
    config
        .dkim
        .signing
        .into_iter()
        .map(|r| (r.from, r.keys))
        .collect()
}

fn rule(from: &str, keys: &[&str]) -> (String, Vec<String>) {
    (from.into(), keys.iter().map(|k| k.to_string()).collect())
}

const KEYS: &str =
    "k1 example.com:s1:/k1.pem\nk2 example.com:s2:/k2.pem\nesp esp.example:s3:/esp.pem\n";

/// opendkim.conf(5) SigningTable: only the first match applies unless MultipleSignatures,
/// then all matches do. With MultipleSignatures, `*@example.com k1` and `* esp` signed
/// example.com with k1 only (and the setting was called unmapped, "all of them sign");
/// without it, two lines for one pattern were merged, so both keys signed.
#[test]
fn signing_table_honours_multiple_signatures() {
    let conf = "MultipleSignatures yes\nKeyTable /kt\nSigningTable refile:/st\n";
    let toml = migrated(conf, &[("kt", KEYS), ("st", "*@example.com k1\n* esp\n")]);
    assert_eq!(
        rules(&toml),
        [rule("example.com", &["k1", "esp"]), rule("*", &["esp"])],
        "{toml}"
    );
    assert!(!toml.contains("#   MultipleSignatures"), "{toml}");
    let conf = "KeyTable /kt\nSigningTable refile:/st\n";
    let toml = migrated(
        conf,
        &[("kt", KEYS), ("st", "*@example.com k1\n*@example.com k2\n")],
    );
    assert_eq!(rules(&toml), [rule("example.com", &["k1"])], "{toml}");
    assert!(
        toml.contains("*@example.com k2"),
        "the unused line is not mentioned:\n{toml}"
    );
}

/// A plain (non-refile) SigningTable is looked up user@host, host, user@.domain, .domain,
/// user@*, * (opendkim.conf(5)), not in file order: `* esp` before `example.com k1` signed
/// example.com with esp. `.example.com` (subdomains) and `%` aborted the migration with
/// "the migrated configuration does not load".
#[test]
fn plain_signing_table_follows_opendkims_lookup_order() {
    let conf = "KeyTable /kt\nSigningTable /st\n";
    let toml = migrated(conf, &[("kt", KEYS), ("st", "* esp\nexample.com k1\n")]);
    assert_eq!(
        rules(&toml),
        [rule("example.com", &["k1"]), rule("*", &["esp"])],
        "{toml}"
    );
    let toml = migrated(
        conf,
        &[
            ("kt", KEYS),
            (
                "st",
                "bob@* esp\n.example.com k1\n% k2\nalice@.example.org k2\n.a.example.com k2\n",
            ),
        ],
    );
    assert_eq!(
        rules(&toml),
        [
            rule("*.a.example.com", &["k2"]),
            rule("*.example.com", &["k1"]),
            rule("*.example.org", &["k2"]),
            rule("*", &["esp"]),
        ],
        "{toml}"
    );
    assert!(toml.contains("#   SigningTable line % k2"), "{toml}");
}
