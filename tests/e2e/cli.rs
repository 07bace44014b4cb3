//! The command-line tools as a user runs them: config check, spf, dkim genkey / sign /
//! verify / testkey, eval and srs, with DNS answered from a zone file (`--zone`).

use std::path::Path;
use std::process::{Command, Stdio};

use crate::support::{binary, message, run_cli};

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

/// `genkey` arguments writing an Ed25519 key into `dir`.
fn genkey_args(dir: &Path) -> Vec<String> {
    let args = [
        "dkim",
        "genkey",
        "--domain",
        "example.org",
        "--selector",
        "s1",
    ];
    let mut v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    v.extend(["--algorithm", "ed25519", "--out"].map(String::from));
    v.push(dir.display().to_string());
    v
}

#[test]
fn a_tool_whose_reader_went_away_ends_quietly() {
    // The reader is gone before the tool writes its first line: every write meets EPIPE.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(binary())
        .args(genkey_args(dir.path()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run authmilter");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("authmilter finishes");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.is_empty(), "no message, no panic: {stderr}");
    assert_eq!(
        out.status.code(),
        Some(128 + 13),
        "128 + SIGPIPE, as a filter"
    );
    assert!(dir.path().join("example.org.s1.pem").is_file());
}

#[test]
fn genkey_piped_into_head_exits_quietly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let quoted: Vec<String> = std::iter::once(binary().display().to_string())
        .chain(genkey_args(dir.path()))
        .map(|a| format!("'{a}'"))
        .collect();
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("{} | head -1", quoted.join(" ")))
        .output()
        .expect("sh");
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().count(),
        1,
        "head printed one line"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.is_empty(), "no message, no panic: {stderr}");
}

#[test]
fn dkim_genkey_sign_verify_testkey_round_trip() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = dir.path().join("keys");
    let (code, out, err) = run_cli(
        &[
            "dkim",
            "genkey",
            "--domain",
            "example.org",
            "--selector",
            "s2026",
            "--algorithm",
            "ed25519",
            "--out",
            keys.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let key = keys.join("example.org.s2026.pem");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&key).expect("key").permissions().mode() & 0o777,
        0o600
    );
    assert!(
        out.contains("s2026._domainkey.example.org. IN TXT ("),
        "{out}"
    );
    let record = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("Value: "))
        .expect("web-form value")
        .to_string();
    assert!(record.starts_with("v=DKIM1; k=ed25519; p="), "{record}");
    // refuses to overwrite
    let (code, _, _) = run_cli(
        &[
            "dkim",
            "genkey",
            "--domain",
            "example.org",
            "--selector",
            "s2026",
            "--algorithm",
            "ed25519",
            "--out",
            keys.to_str().unwrap(),
        ],
        None,
    );
    assert_ne!(code, 0);

    let zone = write(
        dir.path(),
        "zone",
        format!("s2026._domainkey.example.org TXT \"{record}\"\n").as_bytes(),
    );
    let msg = message(&[
        "From: alice@example.org",
        "To: bob@example.net",
        "Subject: hi",
        "",
        "body",
    ]);
    let msg_path = write(dir.path(), "msg.eml", &msg);
    let (code, signed, err) = run_cli(
        &[
            "dkim",
            "sign",
            "--domain",
            "example.org",
            "--selector",
            "s2026",
            "--key",
            key.to_str().unwrap(),
            &msg_path,
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    assert!(signed.starts_with("DKIM-Signature: "), "{signed}");
    let signed_path = write(dir.path(), "signed.eml", signed.as_bytes());
    let (code, out, err) = run_cli(
        &["dkim", "verify", "--zone", &zone, "--json", &signed_path],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["signatures"][0]["result"], "pass", "{out}");
    assert_eq!(v["signatures"][0]["domain"], "example.org");
    assert_eq!(v["signatures"][0]["selector"], "s2026");
    assert_eq!(v["signatures"][0]["algorithm"], "ed25519-sha256");
    assert!(v["signatures"][0]["reason"].is_null());
    // stdin works too, and a changed body fails with a reason
    let tampered = signed.replace("body", "b0dy");
    let (_, out, _) = run_cli(
        &["dkim", "verify", "--zone", &zone, "--json", "-"],
        Some(tampered.as_bytes()),
    );
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["signatures"][0]["result"], "fail");
    assert!(
        v["signatures"][0]["reason"]
            .as_str()
            .unwrap_or("")
            .contains("body hash")
    );
    // unsigned message: empty list
    let (_, out, _) = run_cli(
        &["dkim", "verify", "--zone", &zone, "--json", &msg_path],
        None,
    );
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["signatures"].as_array().map(|a| a.len()), Some(0));
    // testkey: match, then mismatch
    let (code, out, _) = run_cli(
        &[
            "dkim",
            "testkey",
            "--domain",
            "example.org",
            "--selector",
            "s2026",
            "--key",
            key.to_str().unwrap(),
            "--zone",
            &zone,
        ],
        None,
    );
    assert_eq!(code, 0, "{out}");
    let other = write(dir.path(), "zone2", b"s2026._domainkey.example.org TXT \"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\"\n");
    let (code, out, _) = run_cli(
        &[
            "dkim",
            "testkey",
            "--domain",
            "example.org",
            "--selector",
            "s2026",
            "--key",
            key.to_str().unwrap(),
            "--zone",
            &other,
        ],
        None,
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("does not match"), "{out}");
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

/// `dkim genkey` writes keys other tools read: OpenSSL 3 (`openssl pkey`) and Python
/// `cryptography` load both the Ed25519 (PKCS#8 v1, RFC 8410) and the RSA key, and derive the
/// public key that genkey printed in `p=`.
#[test]
#[ignore = "needs AUTHMILTER_E2E=1"]
fn genkey_keys_load_in_openssl_and_python_cryptography() {
    use base64::Engine;
    if std::env::var_os("AUTHMILTER_E2E").is_none() {
        println!("skipped (set AUTHMILTER_E2E=1)");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    for (alg, selector, label) in [
        ("ed25519", "ed", "ED25519 Private-Key"),
        ("rsa", "rs", "Private-Key: (2048 bit"),
    ] {
        let (code, out, err) = run_cli(
            &[
                "dkim",
                "genkey",
                "--domain",
                "example.org",
                "--selector",
                selector,
                "--algorithm",
                alg,
                "--out",
                dir.path().to_str().unwrap(),
            ],
            None,
        );
        assert_eq!(code, 0, "{err}");
        let p = out
            .lines()
            .find_map(|l| l.trim().strip_prefix("Value: "))
            .and_then(|v| v.split("p=").nth(1))
            .expect("p= in the printed record")
            .trim()
            .to_string();
        let published = base64::engine::general_purpose::STANDARD
            .decode(&p)
            .expect("p= is base64");
        let key = dir.path().join(format!("example.org.{selector}.pem"));
        let text = std::process::Command::new("openssl")
            .args(["pkey", "-noout", "-text", "-in"])
            .arg(&key)
            .output()
            .expect("openssl is installed");
        assert!(
            text.status.success(),
            "{}",
            String::from_utf8_lossy(&text.stderr)
        );
        assert!(String::from_utf8_lossy(&text.stdout).contains(label));
        let spki = std::process::Command::new("openssl")
            .args(["pkey", "-pubout", "-outform", "DER", "-in"])
            .arg(&key)
            .output()
            .expect("openssl pkey -pubout");
        assert!(spki.status.success());
        if alg == "ed25519" {
            // RFC 8463 §4.2: p= is the raw key, the last 32 bytes of the SPKI.
            assert_eq!(&spki.stdout[spki.stdout.len() - 32..], &published[..]);
        } else {
            assert_eq!(spki.stdout, published);
        }
        let python = std::process::Command::new("python3")
            .args([
                "-c",
                "import sys\n\
                 try:\n    from cryptography.hazmat.primitives import serialization as s\n\
                 except ImportError:\n    print('no cryptography'); sys.exit(0)\n\
                 k = s.load_pem_private_key(open(sys.argv[1], 'rb').read(), None)\n\
                 sys.stdout.buffer.write(k.public_key().public_bytes(s.Encoding.DER, \
                 s.PublicFormat.SubjectPublicKeyInfo))",
            ])
            .arg(&key)
            .output();
        if let Ok(py) = python {
            assert!(
                py.status.success(),
                "{}",
                String::from_utf8_lossy(&py.stderr)
            );
            if py.stdout != b"no cryptography\n" {
                assert_eq!(py.stdout, spki.stdout, "python and openssl agree");
            }
        }
    }
}
