//! The offline tools read their inputs as the milter reads MAIL FROM and RCPT TO, so each gives
//! `eval`'s answer (whose parity with the milter `eval_random` checks). Found by the seeded
//! differential of every tool against `eval --json` (audit 5).

use std::path::Path;

use crate::support::{message, run_cli};

fn write(dir: &Path, name: &str, content: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, content).expect("write");
    p.display().to_string()
}

fn json(args: &[&str]) -> serde_json::Value {
    let (code, out, err) = run_cli(args, None);
    assert_eq!(code, 0, "{args:?}: {err}");
    serde_json::from_str(&out).expect("json")
}

/// `spf --mail-from` took the argument with its `<` and `>` trimmed: a source route
/// (`<@relay:bounce@d>`, RFC 5321 §4.1.2 `Path`, which receivers ignore, §C) stayed in the
/// local part that `%{l}` expands to (RFC 7208 §7.3), and `""` (the quoted empty local part
/// SMTP writes for the null sender) was a sender of its own with domain `""`, where the milter
/// and eval check the null sender as `postmaster@<helo>` (RFC 7208 §2.4).
#[test]
fn spf_reads_mail_from_as_the_milter_does() {
    let dir = tempfile::tempdir().expect("tempdir");
    let zone = write(
        dir.path(),
        "zone",
        b"mac.example TXT \"v=spf1 exists:%{l}.x.mac.example exists:%{h}.h.mac.example -all\"\n\
          bounce.x.mac.example A 127.0.0.2\n\
          mail.evil.example.h.mac.example A 127.0.0.2\n\
          mail.evil.example A 198.51.100.7\n\
          mail.evil.example TXT \"v=spf1 a -all\"\n",
    );
    let cfg = write(
        dir.path(),
        "milter.toml",
        b"[authres]\nauthserv_id = \"mx.test.example\"\n",
    );
    let msg = write(
        dir.path(),
        "m.eml",
        &message(&["From: a@mac.example", "Subject: x", "", "hello"]),
    );
    let common = [
        "--ip",
        "198.51.100.7",
        "--helo",
        "mail.evil.example",
        "--zone",
        &zone,
        "-c",
        &cfg,
        "--json",
    ];
    for (sender, mechanism) in [
        (
            "<@relay.example:bounce@mac.example>",
            "exists:%{l}.x.mac.example",
        ),
        (
            "<@r1.example,@r2.example:bounce@mac.example>",
            "exists:%{l}.x.mac.example",
        ),
        ("\"\"", "a"),
        ("< bounce@mac.example >", "exists:%{l}.x.mac.example"),
    ] {
        let mut eval = vec!["eval", &msg, "--mail-from", sender];
        eval.extend_from_slice(&common);
        let eval = json(&eval)["spf"].clone();
        let mut spf = vec!["spf", "--mail-from", sender];
        spf.extend_from_slice(&common);
        let spf = json(&spf);
        assert_eq!(eval["mechanism"], mechanism, "{sender}: eval {eval}");
        for key in ["result", "domain", "mechanism", "explanation"] {
            assert_eq!(spf[key], eval[key], "{sender} {key}: spf {spf} eval {eval}");
        }
    }
}

/// The `[[dkim.key]]` block and zone of `ours.example` with the test key (for sealing).
fn sealing_world(dir: &Path) -> (String, String, String) {
    use std::os::unix::fs::PermissionsExt;
    let pem = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/crates/dkim/tests/data/keys/rsa2048.pem"
    );
    let key = dir.join("key.pem");
    std::fs::copy(pem, &key).expect("key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("mode");
    let signer = dkim::Signer::from_pem(
        &std::fs::read(&key).expect("key"),
        dkim::SignerConfig::new("ours.example", "s"),
    )
    .expect("signer");
    let txt: Vec<String> = dkim::DnsKeyRecord::for_key(signer.key())
        .txt_strings()
        .into_iter()
        .map(|s| format!("\"{s}\""))
        .collect();
    let zone = write(
        dir,
        "zone",
        format!(
            "ours.example TXT \"v=spf1 ip4:127.0.0.1 -all\"\n\
             _dmarc.ours.example TXT \"v=DMARC1; p=none\"\n\
             s._domainkey.ours.example TXT {}\n",
            txt.join(" ")
        )
        .as_bytes(),
    );
    let key = key.display().to_string();
    let cfg = write(
        dir,
        "milter.toml",
        format!(
            "[authres]\nauthserv_id = \"mx.test.example\"\n[arc]\nseal = true\n\
             [dkim]\nkey_check_interval = \"0s\"\nstate_file = \"\"\n\
             [[dkim.key]]\ndomain = \"ours.example\"\nselector = \"s\"\npath = \"{key}\"\n"
        )
        .as_bytes(),
    );
    (cfg, zone, key)
}

/// One tag of a folded field value, white space removed.
fn tag(field: &str, name: &str) -> Option<String> {
    let value = field.split_once(':').map_or(field, |(_, v)| v);
    value.split(';').find_map(|t| {
        let (k, v) = t.split_once('=')?;
        (k.trim() == name).then(|| v.split_whitespace().collect())
    })
}

/// `arc seal` refused a message whose header section ends in a line that is not a header
/// field ("malformed message"), while the MTA makes that line and the rest the body
/// (RFC 5322 §2.1: the header section is the lines of fields; docs/cli.md on eval) and the
/// milter seals it (RFC 8617 §5.1). The tool now seals it as the milter does: the same body
/// hash and fields, and the chain it writes validates in eval.
#[test]
fn arc_seal_seals_a_header_block_cut_short_as_the_milter_does() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cfg, zone, key) = sealing_world(dir.path());
    let raw = b"From: a@ours.example\r\nTo: b@elsewhere.example\r\nSubject: hi\r\n\
                not a header line\r\nDate: Sat, 5 Dec 2026 10:00:00 +0000\r\n\r\nbody\r\n";
    let msg = write(dir.path(), "m.eml", raw);
    let envelope = [
        "--ip",
        "127.0.0.1",
        "--mail-from",
        "a@ours.example",
        "--rcpt",
        "x@elsewhere.example",
        "--role",
        "forward",
        "--zone",
        &zone,
        "-c",
        &cfg,
        "--json",
    ];
    let mut eval = vec!["eval", &msg];
    eval.extend_from_slice(&envelope);
    let eval = json(&eval);
    let added: Vec<String> = eval["headers_added"]
        .as_array()
        .expect("headers_added")
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    let milter_ams = added
        .iter()
        .find(|h| h.starts_with("ARC-Message-Signature:"))
        .unwrap_or_else(|| panic!("the milter seals: {added:?}"));
    let (code, sealed, err) = run_cli(
        &[
            "arc",
            "seal",
            "--key",
            &key,
            "--domain",
            "ours.example",
            "--selector",
            "s",
            "--zone",
            &zone,
            "-c",
            &cfg,
            &msg,
        ],
        None,
    );
    assert_eq!(code, 0, "arc seal refused what the milter seals: {err}");
    let tool_ams: String = sealed
        .split("\r\n")
        .skip_while(|l| !l.starts_with("ARC-Message-Signature:"))
        .take_while(|l| l.starts_with("ARC-Message-Signature:") || l.starts_with([' ', '\t']))
        .collect();
    assert_eq!(tag(&tool_ams, "bh"), tag(milter_ams, "bh"), "{tool_ams}");
    // the milter's h= also names the DKIM-Signature it added before sealing
    let milter_h = tag(milter_ams, "h")
        .expect("h=")
        .replace(":dkim-signature", "");
    assert_eq!(tag(&tool_ams, "h"), Some(milter_h), "{tool_ams}");
    let out = write(dir.path(), "sealed.eml", sealed.as_bytes());
    let mut again = vec!["eval", &out];
    again.extend_from_slice(&envelope);
    assert_eq!(json(&again)["arc"]["result"], "pass");
}

/// `srs forward` decides as the milter does (its doc says so): an address typed as an MTA
/// hands it to the milter, with blanks inside the angle brackets or a source route (RFC 5321
/// §4.1.2 `Path`, ignored by §C), is the mailbox the milter reads (milter_proto
/// `Envelope::mailbox`, as `eval` takes it); it was rewritten with the blank or the route in
/// the SRS address. And a sender the milter and the socketmap leave alone, a broken SRS1
/// address of another forwarder, is printed unchanged with the reason (exit 0), not refused
/// as an error.
#[test]
fn srs_forward_takes_the_address_as_the_milter_does() {
    let (_, secret, _) = run_cli(&["srs", "secret"], None);
    let dir = tempfile::tempdir().expect("tempdir");
    let secrets = write(dir.path(), "srs.secrets", secret.as_bytes());
    let cfg = write(
        dir.path(),
        "milter.toml",
        format!("[srs]\ndomain = \"fwd.test.example\"\nsecrets = \"{secrets}\"\n").as_bytes(),
    );
    let forward = |typed: &str| {
        let (code, out, err) = run_cli(&["srs", "forward", typed, "-c", &cfg], None);
        assert_eq!(code, 0, "{typed:?}: {err}");
        (out.trim().to_string(), err)
    };
    let (plain, _) = forward("alice@example.org");
    assert!(plain.starts_with("SRS0=") && plain.ends_with("=example.org=alice@fwd.test.example"));
    for typed in [
        "< alice@example.org >",
        "<@relay.example:alice@example.org>",
        "<@a.example,@b.example:alice@example.org>",
    ] {
        assert_eq!(forward(typed).0, plain, "{typed:?}");
    }
    let (out, err) = forward("SRS1=X@other.example");
    assert_eq!(out, "SRS1=X@other.example");
    assert!(
        err.contains("not rewritten") && err.contains("SRS1"),
        "{err}"
    );
}

/// The string at `path` (keys and indexes joined by `/`) of a JSON document.
fn result_of(json: &str, path: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(json).expect("json");
    let mut node = &v;
    for key in path.split('/') {
        node = match key.parse::<usize>() {
            Ok(i) => &node[i],
            Err(_) => &node[key],
        };
    }
    node.as_str().unwrap_or_default().to_string()
}

/// An Ed25519 key for s1._domainkey.example.org, written in `dir`, and a zone file
/// publishing it: the key's path and the zone's.
fn signing_world(dir: &Path) -> (String, String) {
    let generated = crate::support::genkey(dir, "example.org", "s1", "ed25519");
    let zone = write(
        dir,
        "zone",
        format!("s1._domainkey.example.org TXT \"{}\"\n", generated.value()).as_bytes(),
    );
    let key = generated.path.to_str().expect("utf-8").to_string();
    (key, zone)
}

/// `dkim sign` of the file at `path` with `key` for example.org/s1 and `canon`; the output.
fn dkim_sign(key: &str, canon: &str, path: &str) -> String {
    let (code, signed, err) = run_cli(
        &[
            "dkim",
            "sign",
            "--domain",
            "example.org",
            "--selector",
            "s1",
            "--key",
            key,
            "--canonicalization",
            canon,
            path,
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    signed
}

/// `dkim verify --json` and `eval --json` (verify role) of the file at `path` with `zone`.
fn verify_and_eval(zone: &str, path: &str) -> (String, String) {
    let (_, verified, _) = run_cli(&["dkim", "verify", "--zone", zone, "--json", path], None);
    let (_, evaluated, err) = run_cli(
        &[
            "eval",
            "--ip",
            "192.0.2.1",
            "--role",
            "verify",
            "--zone",
            zone,
            "--json",
            path,
        ],
        None,
    );
    assert!(!evaluated.is_empty(), "{err}");
    (verified, evaluated)
}

/// `dkim sign` and `dkim verify` agree with the milter: a field written with white space before
/// its colon (`To :`, RFC 5322 §4.5.2) reaches the milter as `To` (Postfix and Sendmail drop
/// that white space, and Postfix queues `To:`: docs/dmarc.md), so under `c=simple` header
/// canonicalization (RFC 6376 §3.4.1, every byte counts) the tools must hash `To:` as the
/// milter does.
#[test]
fn dkim_tools_read_white_space_before_a_colon_as_the_milter_does() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (key, zone) = signing_world(dir.path());
    let msg = "From: alice@example.org\r\nTo  : bob@example.net\r\nSubject\t: hi\r\n\r\nbody\r\n";
    let path = write(dir.path(), "in.eml", msg.as_bytes());
    for canon in ["simple/simple", "relaxed/relaxed"] {
        let signed = dkim_sign(&key, canon, &path);
        // the message itself is written out unchanged, below the signature
        assert!(signed.ends_with(msg), "{signed:?}");
        let signed_path = write(dir.path(), "signed.eml", signed.as_bytes());
        let (verified, evaluated) = verify_and_eval(&zone, &signed_path);
        let tool = result_of(&verified, "signatures/0/result");
        let milter = result_of(&evaluated, "dkim/0/result");
        assert_eq!(
            tool, milter,
            "{canon}: dkim verify {verified}\neval {evaluated}"
        );
        assert_eq!(
            milter, "pass",
            "{canon}: the milter passes what the tool signed"
        );
    }
}

/// `dkim verify` spends the `max_signatures` budget as the milter does: signatures whose `d=`
/// could align with the From domain first (RFC 6376 §6.1 lets a verifier limit its work). With
/// ten junk signatures above the author's, the tool evaluated the first eight in header order
/// and said `permerror (too many signatures)` where the milter passes the author's.
#[test]
fn dkim_verify_budgets_signatures_as_the_milter_does() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (key, zone) = signing_world(dir.path());
    let msg = "From: alice@example.org\r\nTo: bob@example.net\r\nSubject: hi\r\n\r\nbody\r\n";
    let path = write(dir.path(), "in.eml", msg.as_bytes());
    let signed = dkim_sign(&key, "relaxed/relaxed", &path);
    let junk: String = (0..10)
        .map(|n| {
            format!(
                "DKIM-Signature: v=1; a=rsa-sha256; d=evil{n}.example; s=s; h=from; bh=AAAA; b=AAAA\r\n"
            )
        })
        .collect();
    let signed_path = write(
        dir.path(),
        "signed.eml",
        format!("{junk}{signed}").as_bytes(),
    );
    let (verified, evaluated) = verify_and_eval(&zone, &signed_path);
    for n in 0..11 {
        let at = format!("signatures/{n}/result");
        assert_eq!(
            result_of(&verified, &at),
            result_of(&evaluated, &format!("dkim/{n}/result")),
            "signature {n}: dkim verify {verified}\neval {evaluated}"
        );
    }
    assert_eq!(result_of(&verified, "signatures/10/result"), "pass");
}
