//! ARC behind a real Postfix (AUTHMILTER_E2E=1): a list message whose author's DKIM signature
//! the list broke (a footer), from a p=reject domain, is accepted when a trusted sealer
//! vouched for it and rejected when the sealer is not trusted; a forwarding listener seals
//! what it passes on, and the next hop (`authmilter arc verify` against the same DNS)
//! validates the chain.

use super::mta::{
    self, Listener, MilterSpec, PostfixSpec, SmtpService, Stack, StackSpec, message_id,
};

/// A key record as zone-file lines (strings of at most 255 octets).
fn record(owner: &str, key: &dkim::DnsKeyRecord) -> String {
    let strings: Vec<String> = key
        .txt_strings()
        .into_iter()
        .map(|s| format!("\"{s}\""))
        .collect();
    format!("{owner} IN TXT {}\n", strings.join(" "))
}

struct Setup {
    records: String,
    forwarded: Vec<u8>,
    id: String,
    keys: tempfile::TempDir,
}

/// author.example (p=reject) signs; lists.example checks it, adds a footer (breaking the
/// signature) and seals with its own key.
fn setup(name: &str) -> Setup {
    let keys = mta::workdir(&format!("{name}-keys"));
    let author = dkim::generate_key(dkim::KeyAlgorithm::Ed25519).expect("keygen");
    let list = dkim::generate_key(dkim::KeyAlgorithm::Rsa { bits: 2048 }).expect("keygen");
    let fwd = dkim::generate_key(dkim::KeyAlgorithm::Rsa { bits: 2048 }).expect("keygen");
    {
        use std::os::unix::fs::PermissionsExt;
        let path = keys.path().join("fwd.pem");
        std::fs::write(&path, fwd.private_key_pem.as_bytes()).expect("key");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    let mut records = String::from(
        "_dmarc.author  IN TXT  \"v=DMARC1; p=reject\"\n\
         author         IN TXT  \"v=spf1 -all\"\n",
    );
    records.push_str(&record("a1._domainkey.author", &author.record));
    records.push_str(&record("s._domainkey.lists", &list.record));
    records.push_str(&record("f._domainkey.fwd", &fwd.record));
    let id = message_id(name);
    let original = format!(
        "From: Alice <alice@author.example>\r\nTo: members@lists.example\r\n\
         Subject: meeting\r\nDate: Fri, 04 Dec 2026 10:00:00 +0000\r\nMessage-ID: {id}\r\n\r\nSee you at 10.\r\n"
    );
    let signer = dkim::Signer::from_pem(
        author.private_key_pem.as_bytes(),
        dkim::SignerConfig::new("author.example", "a1"),
    )
    .expect("signer");
    let mut modified = dkim::sign_message(&signer, original.as_bytes(), dkim::unix_now())
        .expect("sign")
        .to_field()
        .into_bytes();
    modified.extend_from_slice(original.as_bytes());
    modified.extend_from_slice(b"--\r\nmembers mailing list\r\n");
    let sealer = arc::Sealer::from_pem(
        list.private_key_pem.as_bytes(),
        arc::SealerConfig::new("lists.example", "s"),
    )
    .expect("sealer");
    // no chain yet: the seal does not need DNS
    let resolver = dns::memory::MemoryResolver::new();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (_, set) = rt
        .block_on(arc::seal_message(
            &arc::Verifier::default(),
            &sealer,
            &resolver,
            &modified,
            |_| {
                authres::AuthenticationResults::new("mx.lists.example").with(
                    authres::MethodResult::new("dmarc", "pass").with_property(
                        "header",
                        "from",
                        "author.example",
                    ),
                )
            },
            dkim::unix_now(),
        ))
        .expect("seal");
    let mut forwarded = set.to_fields("\r\n").into_bytes();
    forwarded.extend_from_slice(&modified);
    Setup {
        records,
        forwarded,
        id,
        keys,
    }
}

fn stack(name: &'static str, s: &Setup, arc: &str, role: &str, extra: &str) -> Stack {
    Stack::start(StackSpec {
        name,
        records: s.records.clone(),
        milter: MilterSpec {
            listeners: vec![Listener::inet("in", role)],
            socketmap: false,
            extra: format!("[dmarc]\nenforce = true\n[arc]\n{arc}\n{extra}"),
        },
        postfix: PostfixSpec {
            services: vec![SmtpService::with_milter("in", "{milter:in}")],
            ..PostfixSpec::default()
        },
    })
}

#[test]
#[ignore = "needs AUTHMILTER_E2E=1"]
fn postfix_trusted_sealer_rescues_a_list_message_and_an_untrusted_one_does_not() {
    if !mta::enabled() {
        return;
    }
    let s = setup("arc-trust");
    let trusted = stack(
        "arctrust",
        &s,
        "trusted_sealers = [\"lists.example\"]",
        "verify",
        "",
    );
    let sub = trusted.submit(
        "in",
        "bounce@lists.example",
        &["bob@remote.example"],
        &s.forwarded,
    );
    super::assert_accepted(&trusted, &sub);
    let d = trusted.delivered(&s.id);
    let ar: Vec<String> = d
        .message()
        .all("Authentication-Results")
        .into_iter()
        .filter(|v| v.starts_with("mx.test.example;"))
        .map(str::to_string)
        .collect();
    assert_eq!(ar.len(), 1, "{ar:?}");
    for part in [
        "arc=pass",
        "dkim=fail",
        "dmarc=fail",
        "trusted ARC sealer lists.example (i=1) recorded dmarc=pass header.from=author.example",
        "policy.override=trusted_forwarder",
    ] {
        assert!(ar[0].contains(part), "{part} missing from {}", ar[0]);
    }
    drop(trusted);

    let untrusted = stack("arcuntrust", &s, "trusted_sealers = []", "verify", "");
    let sub = untrusted.submit(
        "in",
        "bounce@lists.example",
        &["bob@remote.example"],
        &s.forwarded,
    );
    let end = sub.end.clone().expect("end of DATA");
    assert_eq!(end.code, 550, "{end}\n{}", untrusted.diagnostics());
}

#[test]
#[ignore = "needs AUTHMILTER_E2E=1"]
fn postfix_forwarding_listener_seals_and_the_next_hop_validates() {
    if !mta::enabled() {
        return;
    }
    let s = setup("arc-seal");
    let extra = format!(
        "[dkim]\n[[dkim.key]]\nname = \"fwd\"\ndomain = \"fwd.example\"\nselector = \"f\"\n\
         path = \"{}\"\n[[dkim.signing]]\nfrom = \"*\"\nkeys = [\"fwd\"]\n",
        s.keys.path().join("fwd.pem").display()
    );
    let st = stack(
        "arcseal",
        &s,
        "seal = true\ntrusted_sealers = [\"lists.example\"]",
        "forward",
        &extra,
    );
    let sub = st.submit(
        "in",
        "bounce@lists.example",
        &["bob@remote.example"],
        &s.forwarded,
    );
    super::assert_accepted(&st, &sub);
    let d = st.delivered(&s.id);
    let delivered = d.message();
    let names = delivered.names();
    assert_eq!(
        &names[..5],
        [
            "ARC-Seal",
            "ARC-Message-Signature",
            "ARC-Authentication-Results",
            "DKIM-Signature",
            "Authentication-Results"
        ],
        "{names:?}"
    );
    // the next hop validates the chain with the published keys
    let file = st.dir.path().join("sealed.eml");
    std::fs::write(&file, &d.data).expect("write");
    let nsd = st.nsd.addr().to_string();
    let json = mta::milter::cli(&[
        "arc",
        "verify",
        "--json",
        "--dns",
        &nsd,
        file.to_str().expect("path"),
    ])
    .unwrap_or_else(|e| panic!("{e}"));
    let v: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(v["result"], "pass", "{json}");
    assert_eq!(v["instances"], 2, "{json}");
}
