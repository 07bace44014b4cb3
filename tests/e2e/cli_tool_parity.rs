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
