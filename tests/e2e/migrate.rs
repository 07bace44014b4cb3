//! `authmilter migrate`: golden outputs for Debian's shipped opendkim.conf and opendmarc.conf
//! and for a multi-domain setup (KeyTable, refile: SigningTable, host lists), each of which
//! `authmilter config check` accepts; every unmapped setting is commented with a reason.

use crate::support::run_cli;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/migrate");

fn migrate(program: &str, conf: &str, root: Option<&str>) -> String {
    let mut args = vec!["migrate", program, conf];
    if let Some(r) = root {
        args.extend(["--root", r]);
    }
    let (code, out, err) = run_cli(&args, None);
    assert_eq!(code, 0, "{err}");
    out
}

fn golden(out: &str, expected: &str) {
    let want = std::fs::read_to_string(expected).expect("golden file");
    assert!(
        out == want,
        "output differs from {expected} (regenerate it if the change is right):\n{out}"
    );
}

/// What migrate prints, `config check` accepts (on this machine: files it names must exist).
fn config_check_accepts(out: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("milter.toml");
    // no [server] user is written (`UserID` is a note), so this holds on a machine without
    // an "authmilter" user too
    // the socket directories exist only where the old daemons' packages are installed
    let sockets = format!("{}/", dir.path().display());
    let out = out
        .replace("/run/opendkim/", &sockets)
        .replace("/run/opendmarc/", &sockets);
    std::fs::write(&path, out).expect("write");
    let (code, _, err) = run_cli(
        &["config", "check", "-c", path.to_str().expect("utf-8")],
        None,
    );
    assert_eq!(code, 0, "{err}");
}

#[test]
fn debian_default_configs() {
    let dkim = migrate("opendkim", &format!("{DATA}/debian/opendkim.conf"), None);
    golden(&dkim, &format!("{DATA}/debian/opendkim.expected.toml"));
    config_check_accepts(&dkim);
    assert!(
        dkim.contains("canonicalization = \"relaxed/simple\""),
        "{dkim}"
    );
    assert!(
        dkim.contains("socket = \"local:/run/opendkim/opendkim.sock\""),
        "{dkim}"
    );
    assert!(
        dkim.contains("#   TrustAnchorFile /usr/share/dns/root.key\n#       -> "),
        "{dkim}"
    );
    let dmarc = migrate("opendmarc", &format!("{DATA}/debian/opendmarc.conf"), None);
    golden(&dmarc, &format!("{DATA}/debian/opendmarc.expected.toml"));
    config_check_accepts(&dmarc);
    assert!(dmarc.contains("role = \"verify\""), "{dmarc}");
}

#[test]
fn multi_domain_setup() {
    let root = format!("{DATA}/multi");
    let dkim = migrate(
        "opendkim",
        &format!("{root}/etc/opendkim.conf"),
        Some(&root),
    );
    golden(&dkim, &format!("{root}/opendkim.expected.toml"));
    // the keys it names live on the migrated machine, so `config check` cannot load them here;
    // the configuration must still parse and say what the old one said
    let config = authmilter::config::Config::parse(&dkim).expect("parses");
    assert_eq!(config.dkim.keys.len(), 4);
    let rules: Vec<(String, Vec<String>)> = config
        .dkim
        .signing
        .iter()
        .map(|r| (r.from.clone(), r.keys.clone()))
        .collect();
    assert_eq!(
        rules[0],
        (
            "example.com".into(),
            vec!["example.com-rsa".into(), "example.com-ed25519".into()]
        )
    );
    // most specific first, as OpenDKIM looks them up: the subdomain rule comes last
    assert_eq!(
        rules.last(),
        Some(&("*.example.com".into(), vec!["example.com-rsa".into()]))
    );
    assert_eq!(config.outbound.internal_networks.len(), 4);
    assert_eq!(config.outbound.daemon_names, ["ORIGINATING", "SUBMISSION"]);
    assert!(
        dkim.contains("InternalHosts entries localhost, mail.example.com"),
        "{dkim}"
    );
    let dmarc = migrate(
        "opendmarc",
        &format!("{root}/etc/opendmarc.conf"),
        Some(&root),
    );
    golden(&dmarc, &format!("{root}/opendmarc.expected.toml"));
    config_check_accepts(&dmarc);
    let config = authmilter::config::Config::parse(&dmarc).expect("parses");
    assert!(config.dmarc.enforce);
    assert_eq!(config.authres.trusted_ids.len(), 2);
    assert_eq!(config.policy.allow_networks.len(), 2);
}

#[test]
fn every_setting_is_mapped_or_commented() {
    // each setting of every input appears in the output: as a `# from` comment above its key,
    // or in the list of settings with no equivalent
    for (program, conf, root) in [
        ("opendkim", "debian/opendkim.conf", None),
        ("opendmarc", "debian/opendmarc.conf", None),
        ("opendkim", "multi/etc/opendkim.conf", Some("multi")),
        ("opendmarc", "multi/etc/opendmarc.conf", Some("multi")),
    ] {
        let path = format!("{DATA}/{conf}");
        let root = root.map(|r| format!("{DATA}/{r}"));
        let out = migrate(program, &path, root.as_deref());
        let text = std::fs::read_to_string(&path).expect("read");
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let name = line.split_whitespace().next().expect("name");
            let table_or_mode = [
                "KeyTable",
                "SigningTable",
                "Mode",
                "Domain",
                "Selector",
                "KeyFile",
                "SPFSelfValidate",
                "RequireSafeKeys",
                "SubDomains",
                "On-BadSignature",
                "On-NoSignature",
                "FailureReports",
                "SPFIgnoreResults",
            ];
            if table_or_mode.contains(&name) {
                continue; // mapped into [[dkim.key]]/[[dkim.signing]]/roles, or a default kept
            }
            assert!(
                out.contains(&format!(" {name} ")),
                "{conf}: {name} is neither mapped nor commented:\n{out}"
            );
        }
    }
}

#[test]
fn unknown_datasets_and_settings_are_commented_not_dropped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("opendkim.conf");
    std::fs::write(
        &conf,
        "KeyTable ldap://ldap.example.com/dc=example\nFrobnicate yes\nSignatureAlgorithm rsa-sha1\nSocket inet:8891@127.0.0.1\n",
    )
    .expect("write");
    let out = migrate("opendkim", conf.to_str().expect("utf-8"), None);
    assert!(
        out.contains(
            "KeyTable ldap://ldap.example.com/dc=example\n#       -> ldap: datasets are not read"
        ),
        "{out}"
    );
    assert!(
        out.contains("Frobnicate yes\n#       -> no equivalent"),
        "{out}"
    );
    assert!(out.contains("rsa-sha1 is forbidden by RFC 8301"), "{out}");
}

/// OpenDMARC `IgnoreDomains` becomes `[policy] allow_domains`, which takes domain names (each
/// covering its subdomains): an entry that is not one (`*.partner.example`) is reported as
/// unmapped, not written into a config that `config check` refuses.
#[test]
fn ignore_domains_entries_that_are_not_domains_are_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("opendmarc.conf");
    std::fs::write(
        &conf,
        "IgnoreDomains partner.example,*.other.example\nSocket inet:8893@127.0.0.1\n",
    )
    .expect("write");
    let out = migrate("opendmarc", conf.to_str().expect("utf-8"), None);
    assert!(
        out.contains("allow_domains = [\"partner.example\"]"),
        "{out}"
    );
    assert!(
        out.contains("IgnoreDomains entries *.other.example"),
        "{out}"
    );
    config_check_accepts(&out);
}

/// A boolean setting with a value that is not one (`RejectFailures maybe`: the daemons read a
/// value by its first character, t, y, 1 or f, n, 0) is reported, not read as "false" (which
/// would turn DMARC enforcement off without a word).
#[test]
fn unclear_booleans_are_reported_not_read_as_false() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("opendmarc.conf");
    std::fs::write(&conf, "RejectFailures maybe\nSPFSelfValidate perhaps\n").expect("write");
    let out = migrate("opendmarc", conf.to_str().expect("utf-8"), None);
    assert!(
        out.contains("RejectFailures maybe\n#       -> not a boolean"),
        "{out}"
    );
    assert!(!out.contains("enforce = false"), "{out}");
    assert!(
        out.contains("SPFSelfValidate perhaps\n#       -> not a boolean"),
        "{out}"
    );
    let conf = dir.path().join("opendkim.conf");
    std::fs::write(
        &conf,
        "RequireSafeKeys perhaps\nSocket inet:8891@127.0.0.1\n",
    )
    .expect("write");
    let out = migrate("opendkim", conf.to_str().expect("utf-8"), None);
    assert!(
        out.contains("RequireSafeKeys perhaps\n#       -> not a boolean"),
        "{out}"
    );
}

/// OpenDKIM's InternalHosts (and OpenDMARC's IgnoreHosts) take `!` entries that exclude
/// addresses from a wider network, the most specific entry winning (opendkim.conf(5),
/// PeerList). milter.toml has no negation: the excluded addresses are cut out of the networks
/// that contain them. Dropping the negation made `!192.168.1.5` internal (its mail signed as
/// ours) and an excluded host's mail never refused.
#[test]
fn host_list_negations_are_cut_out_of_the_networks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hosts = dir.path().join("hosts");
    std::fs::write(
        &hosts,
        "192.168.1.0/24\n!192.168.1.5\n10.0.0.0/8\n!10.1.0.0/16\n10.1.2.0/24\n\
         2001:db8::/32\n!2001:db8:1::/48\n!198.51.100.7\n\
         [198.18.0.0]/15\n![198.18.0.1]\n[2001:db8:ffff::1]\n",
    )
    .expect("write");
    let internal: &[(&str, bool)] = &[
        ("192.168.1.4", true),
        ("192.168.1.5", false),
        ("192.168.1.6", true),
        ("192.168.1.255", true),
        ("10.0.0.1", true),
        ("10.1.0.1", false),
        ("10.1.255.1", false),
        ("10.1.2.3", true),
        ("10.2.0.1", true),
        ("2001:db8::1", true),
        ("2001:db8:1::1", false),
        ("2001:db8:2::1", true),
        ("198.51.100.7", false),
        // OpenDKIM also matches addresses written in brackets (dkimf_checkip)
        ("198.18.0.1", false),
        ("198.18.0.2", true),
        ("198.19.255.255", true),
        ("2001:db8:ffff::1", true),
    ];
    for (program, setting, key) in [
        ("opendkim", "InternalHosts", "internal_networks"),
        ("opendmarc", "IgnoreHosts", "allow_networks"),
    ] {
        let conf = dir.path().join(format!("{program}.conf"));
        std::fs::write(
            &conf,
            format!(
                "{setting} {}\nSocket inet:8891@127.0.0.1\n",
                hosts.display()
            ),
        )
        .expect("write");
        let out = migrate(program, conf.to_str().expect("utf-8"), None);
        config_check_accepts(&out);
        let v: toml::Value = toml::from_str(&out).expect("toml");
        let section = if key == "internal_networks" {
            "outbound"
        } else {
            "policy"
        };
        let nets: Vec<ipnet::IpNet> = v[section][key]
            .as_array()
            .unwrap_or_else(|| panic!("{key} in {out}"))
            .iter()
            .map(|n| {
                let s = n.as_str().expect("string");
                s.parse::<ipnet::IpNet>()
                    .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .expect("network")
            })
            .collect();
        for (ip, want) in internal {
            let ip: std::net::IpAddr = ip.parse().expect("ip");
            assert_eq!(
                nets.iter().any(|n| n.contains(&ip)),
                *want,
                "{program} {ip}: {nets:?}\n{out}"
            );
        }
        assert!(!out.contains("entries !192.168.1.5"), "{out}");
        assert!(!out.contains("[198.18.0.0]/15\n#"), "{out}");
    }
}

/// OpenDKIM `Mode s` signs only mail from its InternalHosts, authenticated clients and
/// MacroList matches, and leaves other mail alone (opendkim.conf(5), Mode; "external host
/// tried to send mail as"). `role = "sign"` treats every message as ours and signs it: a
/// message from the internet with a forged From of our domain would leave with our
/// signature. `Mode s` maps to `role = "auto"`, which signs the same mail, with a note that
/// other mail is now verified (headers only unless [dmarc] enforce).
#[test]
fn mode_s_never_signs_mail_from_strangers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("opendkim.conf");
    std::fs::write(
        &conf,
        "Mode s\nSocket inet:8891@localhost\nDomain example.com\nSelector mail\nKeyFile /etc/opendkim/keys/mail.private\n",
    )
    .expect("write");
    let out = migrate("opendkim", conf.to_str().expect("utf-8"), None);
    let v: toml::Value = toml::from_str(&out).expect("toml");
    let roles: Vec<&str> = v["server"]["listen"]
        .as_array()
        .expect("listeners")
        .iter()
        .map(|l| l["role"].as_str().unwrap_or("auto"))
        .collect();
    assert_eq!(roles, ["auto"], "{out}");
    assert!(out.contains("Mode s"), "{out}");
    assert!(out.contains("other clients' mail"), "{out}");
    // Mode v stays verify-only
    std::fs::write(&conf, "Mode v\nSocket inet:8891@localhost\n").expect("write");
    let out = migrate("opendkim", conf.to_str().expect("utf-8"), None);
    assert!(out.contains("role = \"verify\""), "{out}");
}

/// `authmilter migrate ... | head -1` on a configuration whose TOML is larger than the pipe
/// holds: the reader goes away while migrate writes, which ends it quietly as any Unix filter
/// (exit 128 + SIGPIPE), as the other tools do; `print!` panicked with "failed printing to
/// stdout: Broken pipe".
#[test]
fn migrate_piped_into_head_ends_quietly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("opendkim.conf");
    let text: String = (0..5000).map(|i| format!("Frobnicate{i} yes\n")).collect();
    std::fs::write(&conf, text).expect("write");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "'{}' migrate opendkim '{}' | head -1",
            crate::support::binary().display(),
            conf.display()
        ))
        .output()
        .expect("sh");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.is_empty(), "no message, no panic: {stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
}

/// OpenDMARC `IgnoreAuthenticatedClients true` skips DMARC for clients that logged in (our
/// users' submissions, unsigned yet, whose SPF fails from home). It was mapped to
/// `[outbound] authenticated = true` on listeners with role "verify", which ignores
/// [outbound]: with `RejectFailures true` our own users' mail from a p=reject domain was
/// refused. Those listeners now get role "auto" with only authenticated clients as ours
/// (no internal networks or daemon names that OpenDMARC did not skip).
#[test]
fn ignore_authenticated_clients_takes_effect() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("opendmarc.conf");
    std::fs::write(
        &conf,
        "Socket inet:8893@localhost\nRejectFailures true\nIgnoreAuthenticatedClients true\n",
    )
    .expect("write");
    let out = migrate("opendmarc", conf.to_str().expect("utf-8"), None);
    config_check_accepts(&out);
    let v: toml::Value = toml::from_str(&out).expect("toml");
    let listen = &v["server"]["listen"][0];
    assert_eq!(listen["role"].as_str(), Some("auto"), "{out}");
    assert_eq!(
        v["outbound"]["authenticated"].as_bool(),
        Some(true),
        "{out}"
    );
    assert_eq!(
        v["outbound"]["internal_networks"].as_array().map(Vec::len),
        Some(0),
        "{out}"
    );
    assert_eq!(
        v["outbound"]["daemon_names"].as_array().map(Vec::len),
        Some(0),
        "{out}"
    );
    // without it, every client's mail is checked, as OpenDMARC did
    std::fs::write(
        &conf,
        "Socket inet:8893@localhost\nIgnoreAuthenticatedClients false\n",
    )
    .expect("write");
    let out = migrate("opendmarc", conf.to_str().expect("utf-8"), None);
    assert!(out.contains("role = \"verify\""), "{out}");
    assert!(out.contains(" IgnoreAuthenticatedClients false"), "{out}");
}

/// OpenDKIM reads its files as bytes: a Latin-1 comment neither stops the migration nor loses
/// a table's keys. A table naming what is no regular file (a FIFO that would wait forever, a
/// device that never ends) is listed with the reason, at once.
#[test]
fn files_are_read_as_the_daemons_read_them_and_bounded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = |name: &str| dir.path().join(name);
    let key = path("k1.pem");
    std::fs::write(&key, b"not read by migrate").expect("key");
    let mut table = b"# Schl\xfcssel\n".to_vec();
    table.extend_from_slice(format!("k1 example.com:s1:{}\n", key.display()).as_bytes());
    std::fs::write(path("KeyTable"), table).expect("keytable");
    std::fs::write(path("SigningTable"), b"*@example.com k1\n").expect("signingtable");
    let fifo = path("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    let mut conf = b"# Schl\xfcssel f\xfcr alle\nMode sv\n".to_vec();
    conf.extend_from_slice(
        format!(
            "KeyTable file:{}\nSigningTable refile:{}\nInternalHosts {}\nExternalIgnoreList /dev/zero\n",
            path("KeyTable").display(),
            path("SigningTable").display(),
            fifo.display()
        )
        .as_bytes(),
    );
    std::fs::write(path("opendkim.conf"), conf).expect("conf");
    let out = migrate(
        "opendkim",
        path("opendkim.conf").to_str().expect("utf-8"),
        None,
    );
    assert!(out.contains("selector = \"s1\""), "{out}");
    assert!(out.contains("not a regular file"), "{out}");
}
