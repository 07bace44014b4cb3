//! Whatever the old configuration says, `migrate` prints a configuration that loads: a value
//! config check would refuse is listed as unmapped, never the reason the command fails.

use super::Files;
use super::output::Plan;

/// A program's migration (`opendkim::migrate`, `opendmarc::migrate`).
type Migrate = fn(&str, &Files) -> anyhow::Result<Plan>;

/// `conf` migrated by `migrate` with `tables` ((path, text)) under a temporary root, rendered
/// as `program`'s `file`: the TOML and the configuration it loads as (panics if it does not).
pub(super) fn rendered(
    migrate: Migrate,
    (program, file): (&str, &str),
    conf: &str,
    tables: &[(&str, &str)],
) -> (String, crate::config::Config) {
    let root = tempfile::tempdir().unwrap();
    for (path, text) in tables {
        std::fs::write(root.path().join(path), text).unwrap();
    }
    let files = Files {
        root: Some(root.path().to_path_buf()),
    };
    let toml = migrate(conf, &files).unwrap().render(program, file);
    match crate::config::Config::parse(&toml) {
        Ok(config) => (toml, config),
        Err(e) => panic!("{e:#}\n{toml}"),
    }
}

/// Tables with odd lines: duplicate key records, odd domains and selectors, odd patterns.
const TABLES: &[(&str, &str)] = &[
    (
        "kt",
        "k1 example.com:s1:/k1.pem\nk2 example.com:s1:/k2.pem\nk3 EXAMPLE.com.:S1:/k3.pem\n\
         k4 example.com:s;x:/k4.pem\nk5 \u{fc}.example:s:/k5.pem\nk6 example.com:\u{fc}:/k6\n\
         k7 *:s:/k7\nk8 example.org:a b:/k8\nk9 example.net:s9:relative\n",
    ),
    (
        "st",
        "% k1\n. k1\n* k1\n*@ k1\n@ k1\na@b@c k1\n.. k1\n*@*.* k1\nexample.com k9\n\
         *@example.com k1\n*@example.com k1\nexample.com k1\n.example.com k2\n",
    ),
    (
        "hosts",
        "0.0.0.0/0\n!0.0.0.0/0\n::/0\n[::1]\n!x\n256.1.1.1\n192.0.2.1/33\n",
    ),
];

/// Values that are out of range, malformed or odd for every kind of setting.
const ODD: &[&str] = &[
    "0",
    "-1",
    "100",
    "9999999999",
    "18446744073709551616",
    "x",
    "*",
    "%",
    "{",
    "}",
    "%s {",
    "a b",
    "\u{fc}",
    "xn--",
    ".",
    ",",
    "!",
    "[",
    "\"",
    "\\",
    "yes",
    "no",
    "HOSTNAME",
    "inet:0@localhost",
    "inet:99999@localhost",
    "inet:8891@localhost",
    "inet:8891@[::]",
    "local:",
    "local:relative",
    "local:/run/x.sock",
    "inet6:8891",
    "/kt",
    "/st",
    "/hosts",
    "refile:/st",
    "file:/hosts",
    "csl:",
    "0.0.0.0",
    "::",
    "127.0.0.1,x",
    "a|b",
    "=|",
    "daemon_name=",
    "daemon_name=A B|C",
    "relaxed/bogus",
    "t",
    "reject",
    "a\u{1}b",
    "a\rb",
    "\u{7f}",
    "local:/run/\u{1b}x",
    "\u{feff}",
];

const OPENDKIM: &[&str] = &[
    "Mode",
    "Socket",
    "Canonicalization",
    "OversignHeaders",
    "SignHeaders",
    "SignatureTTL",
    "MaximumSignaturesToVerify",
    "RequireSafeKeys",
    "AuthservID",
    "UserID",
    "Nameservers",
    "DNSTimeout",
    "InternalHosts",
    "MacroList",
    "MTA",
    "On-DNSError",
    "On-InternalError",
    "On-Default",
    "MultipleSignatures",
    "SubDomains",
    "KeyTable",
    "SigningTable",
    "Domain",
    "Selector",
    "KeyFile",
];

const OPENDMARC: &[&str] = &[
    "Socket",
    "AuthservID",
    "TrustedAuthservIDs",
    "UserID",
    "RejectFailures",
    "HoldQuarantinedMessages",
    "RejectMultiValueFrom",
    "IgnoreAuthenticatedClients",
    "IgnoreHosts",
    "IgnoreDomains",
    "IgnoreMailFrom",
    "SPFSelfValidate",
    "SPFIgnoreResults",
    "DNSTimeout",
    "RejectString",
];

/// Every mapped setting with every odd value, alone, twice, and next to a key setup:
/// "internal error: the migrated configuration does not load" (exit 2, no output) was
/// reachable with `DNSTimeout 0`, `MaximumSignaturesToVerify 100`, `SignatureTTL 9999999999`
/// and others.
#[test]
fn odd_values_never_make_an_output_that_does_not_load() {
    let root = tempfile::tempdir().unwrap();
    for (path, text) in TABLES {
        std::fs::write(root.path().join(path), text).unwrap();
    }
    let files = Files {
        root: Some(root.path().to_path_buf()),
    };
    let mut failures = Vec::new();
    for (program, names) in [("opendkim", OPENDKIM), ("opendmarc", OPENDMARC)] {
        for name in names.iter() {
            for value in ODD {
                let line = format!("{name} {value}\n");
                let confs = [
                    line.clone(),
                    format!("{line}{line}"),
                    format!(
                        "KeyTable /kt\nSigningTable refile:/st\nMultipleSignatures yes\n{line}"
                    ),
                    format!("KeyTable /kt\nSigningTable /st\n{line}"),
                    format!("Domain {value}\nSelector {value}\nKeyFile {value}\n{line}"),
                    format!("Socket inet:8891@localhost\nIgnoreAuthenticatedClients yes\n{line}"),
                ];
                for conf in confs {
                    let plan = match program {
                        "opendkim" => super::opendkim::migrate(&conf, &files),
                        _ => super::opendmarc::migrate(&conf, &files),
                    };
                    let toml = match plan {
                        Ok(plan) => plan.render(program, "x.conf"),
                        Err(e) => {
                            failures.push(format!("{program}: {conf:?}: {e:#}"));
                            continue;
                        }
                    };
                    if let Err(e) = crate::config::Config::parse(&toml) {
                        failures.push(format!("{program}: {conf:?}: {e:#}"));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// OpenDKIM's out-of-range values are listed with the reason, and the rest of the file is
/// still migrated (they aborted the whole migration).
#[test]
fn out_of_range_values_are_listed() {
    let files = Files { root: None };
    for (line, reason) in [
        ("DNSTimeout 0", "wait forever"),
        ("MaximumSignaturesToVerify 100", "at most 50"),
        ("SignatureTTL 9999999999", "36500d"),
    ] {
        let conf = format!("Canonicalization simple/simple\n{line}\n");
        let toml = super::opendkim::migrate(&conf, &files)
            .unwrap()
            .render("OpenDKIM", "opendkim.conf");
        crate::config::Config::parse(&toml).unwrap();
        let listed = format!("#   {line}\n#       -> ");
        let at = toml
            .find(&listed)
            .unwrap_or_else(|| panic!("{line} not listed:\n{toml}"));
        let why = toml.get(at + listed.len()..).and_then(|r| r.lines().next());
        assert!(why.is_some_and(|w| w.contains(reason)), "{line}: {why:?}");
        assert!(
            toml.contains("canonicalization = \"simple/simple\""),
            "{toml}"
        );
    }
}

/// OpenDKIM and OpenDMARC listen on the last `Socket` only (their configuration reader keeps
/// the last value of a setting; checked with both daemons): every `Socket` became a
/// `[[server.listen]]`, so authmilter listened where the old daemon did not.
#[test]
fn only_the_last_socket_listens() {
    let programs: [(Migrate, &str); 2] = [
        (super::opendkim::migrate, "OpenDKIM"),
        (super::opendmarc::migrate, "OpenDMARC"),
    ];
    for (migrate, program) in programs {
        let conf = "Socket local:/run/old/old.sock\nSocket inet:8891@localhost\n";
        let (toml, config) = rendered(migrate, (program, "x.conf"), conf, &[]);
        assert_eq!(config.server.listen.len(), 1, "{program}:\n{toml}");
        assert!(
            toml.contains("socket = \"inet:8891@localhost\""),
            "{program}:\n{toml}"
        );
        assert!(
            toml.contains("#   Socket local:/run/old/old.sock\n#       -> "),
            "{program}: the earlier Socket is not listed:\n{toml}"
        );
    }
}

/// `Socket inet:PORT` (libmilter: every interface; opendkim.conf(5)) keeps its port: Postfix's
/// smtpd_milters names it (OpenDMARC's 8893 is not authmilter's default 8891). The listener
/// is on loopback, and a note says what to set for an MTA on another host.
#[test]
fn a_socket_without_a_host_keeps_its_port() {
    let programs: [(Migrate, &str); 2] = [
        (super::opendkim::migrate, "OpenDKIM"),
        (super::opendmarc::migrate, "OpenDMARC"),
    ];
    for (migrate, program) in programs {
        for (conf, want) in [
            ("Socket inet:8893\n", "socket = \"inet:127.0.0.1:8893\""),
            ("Socket inet6:8893\n", "socket = \"inet:[::1]:8893\""),
        ] {
            let (toml, config) = rendered(migrate, (program, "x.conf"), conf, &[]);
            assert_eq!(config.server.listen.len(), 1, "{program}:\n{toml}");
            assert!(toml.contains(want), "{program}:\n{toml}");
            assert!(
                toml.contains("listened on every interface"),
                "{program}:\n{toml}"
            );
        }
    }
}

/// Without a Socket carried over (none in the file, as when it came from `-p`, or one not
/// understood), the listener still gets the role the old daemon's mode asks for: the default
/// listener is role "auto", which signed and never checked the mail of clients OpenDKIM in
/// `Mode v` and OpenDMARC verified.
#[test]
fn the_role_survives_a_socket_that_is_not_carried_over() {
    use crate::config::Role;
    for (migrate, program, conf) in [
        (super::opendkim::migrate as Migrate, "OpenDKIM", "Mode v\n"),
        (
            super::opendkim::migrate,
            "OpenDKIM",
            "Mode v\nSocket inet:notaport\n",
        ),
        (
            super::opendmarc::migrate,
            "OpenDMARC",
            "RejectFailures true\n",
        ),
        (
            super::opendmarc::migrate,
            "OpenDMARC",
            "Socket /run/x.sock\nRejectFailures true\n",
        ),
    ] {
        let (toml, config) = rendered(migrate, (program, "x.conf"), conf, &[]);
        assert_eq!(config.server.listen.len(), 1, "{program}:\n{toml}");
        assert_eq!(
            config.server.listen[0].role,
            Role::Verify,
            "{program}: {conf}\n{toml}"
        );
        assert!(toml.contains("no Socket could be carried over"), "{toml}");
    }
}

/// Booleans and comments are read as OpenDKIM and OpenDMARC read them: a boolean by its
/// first character (`Y`, `T`, `nope`), a `#` anywhere starting a comment.
#[test]
fn booleans_and_comments_are_read_as_the_daemons_read_them() {
    for (conf, enforce) in [
        ("RejectFailures Y\n", true),
        ("RejectFailures true#reject them\n", true),
        ("RejectFailures Nope\n", false),
        ("RejectFailures T\n", true),
    ] {
        let (toml, config) = rendered(
            super::opendmarc::migrate,
            ("OpenDMARC", "x.conf"),
            conf,
            &[],
        );
        assert_eq!(config.dmarc.enforce, enforce, "{conf}\n{toml}");
    }
    let (toml, config) = rendered(
        super::opendkim::migrate,
        ("OpenDKIM", "x.conf"),
        "Mode v#verify only\nSocket inet:8891@localhost#the old port\n",
        &[],
    );
    assert_eq!(
        config.server.listen[0].role,
        crate::config::Role::Verify,
        "{toml}"
    );
    assert!(toml.contains("socket = \"inet:8891@localhost\""), "{toml}");
}

/// Host-list entries the daemons never matched are not carried over (they would make
/// clients ours that OpenDKIM never signed for): an address with bits set past its prefix
/// (`192.168.0.1/24`, looked up with those bits cleared), and the bracketed form in a
/// `refile:` list (a regular expression there, `[` a character class); a plain address or
/// network in a `refile:` list matches as in a file (OpenDKIM looks the client up by
/// `a.b.c.d/N` keys, which the expression matches).
#[test]
fn host_list_entries_the_daemons_never_matched_are_listed() {
    let nets = |config: &crate::config::Config| -> Vec<String> {
        config
            .outbound
            .internal_networks
            .iter()
            .map(|n| n.0.to_string())
            .collect()
    };
    let (toml, config) = rendered(
        super::opendkim::migrate,
        ("OpenDKIM", "x.conf"),
        "Socket inet:8891@localhost\nInternalHosts /hosts\n",
        &[("hosts", "127.0.0.1\n192.168.0.1/24\n10.9.0.0/16\n")],
    );
    assert_eq!(nets(&config), ["127.0.0.1/32", "10.9.0.0/16"], "{toml}");
    assert!(
        toml.contains("192.168.0.1/24") && toml.contains("never matched"),
        "{toml}"
    );
    let (toml, config) = rendered(
        super::opendkim::migrate,
        ("OpenDKIM", "x.conf"),
        "Socket inet:8891@localhost\nInternalHosts refile:/hosts\n",
        &[(
            "hosts",
            "10.1.1.1\n[172.16.0.0]/12\n192.168.1.0/24\n2001:db8::/32\n",
        )],
    );
    assert_eq!(
        nets(&config),
        ["10.1.1.1/32", "192.168.1.0/24", "2001:db8::/32"],
        "{toml}"
    );
    assert!(
        toml.contains("[172.16.0.0]/12") && toml.contains("never matched"),
        "{toml}"
    );
}

/// OpenDKIM looks a client up by the text `inet_ntop` writes (`2001:dba:1::5`, lower case,
/// zeros compressed) and compares list entries with it: an IPv6 entry written another way
/// (`2001:0dba:01::/48`, `2001:db8:0:0:0:0:0:5`) never matched and is listed, not carried
/// over; upper case matches and is kept. A line `KEY VALUE` counts by its key, as OpenDKIM's
/// file loader splits it.
#[test]
fn host_list_entries_count_as_opendkim_compares_them() {
    let (toml, config) = rendered(
        super::opendkim::migrate,
        ("OpenDKIM", "x.conf"),
        "Socket inet:8891@localhost\nInternalHosts /hosts\n",
        &[(
            "hosts",
            "2001:0dba:01::/48\n2001:db8:0:0:0:0:0:5\n2001:DB9::/32\n10.8.0.5  trailing-data\n\
             ::192.0.2.1\n::c000:202\n10.0.0.05\n",
        )],
    );
    let nets: Vec<String> = config
        .outbound
        .internal_networks
        .iter()
        .map(|n| n.0.to_string())
        .collect();
    // glibc writes an IPv4-compatible address dotted (`::192.0.2.1`), and an IPv4 address
    // has no leading zeros
    assert_eq!(
        nets,
        ["2001:db9::/32", "10.8.0.5/32", "::c000:201/128"],
        "{toml}"
    );
    for entry in [
        "2001:0dba:01::/48",
        "2001:db8:0:0:0:0:0:5",
        "::c000:202",
        "10.0.0.05",
    ] {
        assert!(
            toml.contains(&format!(
                "InternalHosts entry {entry}\n#       -> OpenDKIM and OpenDMARC compare"
            )),
            "{entry} not listed:\n{toml}"
        );
    }
}

/// A KeyTable and SigningTable written inline as `csl:` lists take `key=value` entries
/// (opendkim(8), "DATA SETS"), as OpenDKIM signed with them: each becomes a key and a rule.
#[test]
fn csl_tables_take_key_value_entries() {
    let conf = "KeyTable csl:k1=example.com:s1:/k1.pem,k2=example.net:s2:/k2.pem\n\
                SigningTable csl:example.com=k1,example.net=k2\n";
    let (toml, config) = rendered(super::opendkim::migrate, ("OpenDKIM", "x.conf"), conf, &[]);
    let mut keys: Vec<(&str, &str)> = config
        .dkim
        .keys
        .iter()
        .map(|k| (k.domain.as_str(), k.selector.as_str()))
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [("example.com", "s1"), ("example.net", "s2")],
        "{toml}"
    );
    assert_eq!(config.dkim.signing.len(), 2, "{toml}");
    // spaces around `=` are trimmed, as OpenDKIM's csl reader trims them
    let conf = "KeyTable csl:k1 = example.com:s1:/k1.pem, k2=example.net:s2:/k2.pem\n\
                SigningTable csl:example.com = k1, example.net=k2\n";
    let (toml, config) = rendered(super::opendkim::migrate, ("OpenDKIM", "x.conf"), conf, &[]);
    assert_eq!(config.dkim.keys.len(), 2, "{toml}");
    assert!(
        config.dkim.signing.iter().all(|r| !r.keys.is_empty()),
        "{toml}"
    );
    // in a file table `=` is no separator: the key runs up to the first white space
    let conf = "KeyTable /kt\nSigningTable refile:/st\n";
    let tables = [
        ("kt", "k=1 example.com:s1:/k1.pem\n"),
        ("st", "*@example.com k=1\n"),
    ];
    let (toml, config) = rendered(
        super::opendkim::migrate,
        ("OpenDKIM", "x.conf"),
        conf,
        &tables,
    );
    assert_eq!(config.dkim.keys.len(), 1, "{toml}");
    assert_eq!(config.dkim.signing.len(), 1, "{toml}");
    assert!(!config.dkim.signing[0].keys.is_empty(), "{toml}");
}
