//! What a new user hit (issue 14), one regression test each: the tools agree with the milter
//! and with the docs.

use std::path::Path;

use crate::support::run_cli;

fn write(dir: &Path, name: &str, content: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, content).expect("write");
    p.display().to_string()
}

/// An `[srs]` config with a fresh secret: SRS domain fwd.test.example, local domain
/// ours.example, excluded partner.example.
fn srs_config(dir: &Path) -> String {
    let (_, secret, _) = run_cli(&["srs", "secret"], None);
    let secrets = write(dir, "srs.secrets", secret.as_bytes());
    write(
        dir,
        "milter.toml",
        format!(
            "[srs]\ndomain = \"fwd.test.example\"\nsecrets = \"{secrets}\"\n\
             local_domains = [\"ours.example\"]\nexclude_domains = [\"partner.example\"]\n"
        )
        .as_bytes(),
    )
}

#[test]
fn srs_forward_leaves_local_and_excluded_domains_alone_like_the_milter() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = srs_config(dir.path());
    for (addr, why) in [
        ("alice@ours.example", "local_domains"),
        ("bob@partner.example", "exclude_domains"),
        ("carol@fwd.test.example", "our SRS domain"),
    ] {
        let (code, out, err) = run_cli(&["srs", "forward", addr, "-c", &cfg], None);
        assert_eq!(code, 0, "{err}");
        assert_eq!(out.trim(), addr, "{addr} must not be rewritten");
        assert!(err.contains(why), "{addr}: {err}");
    }
    let (code, out, _) = run_cli(
        &["srs", "forward", "dave@elsewhere.example", "-c", &cfg],
        None,
    );
    assert_eq!(code, 0);
    assert!(out.starts_with("SRS0="), "{out}");
}

#[test]
fn srs_notes_are_words_not_internal_names() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = srs_config(dir.path());
    for addr in ["no-domain", "<>", ""] {
        let (code, _, err) = run_cli(&["srs", "forward", addr, "-c", &cfg], None);
        assert_eq!(code, 0, "{addr}: {err}");
        assert!(err.starts_with("not rewritten: "), "{addr}: {err}");
        for internal in ["NoDomain", "NullSender", "OwnDomain", "NotRewritten"] {
            assert!(!err.contains(internal), "{addr}: {err}");
        }
    }
}

#[test]
fn srs_reverse_of_a_foreign_address_exits_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = srs_config(dir.path());
    let (_, fwd, _) = run_cli(&["srs", "forward", "alice@orig.example", "-c", &cfg], None);
    let fwd = fwd.trim();
    let (code, back, _) = run_cli(&["srs", "reverse", fwd, "-c", &cfg], None);
    assert_eq!((code, back.trim()), (0, "alice@orig.example"));
    // the same local part at someone else's domain is not ours to reverse
    let foreign = fwd.replace("@fwd.test.example", "@other.example");
    let (code, out, err) = run_cli(&["srs", "reverse", &foreign, "-c", &cfg], None);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("not an address of our SRS domain"), "{err}");
    let (code, _, _) = run_cli(&["srs", "reverse", "alice@example.org", "-c", &cfg], None);
    assert_eq!(code, 1);
}

#[test]
fn zone_option_reads_what_genkey_prints() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = dir.path().join("keys");
    for (alg, sel) in [("rsa", "r2026"), ("ed25519", "e2026")] {
        let generated = crate::support::genkey(&keys, "example.org", sel, alg);
        let out = generated.printed;
        // the BIND block as printed: `NAME. IN TXT ( "..." <newline><tab> "..." )`
        let entry: Vec<&str> = out
            .lines()
            .skip_while(|l| !l.contains(" IN TXT ("))
            .scan(false, |done, l| {
                if *done {
                    return None;
                }
                *done = l.trim_end().ends_with(')');
                Some(l)
            })
            .collect();
        let zone = write(
            dir.path(),
            &format!("{sel}.zone"),
            entry.join("\n").as_bytes(),
        );
        let key = generated.path.display().to_string();
        let (code, out, err) = run_cli(
            &[
                "dkim",
                "testkey",
                "--domain",
                "example.org",
                "--selector",
                sel,
                "--key",
                &key,
                "--zone",
                &zone,
            ],
            None,
        );
        assert_eq!(code, 0, "{alg}: {out}{err}");
        assert!(out.contains("key OK"), "{out}");
    }
    // a whole BIND-style file with $ORIGIN, $TTL, SOA, TTLs and classes
    let zone = write(
        dir.path(),
        "bind.zone",
        b"$ORIGIN example.net.\n$TTL 3600\n\
          @ IN SOA ns1 hostmaster ( 2026010101 3600 900\n  604800 300 )\n\
          \tIN NS ns1\n\
          @ 300 IN TXT \"v=spf1 ip4:192.0.2.0/24 -all\"\n",
    );
    let (code, out, err) = run_cli(
        &[
            "spf",
            "--ip",
            "192.0.2.1",
            "--mail-from",
            "a@example.net",
            "--zone",
            &zone,
            "--json",
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"result\": \"pass\""), "{out}");
}

#[test]
fn testkey_refuses_a_record_whose_h_tag_breaks_our_signatures() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = dir.path().join("k");
    let generated = crate::support::genkey(&keys, "example.org", "s1", "ed25519");
    let value = generated
        .value()
        .replace("k=ed25519;", "k=ed25519; h=sha1;");
    let zone = write(
        dir.path(),
        "z",
        format!("s1._domainkey.example.org TXT \"{value}\"\n").as_bytes(),
    );
    let key = generated.path.display().to_string();
    let (code, out, _) = run_cli(
        &[
            "dkim",
            "testkey",
            "--domain",
            "example.org",
            "--selector",
            "s1",
            "--key",
            &key,
            "--zone",
            &zone,
        ],
        None,
    );
    assert_eq!(code, 1, "{out}");
    assert!(!out.contains("key OK"), "{out}");
    assert!(
        out.contains("does not allow this hash") && out.contains("h="),
        "{out}"
    );
}

#[test]
fn dns_option_takes_host_and_port() {
    // A host name is resolved (localhost), as --help promises; nothing listens on port 9 of
    // loopback, so the query fails as DNS trouble, not as a bad argument.
    let (code, out, err) = run_cli(
        &[
            "spf",
            "--ip",
            "192.0.2.1",
            "--mail-from",
            "a@example.com",
            "--dns",
            "localhost:9",
            "--json",
        ],
        None,
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("temperror"), "{out}");
    let (code, _, err) = run_cli(
        &["spf", "--ip", "192.0.2.1", "--dns", "localhost:notaport"],
        None,
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--dns") && err.contains("port"), "{err}");
}

#[test]
fn genkey_refuses_names_that_cannot_work() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().to_str().expect("utf-8");
    for (domain, selector, says) in [
        ("example.org", "s_1", "not allowed"),
        ("example.org", "2026._domainkey.example.org", "_domainkey"),
        ("example.org", "s-", "'-'"),
        ("exa mple.org", "s1", "not allowed"),
        ("example", "s1", "one label"),
        ("example..org", "s1", "empty label"),
    ] {
        let (code, _, err) = run_cli(
            &[
                "dkim",
                "genkey",
                "--domain",
                domain,
                "--selector",
                selector,
                "--algorithm",
                "ed25519",
                "--out",
                out,
            ],
            None,
        );
        assert_ne!(code, 0, "{domain} {selector}");
        assert!(err.contains(says), "{domain} {selector}: {err}");
    }
    assert_eq!(
        std::fs::read_dir(out).expect("dir").count(),
        0,
        "no key was written"
    );
}

/// Addresses are copied from logs and SMTP sessions (`from=<alice@example.org>`, a quoted
/// local part, RFC 5321 §4.1.2): the tools take them in that form and give what the milter
/// gives, not an SRS address of `<alice` at `example.org>`.
#[test]
fn srs_tools_take_addresses_as_smtp_and_logs_write_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = srs_config(dir.path());
    let cli = |args: &[&str]| {
        let (code, out, err) = run_cli(&[args, &["-c", &cfg]].concat(), None);
        assert_eq!(code, 0, "{args:?}: {err}");
        out.trim().to_string()
    };
    let plain = cli(&["srs", "forward", "dave@elsewhere.example"]);
    assert_eq!(cli(&["srs", "forward", "<dave@elsewhere.example>"]), plain);
    assert_eq!(
        cli(&["srs", "reverse", &format!("<{plain}>")]),
        "dave@elsewhere.example"
    );
    let quoted = cli(&["srs", "forward", "\"john doe\"@elsewhere.example"]);
    assert!(
        quoted.starts_with("\"SRS0=")
            && quoted.ends_with("=elsewhere.example=john doe\"@fwd.test.example"),
        "{quoted}"
    );
    assert_eq!(
        cli(&["srs", "reverse", &quoted]),
        "\"john doe\"@elsewhere.example"
    );
}
