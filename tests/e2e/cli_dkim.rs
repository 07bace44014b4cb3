//! The DKIM key tools as a user runs them: genkey, sign, verify, testkey, and the keys
//! genkey writes read by OpenSSL and Python `cryptography`.

use super::*;

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
    let generated = crate::support::genkey(&keys, "example.org", "s2026", "ed25519");
    let (key, out) = (generated.path, generated.printed);
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
    let testkey = |zone: &str| {
        let (code, out, err) = run_cli(
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
                zone,
            ],
            None,
        );
        (code, out, err)
    };
    let (code, out, err) = testkey(&zone);
    assert_eq!(code, 0, "{out}");
    assert!(!err.contains("warning"), "{err}");
    // a key group or others may read: testkey still checks it, and says that serve refuses it
    let mode = std::fs::metadata(&key).expect("key").permissions().mode();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let (code, _, err) = testkey(&zone);
    assert_eq!(code, 0);
    assert!(
        err.contains(
            "is readable by group or others (mode 0644); authmilter serve refuses such a key"
        ),
        "{err}"
    );
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(mode)).expect("chmod");
    let other = write(dir.path(), "zone2", b"s2026._domainkey.example.org TXT \"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\"\n");
    let (code, out, _) = testkey(&other);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("does not match"), "{out}");
}

/// A message saved from a mailbox starts with its mbox `From ` line, which is no header field
/// (the parser skips it): the DKIM-Signature goes below it, so the line stays the mbox
/// separator and the signature is in the header block (written above it, the signature ended
/// the header block and failed: body hash did not verify).
#[test]
fn dkim_sign_keeps_an_mbox_from_line_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let generated = crate::support::genkey(dir.path(), "example.org", "s1", "ed25519");
    let zone = write(
        dir.path(),
        "zone",
        format!("s1._domainkey.example.org TXT \"{}\"\n", generated.value()).as_bytes(),
    );
    for eol in ["\n", "\r\n"] {
        let msg = format!(
            "From alice@example.org Sat Dec  5 10:00:00 2026{eol}From: alice@example.org{eol}\
             Subject: hi{eol}{eol}body{eol}"
        );
        let path = write(dir.path(), "mbox.eml", msg.as_bytes());
        let (code, signed, err) = run_cli(
            &[
                "dkim",
                "sign",
                "--domain",
                "example.org",
                "--selector",
                "s1",
                "--key",
                generated.path.to_str().expect("utf-8"),
                &path,
            ],
            None,
        );
        assert_eq!(code, 0, "{err}");
        assert!(
            signed.starts_with(&format!(
                "From alice@example.org Sat Dec  5 10:00:00 2026{eol}DKIM-Signature: "
            )),
            "{signed:?}"
        );
        let signed_path = write(dir.path(), "signed.eml", signed.as_bytes());
        let (_, out, _) = run_cli(
            &["dkim", "verify", "--zone", &zone, "--json", &signed_path],
            None,
        );
        let v: serde_json::Value = serde_json::from_str(&out).expect("json");
        assert_eq!(v["signatures"][0]["result"], "pass", "{eol:?}: {out}");
    }
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
        let generated = crate::support::genkey(dir.path(), "example.org", selector, alg);
        let value = generated.value();
        let p = value
            .split("p=")
            .nth(1)
            .expect("p= in the printed record")
            .trim()
            .to_string();
        let published = base64::engine::general_purpose::STANDARD
            .decode(&p)
            .expect("p= is base64");
        let key = generated.path;
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

/// The message tools read their input whole: a file or stdin past 256 MiB (no mail system
/// passes such a message; Postfix's `message_size_limit` is 10 MB by default) is refused with
/// exit status 2 before it is read, instead of being read into memory without bound
/// (`yes | authmilter dkim verify` ran until the kernel killed it). The file here is sparse.
#[test]
fn message_tools_refuse_input_past_the_limit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let big = dir.path().join("big.eml");
    let f = std::fs::File::create(&big).expect("create");
    f.set_len(256 * 1024 * 1024 + 1).expect("sparse file");
    let path = big.to_str().expect("utf-8");
    let key = crate::support::genkey(dir.path(), "example.org", "s1", "ed25519").path;
    let key = key.to_str().expect("utf-8");
    for args in [
        vec!["dkim", "verify", path],
        vec!["arc", "verify", path],
        vec![
            "dkim",
            "sign",
            "--domain",
            "example.org",
            "--selector",
            "s1",
            "--key",
            key,
            path,
        ],
    ] {
        let (code, out, err) = run_cli(&args, None);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(err.contains("256 MiB"), "{args:?}: {err}");
    }
}
