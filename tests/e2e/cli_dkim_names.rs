//! The names and paths genkey prints, as the other DKIM key tools take them: testkey, sign
//! and seal take the domain and selector as genkey writes them, testkey refuses several records
//! at the key name, and genkey prints an absolute, TOML-quoted key path.

use super::*;

/// `dkim testkey` takes the domain and selector as `genkey` does: an internationalized
/// domain is looked up under its A-label form (the name `genkey` printed the record for), in
/// any case and with a final dot; a selector or domain DNS cannot carry is refused (exit 2)
/// with a message naming the argument, not the key file.
#[test]
fn testkey_takes_the_names_genkey_takes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let generated = crate::support::genkey(dir.path(), "bücher.example", "s1", "ed25519");
    let key = dir.path().join("xn--bcher-kva.example.s1.pem");
    assert!(key.is_file(), "{}", generated.printed);
    let zone = write(
        dir.path(),
        "zone",
        format!(
            "s1._domainkey.xn--bcher-kva.example TXT \"{}\"\n",
            generated.value()
        )
        .as_bytes(),
    );
    let testkey = |domain: &str, selector: &str| {
        run_cli(
            &[
                "dkim",
                "testkey",
                "--domain",
                domain,
                "--selector",
                selector,
                "--key",
                key.to_str().expect("utf-8"),
                "--zone",
                &zone,
            ],
            None,
        )
    };
    for domain in ["bücher.example", "BÜCHER.example.", "xn--bcher-kva.example"] {
        let (code, out, err) = testkey(domain, "S1");
        assert_eq!(code, 0, "{domain}: {out}{err}");
        assert_eq!(
            out, "s1._domainkey.xn--bcher-kva.example: key OK\n",
            "{domain}"
        );
    }
    for (domain, selector, named) in [
        ("bücher.example", "s 1", "--selector"),
        ("bücher.example", "../s1", "--selector"),
        ("exa mple.com", "s1", "--domain"),
        ("", "s1", "--domain"),
    ] {
        let (code, out, err) = testkey(domain, selector);
        assert_eq!(code, 2, "{domain:?} {selector:?}: {out}{err}");
        assert!(err.contains(named), "{domain:?} {selector:?}: {err}");
        assert!(!err.contains("signer configuration"), "{err}");
    }
}

/// Several TXT records at the key name: RFC 6376 §3.6.2.2 leaves the result undefined, and
/// libopendkim refuses them all ("multiple DNS replies"), so every signature fails at such
/// verifiers. `testkey` says so and exits 1 even when one of them holds our key, as
/// `opendkim-testkey` does.
#[test]
fn testkey_refuses_several_records_at_the_key_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let generated = crate::support::genkey(dir.path(), "example.org", "s1", "ed25519");
    let zone = write(
        dir.path(),
        "zone",
        format!(
            "s1._domainkey.example.org TXT \"{}\"\n\
             s1._domainkey.example.org TXT \"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\"\n",
            generated.value()
        )
        .as_bytes(),
    );
    let (code, out, err) = run_cli(
        &[
            "dkim",
            "testkey",
            "--domain",
            "example.org",
            "--selector",
            "s1",
            "--key",
            generated.path.to_str().expect("utf-8"),
            "--zone",
            &zone,
        ],
        None,
    );
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("2 TXT records") && out.contains("keep exactly one"),
        "{out}"
    );
    assert!(!out.contains("key OK"), "{out}");
}
/// `dkim sign` and `arc seal` take --domain and --selector as `genkey` writes them: an
/// internationalized domain signs as its A-labels (`d=xn--bcher-kva.example`, the name
/// genkey published the key under), any case and a final dot are accepted, and a bad name
/// is refused naming the argument, not "<key file>: invalid signer configuration".
#[test]
fn sign_and_seal_take_the_names_genkey_takes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let generated = crate::support::genkey(dir.path(), "bücher.example", "s1", "ed25519");
    let key = dir.path().join("xn--bcher-kva.example.s1.pem");
    let key = key.to_str().expect("utf-8");
    let zone = write(
        dir.path(),
        "zone",
        format!(
            "s1._domainkey.xn--bcher-kva.example TXT \"{}\"\n",
            generated.value()
        )
        .as_bytes(),
    );
    let msg = write(
        dir.path(),
        "msg.eml",
        b"From: a@xn--bcher-kva.example\nSubject: hi\n\nbody\n",
    );
    for domain in ["bücher.example", "BÜCHER.Example."] {
        let (code, signed, err) = run_cli(
            &[
                "dkim",
                "sign",
                "--domain",
                domain,
                "--selector",
                "S1",
                "--key",
                key,
                &msg,
            ],
            None,
        );
        assert_eq!(code, 0, "{domain}: {err}");
        assert!(
            signed.contains("d=xn--bcher-kva.example; s=s1;"),
            "{signed}"
        );
        let signed = write(dir.path(), "signed.eml", signed.as_bytes());
        let (_, out, _) = run_cli(
            &["dkim", "verify", "--zone", &zone, "--json", &signed],
            None,
        );
        let v: serde_json::Value = serde_json::from_str(&out).expect("json");
        assert_eq!(v["signatures"][0]["result"], "pass", "{domain}: {out}");
        let (code, sealed, err) = run_cli(
            &[
                "arc",
                "seal",
                "--domain",
                domain,
                "--selector",
                "S1",
                "--key",
                key,
                "--authserv-id",
                "mx.example",
                "--zone",
                &zone,
                &msg,
            ],
            None,
        );
        assert_eq!(code, 0, "{domain}: {err}");
        assert!(
            sealed.contains("d=xn--bcher-kva.example; s=s1;"),
            "{sealed}"
        );
    }
    for (domain, selector, named) in [
        ("exa mple.org", "s1", "--domain"),
        ("bücher.example", "a b", "--selector"),
    ] {
        for cmd in [&["dkim", "sign"][..], &["arc", "seal", "--zone", &zone][..]] {
            let mut args = cmd.to_vec();
            args.extend([
                "--domain",
                domain,
                "--selector",
                selector,
                "--key",
                key,
                &msg,
            ]);
            let (code, _, err) = run_cli(&args, None);
            assert_eq!(code, 2, "{args:?}: {err}");
            assert!(err.contains(named), "{args:?}: {err}");
        }
    }
}

/// `genkey --out keys` (relative, as the default `.` is) printed `path = "keys/..."` for
/// milter.toml: `serve` reads it relative to its own working directory (`/` under systemd),
/// so the key was not found where `config check` in the shell found it. The block now holds
/// the absolute path, quoted as TOML needs (a `"` in a directory name broke the file).
#[test]
fn genkey_prints_an_absolute_toml_quoted_key_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(binary())
        .current_dir(dir.path())
        .args([
            "dkim",
            "genkey",
            "--domain",
            "example.org",
            "--selector",
            "s1",
            "--algorithm",
            "ed25519",
            "--out",
            "my \"keys\"",
        ])
        .output()
        .expect("run authmilter");
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{printed}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let block = printed
        .split("[[dkim.key]]")
        .nth(1)
        .and_then(|b| b.split("\n\n").next())
        .expect("the [[dkim.key]] block");
    let v: toml::Value = toml::from_str(block).unwrap_or_else(|e| panic!("{e}: {block}"));
    let path = std::path::PathBuf::from(v["path"].as_str().expect("path"));
    assert!(path.is_absolute(), "{block}");
    assert!(path.is_file(), "{}", path.display());
    assert_eq!(
        path,
        dir.path().join("my \"keys\"").join("example.org.s1.pem")
    );
}
