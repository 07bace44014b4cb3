//! The command-line tools as a user runs them: config check, spf, dkim genkey / sign /
//! verify / testkey, eval and srs, with DNS answered from a zone file (`--zone`).

use std::path::Path;
use std::process::{Command, Stdio};

use crate::support::{binary, message, run_cli};

#[path = "cli_config_cases.rs"]
mod config_cases;
#[path = "cli_config_parity.rs"]
mod config_parity;
#[path = "cli_dkim.rs"]
mod dkim;
#[path = "cli_dkim_names.rs"]
mod dkim_names;
#[path = "cli_preflight.rs"]
mod preflight;
#[path = "cli_tool_parity.rs"]
mod tool_parity;

fn write(dir: &Path, name: &str, content: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, content).expect("write");
    p.display().to_string()
}

#[test]
fn version_and_help() {
    let (code, out, _) = run_cli(&["--version"], None);
    assert_eq!(code, 0);
    assert!(out.starts_with("authmilter "), "{out}");
    let (code, out, _) = run_cli(&["--help"], None);
    assert_eq!(code, 0);
    for cmd in ["serve", "config", "spf", "dkim", "eval", "srs"] {
        assert!(out.contains(cmd), "{cmd} missing from --help:\n{out}");
    }
}

#[test]
fn config_check_prints_the_effective_config_or_names_the_bad_key() {
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/milter.toml");
    let (code, out, err) = run_cli(&["config", "check", "-c", sample], None);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("[server]") && out.contains("max_connections = 512"),
        "{out}"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = write(
        dir.path(),
        "bad.toml",
        b"[dmarc]\nenforce = true\nenforec = false\n",
    );
    let (code, _, err) = run_cli(&["config", "check", "-c", &bad], None);
    assert_ne!(code, 0);
    assert!(err.contains("enforec") && err.contains("line 3"), "{err}");
    let (code, _, err) = run_cli(&["config", "check", "-c", "/nonexistent/milter.toml"], None);
    assert_ne!(code, 0);
    assert!(err.contains("/nonexistent/milter.toml"), "{err}");
}

/// `config check` runs every check `serve` runs except binding: what serve would refuse,
/// config check refuses too, naming the problem.
#[test]
fn config_check_refuses_what_serve_refuses() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases: [(&str, String, &str); 5] = [
        (
            "missing key file",
            "[[dkim.key]]\ndomain = \"example.com\"\nselector = \"s\"\npath = \"/nonexistent/k.pem\"\n".into(),
            "/nonexistent/k.pem",
        ),
        (
            "bad canonicalization",
            "[dkim]\ncanonicalization = \"relaxed/strict\"\n".into(),
            "relaxed/strict",
        ),
        (
            "one socket twice",
            "[[server.listen]]\nsocket = \"inet:127.0.0.1:8891\"\n[[server.listen]]\nsocket = \"inet:127.0.0.1:8891\"\nrole = \"sign\"\n".into(),
            "already listener 0",
        ),
        (
            "a Unix socket in a missing directory",
            "[[server.listen]]\nsocket = \"unix:/nonexistent/dir/milter.sock\"\n".into(),
            "/nonexistent/dir does not exist",
        ),
        (
            "SRS secrets missing",
            "[srs]\nenabled = true\ndomain = \"fwd.example\"\nsecrets = \"/nonexistent/srs.secrets\"\n".into(),
            "/nonexistent/srs.secrets",
        ),
    ];
    for (what, text, needle) in cases {
        let path = write(dir.path(), "c.toml", text.as_bytes());
        let (code, _, err) = run_cli(&["config", "check", "-c", &path], None);
        assert_ne!(code, 0, "{what}: config check accepted it");
        assert!(err.contains(needle), "{what}: {err}");
    }
    // the two-listener example names keys that do not exist here: refused like serve would
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/milter-two-listeners.toml"
    );
    let (code, _, err) = run_cli(&["config", "check", "-c", example], None);
    assert_ne!(code, 0);
    assert!(
        err.contains("/etc/authmilter/keys/example.com.2026a.pem"),
        "{err}"
    );
}

#[test]
fn spf_prints_result_mechanism_and_lookups() {
    let dir = tempfile::tempdir().expect("tempdir");
    let zone = write(
        dir.path(),
        "zone",
        b"example.org TXT \"v=spf1 include:_spf.example.org -all\"\n\
          _spf.example.org TXT \"v=spf1 ip4:192.0.2.0/24 ~all\"\n\
          example.net TXT \"v=spf1 -all\" \n\
          exp.example.net TXT \"go away %{i}\"\n\
          example.com TXT \"v=spf1 -all exp=exp.example.net\"\n",
    );
    let (code, out, err) = run_cli(
        &[
            "spf",
            "--ip",
            "192.0.2.7",
            "--mail-from",
            "a@example.org",
            "--helo",
            "h.example",
            "--zone",
            &zone,
            "--json",
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["result"], "pass");
    assert_eq!(v["mechanism"], "include:_spf.example.org");
    assert_eq!(v["lookups"], 1);
    // fail with an explanation, exit status still 0
    let (code, out, _) = run_cli(
        &[
            "spf",
            "--ip",
            "192.0.2.7",
            "--mail-from",
            "a@example.com",
            "--zone",
            &zone,
            "--json",
        ],
        None,
    );
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["result"], "fail");
    assert_eq!(v["explanation"], "go away 192.0.2.7");
    // bad arguments: non-zero with a message
    let (code, _, err) = run_cli(&["spf", "--ip", "not-an-ip", "--mail-from", "a@b.c"], None);
    assert_ne!(code, 0);
    assert!(!err.is_empty());
}

/// RFC 8616 §4: U-labels in MAIL FROM (SMTPUTF8) or HELO are looked up as A-labels, as the
/// milter does; `authmilter spf` said `none` for them.
#[test]
fn spf_looks_up_u_label_domains_as_a_labels() {
    let dir = tempfile::tempdir().expect("tempdir");
    let zone = write(
        dir.path(),
        "zone",
        b"xn--bcher-kva.example TXT \"v=spf1 ip4:192.0.2.7 -all\"\n",
    );
    for identity in [
        &[
            "--mail-from",
            "j\u{f6}e@b\u{fc}cher.example",
            "--helo",
            "h.example",
        ][..],
        &["--helo", "B\u{fc}cher.example"][..],
    ] {
        let mut args = vec!["spf", "--ip", "192.0.2.7", "--zone", &zone, "--json"];
        args.extend_from_slice(identity);
        let (code, out, err) = run_cli(&args, None);
        assert_eq!(code, 0, "{err}");
        let v: serde_json::Value = serde_json::from_str(&out).expect("json");
        assert_eq!(v["result"], "pass", "{identity:?}: {out}");
        assert_eq!(v["domain"], "xn--bcher-kva.example", "{identity:?}: {out}");
    }
}

/// `[spf] reject_fail` refuses an SPF fail of a `p=none` domain: the DMARC record (what the
/// aggregate report holds) says the message was rejected, by local policy.
#[test]
fn eval_records_an_spf_rejection_as_a_local_policy_reject() {
    let dir = tempfile::tempdir().expect("tempdir");
    let zone = write(
        dir.path(),
        "zone",
        b"example.org TXT \"v=spf1 ip4:192.0.2.0/24 -all\"\n\
          _dmarc.example.org TXT \"v=DMARC1; p=none; rua=mailto:d@example.org\"\n",
    );
    let cfg = write(
        dir.path(),
        "milter.toml",
        b"[authres]\nauthserv_id = \"mx.test.example\"\n[spf]\nreject_fail = true\n",
    );
    let msg = write(
        dir.path(),
        "m.eml",
        &message(&["From: alice@example.org", "Subject: x", "", "hello"]),
    );
    let eval = |ip: &str| {
        let (code, out, err) = run_cli(
            &[
                "eval",
                &msg,
                "--ip",
                ip,
                "--helo",
                "x.example",
                "--mail-from",
                "alice@example.org",
                "--rcpt",
                "bob@example.net",
                "--zone",
                &zone,
                "-c",
                &cfg,
                "--json",
            ],
            None,
        );
        assert_eq!(code, 0, "{err}");
        serde_json::from_str::<serde_json::Value>(&out).expect("json")
    };
    let v = eval("198.51.100.1");
    assert_eq!(v["action"], "reject", "{v}");
    assert_eq!(v["dmarc"]["disposition"], "none", "{v}");
    assert_eq!(v["applied_disposition"], "reject", "{v}");
    assert_eq!(
        v["policy_overrides"][0], "local_policy (SPF fail rejected ([spf] reject_fail))",
        "{v}"
    );
    let v = eval("192.0.2.10");
    assert_eq!(v["action"], "accept", "{v}");
    assert_eq!(v["applied_disposition"], "none", "{v}");
    assert_eq!(
        v["policy_overrides"].as_array().map(Vec::len),
        Some(0),
        "{v}"
    );
}

/// `eval` prints values taken from the message (a broken signature's `d=` and `s=` as
/// written): a terminal escape or a CR in them must not reach the terminal as such.
#[test]
fn eval_text_output_escapes_control_characters_from_the_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let zone = write(dir.path(), "zone", b"example.org TXT \"v=spf1 -all\"\n");
    let msg = write(
        dir.path(),
        "m.eml",
        b"DKIM-Signature: v=1; a=rsa-sha256; d=evil\x1b[2Kbank.example; s=s\rsel; h=from; bh=; b=\r\nFrom: a@example.org\r\n\r\nbody\r\n",
    );
    let (code, out, err) = run_cli(
        &[
            "eval",
            &msg,
            "--ip",
            "192.0.2.10",
            "--mail-from",
            "a@example.org",
            "--zone",
            &zone,
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("dkim:   permerror"), "{out}");
    assert!(!out.bytes().any(|b| b == 0x1b || b == b'\r'), "{:?}", out);
    assert!(out.contains("evil\\u{1b}[2Kbank.example"), "{out}");
    // the other tools that print what a message says escape it alike
    let arc = write(
        dir.path(),
        "arc.eml",
        b"ARC-Seal: i=1; a=rsa-sha256; cv=none; d=example.org; s=sel; b=YWJj\r\nARC-Message-Signature: i=1; a=rsa-sha256; d=example.org; s=sel; h=from; bh=YWJj; b=YWJj\r\nARC-Authentication-Results: i=1; mx.example; dkim=pass header.d=evil\x1b[2Kbank.example\r\nFrom: a@example.org\r\n\r\nbody\r\n",
    );
    for args in [
        vec!["dkim", "verify", msg.as_str(), "--zone", zone.as_str()],
        vec!["arc", "verify", arc.as_str(), "--zone", zone.as_str()],
    ] {
        let (_, out, err) = run_cli(&args, None);
        assert!(
            !out.bytes().any(|b| b == 0x1b || b == b'\r'),
            "{args:?}: {out:?}"
        );
        if args[0] == "dkim" {
            assert!(out.contains("evil\\u{1b}[2K"), "{args:?}: {out} {err}");
        }
    }
}

#[test]
fn eval_shows_what_the_milter_would_do() {
    let dir = tempfile::tempdir().expect("tempdir");
    let zone = write(
        dir.path(),
        "zone",
        b"example.org TXT \"v=spf1 ip4:192.0.2.0/24 -all\"\n\
          _dmarc.example.org TXT \"v=DMARC1; p=reject\"\n\
          10.2.0.192.in-addr.arpa PTR mail.example.org\n\
          mail.example.org A 192.0.2.10\n",
    );
    let cfg = write(
        dir.path(),
        "milter.toml",
        b"[authres]\nauthserv_id = \"mx.test.example\"\n[dmarc]\nenforce = true\n",
    );
    let msg = write(
        dir.path(),
        "m.eml",
        &message(&["From: alice@example.org", "Subject: x", "", "hello"]),
    );
    // passing
    let (code, out, err) = run_cli(
        &[
            "eval",
            &msg,
            "--ip",
            "192.0.2.10",
            "--helo",
            "mail.example.org",
            "--mail-from",
            "alice@example.org",
            "--rcpt",
            "bob@example.net",
            "--zone",
            &zone,
            "-c",
            &cfg,
            "--json",
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["action"], "accept", "{out}");
    assert_eq!(v["spf"]["result"], "pass");
    assert_eq!(v["spf"]["domain"], "example.org");
    assert_eq!(v["dmarc"]["result"], "pass");
    assert_eq!(v["dmarc"]["domain"], "example.org");
    assert_eq!(v["dmarc"]["policy"], "reject");
    assert_eq!(v["dmarc"]["disposition"], "none");
    assert_eq!(v["iprev"]["result"], "pass");
    assert_eq!(v["dkim"].as_array().map(|a| a.len()), Some(0));
    assert!(v["smtp_reply"].is_null());
    let ar = v["authentication_results"].as_str().expect("A-R");
    assert!(
        ar.starts_with("mx.test.example;") && ar.contains("dmarc=pass"),
        "{ar}"
    );
    // failing: reject with our reply
    let (_, out, _) = run_cli(
        &[
            "eval",
            &msg,
            "--ip",
            "198.51.100.1",
            "--helo",
            "x.example",
            "--mail-from",
            "alice@example.org",
            "--rcpt",
            "bob@example.net",
            "--zone",
            &zone,
            "-c",
            &cfg,
            "--json",
        ],
        None,
    );
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["action"], "reject", "{out}");
    assert_eq!(v["dmarc"]["result"], "fail");
    assert_eq!(v["dmarc"]["disposition"], "reject");
    let reply = v["smtp_reply"].as_str().expect("reply");
    assert!(
        reply.starts_with("550 5.7.1") && reply.contains("example.org"),
        "{reply}"
    );
    // text output names each check and the action
    let (_, out, _) = run_cli(
        &[
            "eval",
            &msg,
            "--ip",
            "198.51.100.1",
            "--mail-from",
            "alice@example.org",
            "--zone",
            &zone,
            "-c",
            &cfg,
        ],
        None,
    );
    assert!(
        out.contains("Authentication-Results: mx.test.example;"),
        "{out}"
    );
    assert!(out.contains("action: reject (550 5.7.1"), "{out}");
}

#[test]
fn srs_secret_forward_reverse() {
    let (code, secret, _) = run_cli(&["srs", "secret"], None);
    assert_eq!(code, 0);
    let secret = secret.trim().to_string();
    assert!(secret.len() >= 32, "{secret}");
    let dir = tempfile::tempdir().expect("tempdir");
    let secrets = write(dir.path(), "srs.secrets", format!("{secret}\n").as_bytes());
    let cfg = write(
        dir.path(),
        "milter.toml",
        format!("[srs]\ndomain = \"fwd.test.example\"\nsecrets = \"{secrets}\"\n").as_bytes(),
    );
    let (code, fwd, err) = run_cli(&["srs", "forward", "alice@example.org", "-c", &cfg], None);
    assert_eq!(code, 0, "{err}");
    let fwd = fwd.trim();
    assert!(
        fwd.starts_with("SRS0=") && fwd.ends_with("@fwd.test.example"),
        "{fwd}"
    );
    let (code, back, _) = run_cli(&["srs", "reverse", fwd, "-c", &cfg], None);
    assert_eq!(code, 0);
    assert_eq!(back.trim(), "alice@example.org");
    let forged = fwd.replacen("SRS0=", "SRS0=x", 1);
    let (code, _, err) = run_cli(&["srs", "reverse", &forged, "-c", &cfg], None);
    assert_eq!(code, 1);
    assert!(!err.is_empty());
}

/// `srs forward` and `srs reverse` on arguments that are no address: an empty local part or
/// domain, or a control character (ESC, a line break; RFC 5321 §4.1.2 allows none, quoted
/// or not). They are refused with exit status 2 and a message that shows the argument
/// escaped; `forward` made "SRS0=...==@fwd.test.example" of "@" and wrote ESC and line breaks
/// to the terminal inside a quoted SRS address.
#[test]
fn srs_forward_and_reverse_refuse_what_is_no_address() {
    let (_, secret, _) = run_cli(&["srs", "secret"], None);
    let dir = tempfile::tempdir().expect("tempdir");
    let secrets = write(dir.path(), "srs.secrets", secret.as_bytes());
    let cfg = write(
        dir.path(),
        "milter.toml",
        format!("[srs]\ndomain = \"fwd.test.example\"\nsecrets = \"{secrets}\"\n").as_bytes(),
    );
    for bad in [
        "@",
        "alice@",
        "@example.org",
        "<@example.org>",
        "x\x1b[2J@evil.example",
        "a\nb@example.org",
        "alice@exa\rmple.org",
    ] {
        for cmd in ["forward", "reverse"] {
            let (code, out, err) = run_cli(&["srs", cmd, bad, "-c", &cfg], None);
            assert_eq!(code, 2, "{cmd} {bad:?}: {out}{err}");
            assert!(out.is_empty(), "{cmd} {bad:?}: {out:?}");
            assert!(err.contains("not an address"), "{cmd} {bad:?}: {err}");
            assert!(
                !err.chars().any(|c| c.is_control() && c != '\n')
                    && err.trim_end().lines().count() == 1,
                "{cmd} {bad:?}: {err:?}"
            );
        }
    }
    // the null sender is still an answer, not an error
    let (code, out, _) = run_cli(&["srs", "forward", "<>", "-c", &cfg], None);
    assert_eq!((code, out.trim()), (0, "<>"));
}

/// Numbers on the command line past any sensible range are refused with exit status 2 and a
/// message naming the option, never a panic: `check-domain --timeout 18446744073709551615`
/// overflowed the deadline's Instant, `bench --duration 1e300` the Duration conversion, and
/// `bench --per-connection 0` ran a benchmark of failures.
#[test]
fn out_of_range_numbers_are_refused_not_a_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let zone = write(dir.path(), "zone", b"example.com TXT \"v=spf1 -all\"\n");
    let corpus = dir.path().join("corpus");
    std::fs::create_dir(&corpus).expect("corpus");
    std::fs::write(corpus.join("1.eml"), b"From: a@example.com\n\nx\n").expect("message");
    let corpus = corpus.to_str().expect("utf-8");
    let bench = |extra: &[&str]| {
        let mut args = vec![
            "bench",
            "--target",
            "inet:127.0.0.1:9",
            "--corpus",
            corpus,
            "--count",
            "1",
        ];
        args.extend_from_slice(extra);
        run_cli(&args, None)
    };
    let cases = [
        (
            run_cli(
                &[
                    "check-domain",
                    "example.com",
                    "--zone",
                    &zone,
                    "--timeout",
                    "18446744073709551615",
                ],
                None,
            ),
            "--timeout",
        ),
        (bench(&["--duration", "1e300"]), "--duration"),
        (bench(&["--timeout", "1e300"]), "--timeout"),
        (bench(&["--per-connection", "0"]), "--per-connection"),
    ];
    for ((code, out, err), option) in cases {
        assert_eq!(code, 2, "{option}: {out}{err}");
        assert!(!err.contains("panicked"), "{option}: {err}");
        assert!(err.contains(option), "{option}: {err}");
    }
}

#[test]
fn check_domain_reports_problems_per_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = write(
        dir.path(),
        "good",
        b"example.com MX 10 mx.example.com\n\
          mx.example.com A 192.0.2.10\n\
          10.2.0.192.in-addr.arpa PTR mx.example.com\n\
          example.com TXT \"v=spf1 include:_spf.example.com -all\"\n\
          _spf.example.com TXT \"v=spf1 ip4:192.0.2.0/24 -all\"\n\
          _dmarc.example.com TXT \"v=DMARC1; p=reject; rua=mailto:dmarc@example.com\"\n\
          s1._domainkey.example.com TXT \"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\"\n",
    );
    let (code, out, err) = run_cli(
        &["check-domain", "example.com", "--zone", &good, "--json"],
        None,
    );
    assert_eq!(code, 0, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["errors"], 0, "{out}");
    assert_eq!(v["warnings"], 0, "{out}");
    assert_eq!(
        v["dkim"][0]["name"], "DKIM s1._domainkey.example.com",
        "{out}"
    );

    let bad = write(
        dir.path(),
        "bad",
        b"example.com TXT \"v=spf1 +all\"\n\
          example.com TXT \"v=spf1 -all\"\n\
          _dmarc.example.com TXT \"v=DMARC1; p=none\"\n",
    );
    let (code, out, _) = run_cli(
        &[
            "check-domain",
            "example.com",
            "--zone",
            &bad,
            "--selector",
            "missing",
        ],
        None,
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("more than one SPF record"), "{out}");
    assert!(out.contains("p=none"), "{out}");
    assert!(out.contains("no key record published"), "{out}");
}
