//! Signing (RFC 6376 §5, RFC 8463): sign then verify, determinism of RSA, over-signing,
//! folding, `l=`, `x=`, and error cases.

mod common;

use dkim::{
    Canonicalization, DkimResult, DnsKeyRecord, HeaderField, Reason, SignedHeaders, Signer,
    SignerConfig, Verifier,
};
use dns::memory::MemoryResolver;
use test_support::block_on;

const MESSAGE: &str = "From: Joe SixPack <joe@football.example.com>\r\n\
To: Suzie Q <suzie@shopping.example.net>\r\n\
Subject: Is dinner ready?\r\n\
Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n\
Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n\
X-Unsigned: yes\r\n\
\r\n\
Hi.\r\n\
\r\n\
We lost the game.  Are you hungry yet?\r\n\
\r\n\
Joe.\r\n\r\n\r\n";

const NOW: u64 = 1_700_000_000;

fn signer(key: &str, cfg: SignerConfig) -> Signer {
    Signer::from_pem(&common::read(&format!("keys/{key}")), cfg).unwrap()
}

fn resolver_for(s: &Signer) -> MemoryResolver {
    let r = MemoryResolver::new();
    let rec = DnsKeyRecord::for_key(s.key());
    r.add_txt_strings(
        &dkim::key_name(&s.config().selector, &s.config().domain),
        &rec.txt_strings()
            .into_iter()
            .map(String::into_bytes)
            .collect::<Vec<_>>(),
    );
    r
}

fn sign_and_verify(
    s: &Signer,
    message: &str,
    tamper: impl Fn(&str) -> String,
) -> dkim::SignatureResult {
    let header = dkim::sign_message(s, message.as_bytes(), NOW).unwrap();
    let signed = format!("{}{}", header.to_field(), message);
    let signed = tamper(&signed);
    let results = block_on(dkim::verify_message(
        &Verifier::default(),
        &resolver_for(s),
        signed.as_bytes(),
        NOW + 10,
    ));
    assert_eq!(results.len(), 1);
    results.into_iter().next().unwrap()
}

fn all_configs() -> Vec<SignerConfig> {
    let mut out = Vec::new();
    for hc in [Canonicalization::Simple, Canonicalization::Relaxed] {
        for bc in [Canonicalization::Simple, Canonicalization::Relaxed] {
            let mut c = SignerConfig::new("football.example.com", "sel");
            c.header_canon = hc;
            c.body_canon = bc;
            out.push(c);
        }
    }
    out
}

#[test]
fn rsa_and_ed25519_round_trip_in_all_canonicalizations() {
    for key in ["rsa2048.pem", "ed25519.pem"] {
        for cfg in all_configs() {
            let s = signer(key, cfg.clone());
            let r = sign_and_verify(&s, MESSAGE, str::to_string);
            assert_eq!(r.result, DkimResult::Pass, "{key} {cfg:?}: {r:?}");
            // One byte in the body.
            let r = sign_and_verify(&s, MESSAGE, |m| m.replace("hungry", "Hungry"));
            assert_eq!(r.reason, Some(Reason::BodyHashMismatch), "{key} {cfg:?}");
            // One byte in a signed header.
            let r = sign_and_verify(&s, MESSAGE, |m| m.replace("dinner", "Dinner"));
            assert_eq!(r.reason, Some(Reason::SignatureMismatch), "{key} {cfg:?}");
            // An unsigned header may change.
            let r = sign_and_verify(&s, MESSAGE, |m| {
                m.replace("X-Unsigned: yes", "X-Unsigned: no")
            });
            assert_eq!(r.result, DkimResult::Pass, "{key} {cfg:?}");
        }
    }
}

#[test]
fn oversigned_headers_cannot_be_added() {
    let s = signer(
        "ed25519.pem",
        SignerConfig::new("football.example.com", "sel"),
    );
    let r = sign_and_verify(&s, MESSAGE, |m| {
        m.replace("X-Unsigned", "Cc: evil@example.org\r\nX-Unsigned")
    });
    assert_eq!(r.result, DkimResult::Fail);
    let r = sign_and_verify(&s, MESSAGE, |m| {
        m.replace("X-Unsigned", "From: evil@example.org\r\nX-Unsigned")
    });
    assert_eq!(r.result, DkimResult::Fail);
    let header = dkim::sign_message(&s, MESSAGE.as_bytes(), NOW).unwrap();
    let v = header.value("");
    assert!(v.contains("h=from:from:"), "{v}");
}

/// RFC 8058 §4: a one-click unsubscribe needs List-Unsubscribe and List-Unsubscribe-Post
/// covered by the signature; both are signed by default when present.
#[test]
fn one_click_unsubscribe_fields_are_signed() {
    let s = signer(
        "ed25519.pem",
        SignerConfig::new("football.example.com", "sel"),
    );
    let msg = MESSAGE.replace(
        "X-Unsigned",
        "List-Unsubscribe: <https://football.example.com/u/1>\r\n\
         List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\nX-Unsigned",
    );
    let header = dkim::sign_message(&s, msg.as_bytes(), NOW).unwrap();
    let v = header.value("").replace(['\r', '\n', ' ', '\t'], "");
    assert!(
        v.contains(":list-unsubscribe:") && v.contains(":list-unsubscribe-post:"),
        "{v}"
    );
}

/// Date and Message-ID may be added after signing by the submission server when absent
/// (RFC 6409 §8.2, §8.3; Sendmail adds them on delivery, after its milters): listing an absent
/// one in `h=` would break the signature on every such message, so they are over-signed only
/// when present. Other absent over-signed fields (Subject, To, Cc...) stay listed.
#[test]
fn absent_date_and_message_id_are_not_over_signed() {
    let s = signer(
        "ed25519.pem",
        SignerConfig::new("football.example.com", "sel"),
    );
    let h_tag = |msg: &str| {
        let header = dkim::sign_message(&s, msg.as_bytes(), NOW).unwrap();
        let v = header.value("").replace(['\r', '\n', ' ', '\t'], "");
        v.split(';')
            .find_map(|t| t.strip_prefix("h="))
            .unwrap()
            .to_string()
    };
    let bare = MESSAGE
        .replace("Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n", "")
        .replace(
            "Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n",
            "",
        );
    let h = h_tag(&bare);
    assert!(!h.contains("date") && !h.contains("message-id"), "{h}");
    assert!(h.contains("subject:subject") && h.contains(":cc:"), "{h}");
    let h = h_tag(MESSAGE);
    assert!(
        h.contains("date:date") && h.contains("message-id:message-id"),
        "{h}"
    );
}

#[test]
fn rsa_signing_is_deterministic_and_matches_golden() {
    let s = signer(
        "rsa2048.pem",
        SignerConfig::new("football.example.com", "sel"),
    );
    let a = dkim::sign_message(&s, MESSAGE.as_bytes(), NOW).unwrap();
    let b = dkim::sign_message(&s, MESSAGE.as_bytes(), NOW).unwrap();
    assert_eq!(a, b);
    // Regenerate with DKIM_UPDATE_GOLDEN=1 (then check it with an independent verifier).
    if std::env::var_os("DKIM_UPDATE_GOLDEN").is_some() {
        std::fs::write(common::data("golden/rsa2048-relaxed.txt"), a.to_field()).unwrap();
    }
    let golden = String::from_utf8(common::read("golden/rsa2048-relaxed.txt")).unwrap();
    assert_eq!(a.to_field(), golden);
}

#[test]
fn folding_and_separators() {
    for key in ["rsa2048.pem", "ed25519.pem"] {
        let s = signer(key, SignerConfig::new("football.example.com", "sel"));
        let h = dkim::sign_message(&s, MESSAGE.as_bytes(), NOW).unwrap();
        let field = h.to_field();
        for line in field.split("\r\n") {
            assert!(line.len() <= 78, "{line:?} ({})", line.len());
        }
        let milter = h.value("\n");
        assert!(!milter.contains('\r'));
        assert!(milter.contains("\n\t"));
        assert_eq!(h.name(), "DKIM-Signature");
        // Milter form through HeaderField::from_milter gives the same field back.
        let back = HeaderField::new(
            b"DKIM-Signature".to_vec(),
            [&b" "[..], milter.as_bytes()].concat(),
        );
        assert_eq!(back, h.to_header_field());
    }
}

#[test]
fn body_length_and_expiry() {
    let mut cfg = SignerConfig::new("football.example.com", "sel");
    cfg.body_length = true;
    cfg.expiry = Some(3600);
    cfg.identity = Some("joe@sub.football.example.com".into());
    let s = signer("ed25519.pem", cfg);
    let h = dkim::sign_message(&s, MESSAGE.as_bytes(), NOW).unwrap();
    let sig = dkim::Signature::parse(h.to_header_field().value.as_slice()).unwrap();
    assert_eq!(sig.expiration, Some(NOW + 3600));
    assert_eq!(sig.timestamp, Some(NOW));
    assert!(sig.body_length.is_some());
    // With l=, appended text is not covered (RFC 6376 §8.2).
    let r = sign_and_verify(&s, MESSAGE, |m| format!("{m}appended\r\n"));
    assert_eq!(r.result, DkimResult::Pass);
    assert!(r.body_length.is_some());
    // After x=, expired.
    let signed = format!("{}{}", h.to_field(), MESSAGE);
    let res = block_on(dkim::verify_message(
        &Verifier::default(),
        &resolver_for(&s),
        signed.as_bytes(),
        NOW + 3601,
    ));
    assert_eq!(res[0].reason, Some(Reason::Expired));
}

/// RFC 6376 §3.5: x= "MUST be greater than" t=, so a zero lifetime (x= equal to t=, which
/// verifiers reject) is refused when the signer is made.
#[test]
fn zero_expiry_is_refused() {
    let mut cfg = SignerConfig::new("football.example.com", "sel");
    cfg.expiry = Some(0);
    assert!(matches!(
        Signer::from_pem(&common::read("keys/ed25519.pem"), cfg),
        Err(dkim::DkimError::Config(_))
    ));
}

#[test]
fn errors() {
    let s = signer(
        "ed25519.pem",
        SignerConfig::new("football.example.com", "sel"),
    );
    assert!(matches!(
        dkim::sign_message(&s, b"To: a@b\r\n\r\nbody\r\n", NOW),
        Err(dkim::DkimError::NoFromHeader)
    ));
    let mut bad = SignerConfig::new("football.example.com", "sel");
    bad.identity = Some("joe@elsewhere.example".into());
    assert!(Signer::from_pem(&common::read("keys/ed25519.pem"), bad).is_err());
    assert!(
        Signer::from_pem(
            &common::read("keys/ed25519.pem"),
            SignerConfig::new("bad domain", "s")
        )
        .is_err()
    );
    let custom = SignerConfig {
        headers: SignedHeaders::Custom {
            sign: vec!["Subject".into()],
            oversign: vec![],
        },
        ..SignerConfig::new("football.example.com", "sel")
    };
    let s = signer("rsa2048.pem", custom);
    let h = dkim::sign_message(&s, MESSAGE.as_bytes(), NOW).unwrap();
    assert!(h.value("").contains("h=from:subject;"), "{}", h.value(""));
    // 1024-bit RSA keys are refused at load time.
    let err = Signer::from_pem(
        &common::read("rfc-examples/rfc8463-rsa-private.pem"),
        SignerConfig::new("football.example.com", "sel"),
    )
    .unwrap_err();
    assert!(err.to_string().contains("too small"), "{err}");
}

#[test]
fn streaming_session_equals_whole_message() {
    let s = signer(
        "rsa2048.pem",
        SignerConfig::new("football.example.com", "sel"),
    );
    let msg = dkim::parse_message(MESSAGE.as_bytes());
    let mut session = s.start();
    for chunk in msg.body.chunks(3) {
        session.body(chunk);
    }
    let streamed = session.finish(&msg.headers, NOW).unwrap();
    assert_eq!(
        streamed,
        dkim::sign_message(&s, MESSAGE.as_bytes(), NOW).unwrap()
    );
}

/// The `h=` list counts the fields of each candidate name whatever their case and with the
/// obsolete whitespace before the colon (RFC 5322 §1.2.2, §4.5.2; RFC 6376 §5.4: every
/// instance signed, an over-signed name listed once more), and the signature verifies.
#[test]
fn h_list_counts_fields_by_name_in_any_case_and_with_obsolete_whitespace() {
    let message = MESSAGE
        .replace(
            "Subject: Is dinner ready?\r\n",
            "SUBJECT: Is dinner ready?\r\nsubject \t: again\r\n",
        )
        .replace("To: Suzie", "to : Suzie");
    let custom = SignerConfig {
        headers: SignedHeaders::Custom {
            sign: vec!["Subject".into(), "TO".into()],
            oversign: vec!["to".into()],
        },
        ..SignerConfig::new("football.example.com", "sel")
    };
    let s = signer("ed25519.pem", custom);
    let h = dkim::sign_message(&s, message.as_bytes(), NOW).unwrap();
    let unfolded = h.value("").replace(['\t', ' '], "");
    assert!(
        unfolded.contains("h=from:subject:subject:to:to;"),
        "{unfolded}"
    );
    assert_eq!(
        sign_and_verify(&s, &message, |m| m.to_string()).result,
        DkimResult::Pass
    );
}
