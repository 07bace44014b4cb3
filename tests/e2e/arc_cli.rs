//! `authmilter arc verify` and `authmilter arc seal` as a user runs them: keys from
//! `dkim genkey`, DNS from a zone file (`--zone`), two hops (RSA, then Ed25519), text and JSON
//! output, a tampered body, a chain that already ended, and bad arguments.

use std::path::Path;

use crate::support::run_cli;

fn write(dir: &Path, name: &str, content: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, content).expect("write");
    p.display().to_string()
}

/// Generates a key with `dkim genkey` and returns its path and zone line.
fn genkey(dir: &Path, selector: &str, algorithm: &str) -> (String, String) {
    let path = crate::support::genkey(dir, "example.org", selector, algorithm).path;
    let pem = std::fs::read(&path).expect("key written");
    let signer = dkim::Signer::from_pem(&pem, dkim::SignerConfig::new("example.org", selector))
        .expect("key loads");
    let strings: Vec<String> = dkim::DnsKeyRecord::for_key(signer.key())
        .txt_strings()
        .iter()
        .map(|s| format!("\"{s}\""))
        .collect();
    let zone = format!(
        "{selector}._domainkey.example.org TXT {}\n",
        strings.join(" ")
    );
    (path.display().to_string(), zone)
}

const MESSAGE: &[u8] = b"From: Alice <alice@example.com>\r\n\
To: list@lists.example.net\r\n\
Subject: arc cli\r\n\
Date: Mon, 20 Nov 2023 10:00:00 +0000\r\n\
Message-ID: <arc-cli@example.com>\r\n\
\r\n\
Hello list,\r\n";

#[test]
fn arc_seal_and_verify_round_trip() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (rsa, rsa_zone) = genkey(dir.path(), "rsa", "rsa");
    let (ed, ed_zone) = genkey(dir.path(), "ed", "ed25519");
    let zone = write(
        dir.path(),
        "zone",
        format!("{rsa_zone}{ed_zone}").as_bytes(),
    );
    let plain = write(dir.path(), "plain.eml", MESSAGE);

    let (code, out, err) = run_cli(&["arc", "verify", "--zone", &zone, "--json", &plain], None);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["result"], "none");
    assert_eq!(v["authentication_results"], "arc=none");

    // hop 1: RSA, default AAR (our authserv-id and arc= result)
    let (code, hop1, err) = run_cli(
        &[
            "arc",
            "seal",
            &plain,
            "--key",
            &rsa,
            "--domain",
            "Example.org",
            "--selector",
            "rsa",
            "--authserv-id",
            "mx1.example.org",
            "--zone",
            &zone,
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("arc=none") && err.contains("added i=1 cv=none"),
        "{err}"
    );
    assert!(hop1.starts_with("ARC-Seal: i=1; a=rsa-sha256;"), "{hop1}");
    assert!(hop1.ends_with("Hello list,\r\n"));
    let hop1_path = write(dir.path(), "hop1.eml", hop1.as_bytes());
    let (code, out, err) = run_cli(
        &["arc", "verify", "--zone", &zone, "--json", &hop1_path],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["result"], "pass", "{out}");
    assert_eq!(v["instances"], 1);
    assert_eq!(v["oldest_pass"], 0);
    assert_eq!(v["sets"][0]["seal"]["domain"], "example.org");
    assert_eq!(v["sets"][0]["seal"]["result"], "pass");
    assert_eq!(v["sets"][0]["aar"]["authserv_id"], "mx1.example.org");
    assert_eq!(v["sets"][0]["aar"]["results"][0]["method"], "arc");
    assert_eq!(v["sets"][0]["aar"]["results"][0]["result"], "none");

    // hop 2: Ed25519 from stdin, our own --authres
    let (code, hop2, err) = run_cli(
        &[
            "arc",
            "seal",
            "-",
            "--key",
            &ed,
            "--domain",
            "example.org",
            "--selector",
            "ed",
            "--authres",
            "mx2.example.org; arc=pass; spf=pass smtp.mailfrom=alice@example.com",
            "--zone",
            &zone,
        ],
        Some(hop1.as_bytes()),
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("arc=pass") && err.contains("added i=2 cv=pass"),
        "{err}"
    );
    let (code, out, err) = run_cli(
        &["arc", "verify", "--zone", &zone, "-"],
        Some(hop2.as_bytes()),
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("arc=pass, 2 sets, oldest-pass=0\n"),
        "{out}"
    );
    assert!(
        out.contains("i=2 seal d=example.org s=ed a=ed25519-sha256 cv=pass: pass"),
        "{out}"
    );
    assert!(
        out.contains(
            "recorded: mx2.example.org; arc=pass; spf=pass smtp.mailfrom=alice@example.com"
        ),
        "{out}"
    );

    // `[arc] max_sets` of the configuration bounds the tool's chain as the milter's
    let small = write(dir.path(), "small.toml", b"[arc]\nmax_sets = 1\n");
    let (code, out, err) = run_cli(
        &["arc", "verify", "-c", &small, "--zone", &zone, "-"],
        Some(hop2.as_bytes()),
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("arc=fail (more than 1 ARC sets"), "{out}");

    // the body changed after hop 2
    let tampered = hop2.replacen("Hello list", "Hello lust", 1);
    let (_, out, _) = run_cli(
        &["arc", "verify", "--zone", &zone, "-"],
        Some(tampered.as_bytes()),
    );
    assert!(
        out.starts_with(
            "arc=fail (ARC-Message-Signature i=2 did not verify: body hash did not verify), 2 sets"
        ),
        "{out}"
    );
    // sealing it records the failure with cv=fail; after that the chain has ended
    let (code, hop3, err) = run_cli(
        &[
            "arc",
            "seal",
            "-",
            "--key",
            &rsa,
            "--domain",
            "example.org",
            "--selector",
            "rsa",
            "--zone",
            &zone,
        ],
        Some(tampered.as_bytes()),
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        hop3.starts_with("ARC-Seal: i=3;") && hop3.lines().next().unwrap().contains("cv=fail"),
        "{hop3}"
    );
    let (code, _, err) = run_cli(
        &[
            "arc",
            "seal",
            "-",
            "--key",
            &rsa,
            "--domain",
            "example.org",
            "--selector",
            "rsa",
            "--zone",
            &zone,
        ],
        Some(hop3.as_bytes()),
    );
    assert_eq!(code, 2, "docs/arc.md: a refusal is exit status 2");
    assert!(err.contains("chain ended at i=3 with cv=fail"), "{err}");
}

#[test]
fn arc_seal_keeps_lf_and_refuses_bad_input() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ed, ed_zone) = genkey(dir.path(), "ed", "ed25519");
    let zone = write(dir.path(), "zone", ed_zone.as_bytes());
    let lf = String::from_utf8(MESSAGE.to_vec())
        .unwrap()
        .replace("\r\n", "\n");
    let args = |extra: &[&'static str]| {
        let mut a = vec![
            "arc",
            "seal",
            "-",
            "--key",
            "KEY",
            "--domain",
            "example.org",
            "--selector",
            "ed",
            "--zone",
            "ZONE",
        ];
        a.extend_from_slice(extra);
        a
    };
    let run = |a: Vec<&str>, input: &str| {
        let a: Vec<&str> = a
            .into_iter()
            .map(|x| match x {
                "KEY" => ed.as_str(),
                "ZONE" => zone.as_str(),
                other => other,
            })
            .collect();
        run_cli(&a, Some(input.as_bytes()))
    };
    let (code, out, err) = run(args(&["--authserv-id", "mx.example.org"]), &lf);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains('\r'), "LF input stays LF");
    let (_, verdict, _) = run_cli(
        &["arc", "verify", "--zone", &zone, "-"],
        Some(out.as_bytes()),
    );
    assert!(
        verdict.starts_with("arc=pass, 1 set, oldest-pass=0"),
        "{verdict}"
    );

    let (code, _, err) = run(args(&["--authres", "spf=pass"]), &lf);
    assert_ne!(code, 0);
    assert!(err.contains("--authres"), "{err}");
    let (code, _, err) = run(args(&[]), "Subject: no from\n\nbody\n");
    assert_ne!(code, 0);
    assert!(err.contains("no From header field"), "{err}");
    let (code, _, err) = run_cli(
        &[
            "arc",
            "seal",
            "-",
            "--key",
            "/nonexistent.pem",
            "--domain",
            "example.org",
            "--selector",
            "s",
        ],
        Some(lf.as_bytes()),
    );
    assert_ne!(code, 0);
    assert!(err.contains("/nonexistent.pem"), "{err}");
}

/// A message saved from a mailbox starts with its mbox `From ` line, which is no header field:
/// the new ARC set goes below it, so the line stays the mbox separator and the set is in the
/// header block it signs (it was written above it, ending the header block there, and the
/// chain failed: body hash did not verify).
#[test]
fn arc_seal_keeps_an_mbox_from_line_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ed, zone) = genkey(dir.path(), "ed", "ed25519");
    let zone = write(dir.path(), "zone", zone.as_bytes());
    let mut mbox = b"From alice@example.com Mon Nov 20 10:00:00 2023\n".to_vec();
    mbox.extend_from_slice(&MESSAGE.replace_crlf());
    let input = write(dir.path(), "mbox.eml", &mbox);
    let (code, sealed, err) = run_cli(
        &[
            "arc",
            "seal",
            "--key",
            &ed,
            "--domain",
            "example.org",
            "--selector",
            "ed",
            "--authserv-id",
            "mx.example.org",
            "--zone",
            &zone,
            &input,
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        sealed.starts_with("From alice@example.com Mon Nov 20 10:00:00 2023\nARC-Seal: i=1;"),
        "{sealed}"
    );
    let path = write(dir.path(), "sealed.eml", sealed.as_bytes());
    let (_, out, err) = run_cli(&["arc", "verify", "--zone", &zone, "--json", &path], None);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {err}"));
    assert_eq!(v["result"], "pass", "{out}");
}

trait ReplaceCrlf {
    fn replace_crlf(&self) -> Vec<u8>;
}

impl ReplaceCrlf for [u8] {
    /// The message with LF line ends, as a mailbox file holds it.
    fn replace_crlf(&self) -> Vec<u8> {
        String::from_utf8_lossy(self)
            .replace("\r\n", "\n")
            .into_bytes()
    }
}

/// `arc verify` reads the fields as the MTA shows them to the milter, which `eval` runs
/// offline: `To  :` (white space before the colon, RFC 5322 §4.5.2) reaches the milter as `To`
/// (docs/dmarc.md), so a chain whose ARC-Message-Signature hashed `To  :` with
/// `c=simple/simple` (RFC 6376 §3.4.1: every byte of the name counts) fails in the milter, and
/// `arc verify` gave `pass` for the same file. (The fixture: tests/data/arc-cli/SOURCE.md.)
#[test]
fn arc_tools_read_white_space_before_a_colon_as_the_milter_does() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/arc-cli");
    let zone = data
        .join("white-space-before-colon.zone")
        .display()
        .to_string();
    let file = data
        .join("white-space-before-colon.eml")
        .display()
        .to_string();
    let (code, verified, err) = run_cli(&["arc", "verify", "--zone", &zone, "--json", &file], None);
    assert_eq!(code, 0, "{err}");
    let (code, evaluated, err) = run_cli(
        &[
            "eval",
            "--ip",
            "192.0.2.1",
            "--role",
            "verify",
            "--zone",
            &zone,
            "--json",
            &file,
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let tool: serde_json::Value = serde_json::from_str(&verified).expect("json");
    let milter: serde_json::Value = serde_json::from_str(&evaluated).expect("json");
    assert_eq!(
        milter["arc"]["result"], "fail",
        "the milter is shown To, which the signature did not hash: {evaluated}"
    );
    assert_eq!(
        tool["result"], milter["arc"]["result"],
        "arc verify: {verified}\neval: {evaluated}"
    );
    // the same chain over the field as the milter is shown it (To:) is one that was never
    // signed: the tool says why, as for any broken signature
    assert_eq!(
        tool["sets"][0]["message_signature"]["result"], "fail",
        "{verified}"
    );
}
