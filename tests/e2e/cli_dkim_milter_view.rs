//! `dkim sign` and `dkim verify` agree with the milter, which `eval` runs offline: a field
//! written with white space before its colon (`To :`, RFC 5322 §4.5.2) reaches the milter as
//! `To` (Postfix and Sendmail drop that white space, and Postfix queues `To:`: docs/dmarc.md),
//! so under `c=simple` header canonicalization (RFC 6376 §3.4.1, every byte counts) the tools
//! must hash `To:` as the milter does.

use super::*;

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

#[test]
fn dkim_tools_read_white_space_before_a_colon_as_the_milter_does() {
    let dir = tempfile::tempdir().expect("tempdir");
    let generated = crate::support::genkey(dir.path(), "example.org", "s1", "ed25519");
    let zone = write(
        dir.path(),
        "zone",
        format!("s1._domainkey.example.org TXT \"{}\"\n", generated.value()).as_bytes(),
    );
    let msg = "From: alice@example.org\r\nTo  : bob@example.net\r\nSubject\t: hi\r\n\r\nbody\r\n";
    let path = write(dir.path(), "in.eml", msg.as_bytes());
    for canon in ["simple/simple", "relaxed/relaxed"] {
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
                "--canonicalization",
                canon,
                &path,
            ],
            None,
        );
        assert_eq!(code, 0, "{err}");
        // the message itself is written out unchanged, below the signature
        assert!(signed.ends_with(msg), "{signed:?}");
        let signed_path = write(dir.path(), "signed.eml", signed.as_bytes());
        let (_, verified, _) = run_cli(
            &["dkim", "verify", "--zone", &zone, "--json", &signed_path],
            None,
        );
        let (_, evaluated, err) = run_cli(
            &[
                "eval",
                "--ip",
                "192.0.2.1",
                "--role",
                "verify",
                "--zone",
                &zone,
                "--json",
                &signed_path,
            ],
            None,
        );
        let tool = result_of(&verified, "signatures/0/result");
        let milter = result_of(&evaluated, "dkim/0/result");
        assert_eq!(
            tool, milter,
            "{canon}: dkim verify {verified}\neval {evaluated} {err}"
        );
        assert_eq!(
            milter, "pass",
            "{canon}: the milter passes what the tool signed"
        );
    }
}
