//! Signing behind a real Postfix (AUTHMILTER_E2E=1): a `sign` listener signs with RSA and
//! Ed25519 at once, and the next hop verifies.

use super::*;

#[test]
#[ignore = "needs AUTHMILTER_E2E=1"]
fn postfix_signs_through_a_sign_listener() {
    if !mta::enabled() {
        return;
    }
    let dir = mta::workdir("sign");
    let keys = dir.path().to_str().expect("utf-8 temp path").to_string();
    let mut records = String::new();
    for (selector, algorithm) in [("r1", "rsa"), ("e1", "ed25519")] {
        let out = mta::milter::cli(&[
            "dkim",
            "genkey",
            "--domain",
            "sign.example",
            "--selector",
            selector,
            "--algorithm",
            algorithm,
            "--out",
            &keys,
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        // the zone-file entry: "r1._domainkey.sign.example. IN TXT ( "..."" up to the line
        // that closes the parenthesis (long keys are split over several lines)
        let entry: Vec<&str> = out
            .lines()
            .skip_while(|l| !l.contains(" IN TXT "))
            .scan(false, |done, l| {
                if *done {
                    return None;
                }
                *done = l.trim_end().ends_with(')');
                Some(l)
            })
            .collect();
        assert!(
            entry.last().is_some_and(|l| l.trim_end().ends_with(')')),
            "genkey printed no complete TXT record:\n{out}"
        );
        records.push_str(&entry.join("\n"));
        records.push('\n');
    }
    records.push_str("_dmarc.sign IN TXT \"v=DMARC1; p=reject\"\n");
    let extra = "\
[dkim]
[[dkim.key]]
name = \"rsa\"
domain = \"sign.example\"
selector = \"r1\"
path = \"{dir}/sign.example.r1.pem\"

[[dkim.key]]
name = \"ed\"
domain = \"sign.example\"
selector = \"e1\"
path = \"{dir}/sign.example.e1.pem\"

[[dkim.signing]]
from = \"sign.example\"
keys = [\"rsa\", \"ed\"]
";
    let stack = Stack::start_in(
        dir,
        StackSpec {
            name: "sign",
            records,
            milter: MilterSpec {
                listeners: vec![
                    Listener::inet("out", "sign"),
                    Listener::inet("in", "verify"),
                ],
                socketmap: false,
                extra: extra.into(),
            },
            postfix: PostfixSpec {
                services: vec![
                    SmtpService::with_milter("submission", "{milter:out}"),
                    SmtpService::with_milter("in", "{milter:in}"),
                ],
                ..PostfixSpec::default()
            },
        },
    );
    let id = message_id("sign");
    let msg = compose(
        "Alice <alice@sign.example>",
        "Bob <bob@remote.example>",
        "signed by authmilter via Postfix",
        &id,
        &[],
    );
    let sub = stack.submit(
        "submission",
        "alice@sign.example",
        &["bob@remote.example"],
        &msg,
    );
    assert_accepted(&stack, &sub);
    let d = stack.delivered(&id);
    let m = d.message();
    let names = m.names();
    assert!(
        names.len() > 3
            && m.headers[0].is("DKIM-Signature")
            && m.headers[1].is("DKIM-Signature")
            && m.headers[2].is("Received"),
        "expected two DKIM-Signature headers on top, then Postfix's Received: {names:?}"
    );
    assert!(
        m.all("Authentication-Results").is_empty(),
        "a sign listener must not add Authentication-Results"
    );
    // Both signatures verify against the keys in DNS.
    let file = stack.dir.path().join("delivered-signed.eml");
    std::fs::write(&file, &d.data).expect("write the delivered message");
    let nsd = stack.nsd.addr().to_string();
    let path = file.to_str().expect("utf-8 temp path");
    let json = mta::milter::cli(&["dkim", "verify", "--json", "--dns", &nsd, path])
        .unwrap_or_else(|e| panic!("{e}"));
    let report: serde_json::Value = serde_json::from_str(&json).expect("verify --json output");
    let sigs = report["signatures"].as_array().expect("signatures array");
    assert_eq!(sigs.len(), 2, "{json}");
    for s in sigs {
        assert!(
            s["result"] == "pass" && s["domain"] == "sign.example",
            "a signature does not verify: {json}\n{}",
            stack.diagnostics()
        );
    }
    // Apart from the signatures and Postfix's Received, the message is byte for byte what
    // was submitted.
    let rest = m.without(|h| {
        h.is("DKIM-Signature")
            || (h.is("Received") && h.value.contains(&format!("by {AUTHSERV_ID} (Postfix)")))
    });
    assert_eq!(
        String::from_utf8_lossy(&rest),
        String::from_utf8_lossy(&msg),
        "the message was altered beyond the added headers"
    );
    // The signed copy, received again on an inbound (verify) service, passes DKIM and, by
    // alignment, DMARC (sign.example publishes p=reject and no SPF) ...
    let sub = stack.submit(
        "in",
        "bounces@sign.example",
        &["bob@remote.example"],
        &d.data,
    );
    assert_accepted(&stack, &sub);
    // ... while a copy whose signed Message-ID was changed on the way fails DKIM.
    let hop2 = message_id("sign-tampered");
    let tampered = String::from_utf8(d.data.clone())
        .expect("ASCII message")
        .replace(&id, &hop2)
        .into_bytes();
    let sub = stack.submit(
        "in",
        "bounces@sign.example",
        &["bob@remote.example"],
        &tampered,
    );
    assert_accepted(&stack, &sub);
    let relayed = stack.delivered_where("re-received signed message", |m| {
        m.contains(&id) && m.contains("Authentication-Results: mx.test.example;")
    });
    let ar = our_authres(&relayed);
    assert_eq!(ar.len(), 1, "{ar:?}");
    for part in [
        "dkim=pass",
        "header.d=sign.example",
        "header.s=r1",
        "header.s=e1",
        "header.a=ed25519-sha256",
        "dmarc=pass",
    ] {
        assert!(ar[0].contains(part), "{part} missing from {:?}", ar[0]);
    }
    assert!(!ar[0].contains("dkim=fail"), "{:?}", ar[0]);
    let ar = our_authres(&stack.delivered(&hop2));
    assert!(
        ar.len() == 1 && ar[0].contains("dkim=fail") && !ar[0].contains("dkim=pass"),
        "a changed signed header must fail DKIM: {ar:?}"
    );
    stack.assert_quiet_logs();
}
