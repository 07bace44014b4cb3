//! Key tooling: generation with DNS record text (RFC 6376 §3.6.1) and the testkey check.

mod common;

use dkim::{DnsKeyRecord, KeyAlgorithm, TestKeyOutcome, generate_key, test_key};
use dns::memory::MemoryResolver;
use test_support::block_on;

#[test]
fn ed25519_generation_and_record() {
    let g = generate_key(KeyAlgorithm::Ed25519).unwrap();
    assert!(g.private_key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    let text = g.record.text();
    assert!(text.starts_with("v=DKIM1; k=ed25519; p="), "{text}");
    let parsed = dkim::KeyRecord::parse(text.as_bytes()).unwrap();
    assert_eq!(parsed.public_key.len(), 32);
}

#[test]
fn rsa_record_is_split_into_255_byte_strings() {
    let key = crypto::default_provider()
        .signing_key(&common::read("keys/rsa2048.pem"))
        .unwrap();
    let rec = DnsKeyRecord::for_key(&*key);
    let strings = rec.txt_strings();
    assert!(strings.len() >= 2);
    assert!(strings.iter().all(|s| s.len() <= 255));
    assert_eq!(strings.concat(), rec.text());
    let zone = rec.zone_entry("sel", "Example.com");
    assert!(
        zone.starts_with("sel._domainkey.example.com. IN TXT ( \""),
        "{zone}"
    );
    assert!(zone.ends_with("\" )"));
    // The zone entry, exactly as printed (class, parentheses, several lines), loads back into
    // a resolver (RFC 1035 §5 syntax) and round-trips through the key parser.
    let r = MemoryResolver::from_zone(&zone).unwrap();
    let outcome = block_on(test_key(&r, "sel", "example.com", &*key));
    assert_eq!(outcome, TestKeyOutcome::Match { testing: false });
}

#[test]
fn testkey_outcomes() {
    let key = crypto::default_provider()
        .signing_key(&common::read("keys/ed25519.pem"))
        .unwrap();
    let other = generate_key(KeyAlgorithm::Ed25519).unwrap();
    let r = MemoryResolver::new();
    let mut testing = DnsKeyRecord::for_key(&*key);
    testing.testing = true;
    r.add_txt("good._domainkey.example.com", testing.text());
    r.add_txt("other._domainkey.example.com", other.record.text());
    r.add_txt("revoked._domainkey.example.com", "v=DKIM1; k=ed25519; p=");
    r.add_txt("bad._domainkey.example.com", "v=DKIM1; k=ed25519; p");
    r.add_txt("rsa._domainkey.example.com", "v=DKIM1; k=rsa; p=AAAA");
    r.fail("slow._domainkey.example.com", dns::DnsError::Timeout);
    // the right key, restricted so that no ed25519-sha256 signature can verify with it
    let ours = DnsKeyRecord::for_key(&*key).text();
    r.add_txt(
        "sha1._domainkey.example.com",
        ours.replace("k=ed25519;", "k=ed25519; h=sha1;"),
    );
    r.add_txt(
        "tlsrpt._domainkey.example.com",
        ours.replace("k=ed25519;", "k=ed25519; s=tlsrpt;"),
    );
    r.add_txt(
        "both._domainkey.example.com",
        ours.replace("k=ed25519;", "k=ed25519; h=sha1:sha256; s=*;"),
    );
    let check = |s: &str| block_on(test_key(&r, s, "example.com", &*key));
    assert_eq!(check("good"), TestKeyOutcome::Match { testing: true });
    assert_eq!(check("other"), TestKeyOutcome::Mismatch);
    assert_eq!(check("revoked"), TestKeyOutcome::Revoked);
    assert!(matches!(check("bad"), TestKeyOutcome::Invalid(_)));
    assert!(matches!(check("rsa"), TestKeyOutcome::Invalid(_)));
    assert_eq!(check("missing"), TestKeyOutcome::NoRecord);
    assert_eq!(
        check("sha1"),
        TestKeyOutcome::Unusable {
            testing: false,
            reason: dkim::Reason::HashNotAllowed
        }
    );
    assert_eq!(
        check("tlsrpt"),
        TestKeyOutcome::Unusable {
            testing: false,
            reason: dkim::Reason::ServiceNotEmail
        }
    );
    assert_eq!(check("both"), TestKeyOutcome::Match { testing: false });
    assert_eq!(
        check("slow"),
        TestKeyOutcome::DnsError(dns::DnsError::Timeout)
    );
}

/// A bare RSAPublicKey (RFC 8017 §A.1.1) from the contents octets of its two INTEGERs.
fn rsa_public_key(n: &[u8], e: &[u8]) -> Vec<u8> {
    fn tlv(out: &mut Vec<u8>, tag: u8, body: &[u8]) {
        out.push(tag);
        match body.len() {
            l @ 0..128 => out.push(l as u8),
            l @ 128..256 => out.extend_from_slice(&[0x81, l as u8]),
            l => out.extend_from_slice(&[0x82, (l >> 8) as u8, l as u8]),
        }
        out.extend_from_slice(body);
    }
    let mut ints = Vec::new();
    tlv(&mut ints, 0x02, n);
    tlv(&mut ints, 0x02, e);
    let mut out = Vec::new();
    tlv(&mut out, 0x30, &ints);
    out
}

/// RFC 6376 §6.1.2 step 8: a public key "not suitable for use with the algorithm and key
/// types" is PERMFAIL (RFC 8601 `permerror`), not a signature that failed to verify: an RSA key
/// whose DER parses but that no backend can use (exponent 1, an even exponent or modulus)
/// gives `permerror (public key is not valid)` in the milter, `dkim verify` and ARC, as an
/// Ed25519 key of the wrong length and an RSA key under `k=ed25519` do.
#[test]
fn keys_no_backend_can_use_are_permerror_not_fail() {
    use base64::Engine;
    let message = "From: a@example.com\r\nTo: b@example.net\r\nSubject: hi\r\n\r\nbody\r\n";
    let signer = dkim::Signer::from_pem(
        &common::read("keys/rsa2048.pem"),
        dkim::SignerConfig::new("example.com", "sel"),
    )
    .unwrap();
    let header = dkim::sign_message(&signer, message.as_bytes(), 1_700_000_000).unwrap();
    let signed = format!("{}{message}", header.to_field());
    let spki = signer.key().public_key_dns();
    let bare = crypto::rsa_public_key_from_spki(&spki).unwrap();
    // 30 82 01 0a | 02 82 01 01 <257 octets of n> | 02 03 01 00 01
    let n = &bare[8..8 + 257];
    assert_eq!(&bare[8 + 257..], &[2, 3, 1, 0, 1]);
    let mut even_n = n.to_vec();
    *even_n.last_mut().unwrap() &= 0xfe;
    let b64 = |k: &[u8]| base64::engine::general_purpose::STANDARD.encode(k);
    let verify = |record: String| {
        let r = MemoryResolver::new();
        r.add_txt("sel._domainkey.example.com", record);
        let results = block_on(dkim::verify_message(
            &dkim::Verifier::default(),
            &r,
            signed.as_bytes(),
            1_700_000_000,
        ));
        (results[0].result, results[0].reason.clone())
    };
    assert_eq!(
        verify(format!("v=DKIM1; k=rsa; p={}", b64(&spki))),
        (dkim::DkimResult::Pass, None)
    );
    for (name, key) in [
        ("e=1", rsa_public_key(n, &[1])),
        ("even e", rsa_public_key(n, &[1, 0, 2])),
        ("even n", rsa_public_key(&even_n, &[1, 0, 1])),
        ("k=ed25519 with an RSA key", bare.to_vec()),
    ] {
        let k = if name.starts_with("k=ed25519") {
            "ed25519"
        } else {
            "rsa"
        };
        let record = format!(
            "v=DKIM1; k={k}; p={}",
            b64(&crypto::spki_from_rsa_public_key(&key))
        );
        let (result, reason) = verify(record);
        assert_eq!(result, dkim::DkimResult::PermError, "{name}: {reason:?}");
    }
    // the same key with e=3 is a valid key that did not sign: a failed signature
    assert_eq!(
        verify(format!(
            "v=DKIM1; k=rsa; p={}",
            b64(&rsa_public_key(n, &[3]))
        )),
        (
            dkim::DkimResult::Fail,
            Some(dkim::Reason::SignatureMismatch)
        )
    );
}

/// Several TXT records at one key name (RFC 6376 §3.6.2.2 "the results are undefined"): the
/// verifier "may cycle through the key records" (§6.1.2 step 4), and does, so that the result
/// does not depend on the order the DNS happens to answer in. A selector holding an RSA and an
/// Ed25519 record, or the old and the new key of a botched rotation, verifies each signature
/// with the record that fits it, in either order; every record there was published by the
/// domain. At most four usable records are tried (bounded work per signature); when none
/// verifies, the first record's answer is the result.
#[test]
fn every_record_at_the_key_name_is_tried() {
    use base64::Engine;
    let message = "From: a@example.com\r\nTo: b@example.net\r\nSubject: hi\r\n\r\nbody\r\n";
    let signer = dkim::Signer::from_pem(
        &common::read("keys/rsa2048.pem"),
        dkim::SignerConfig::new("example.com", "sel"),
    )
    .unwrap();
    let header = dkim::sign_message(&signer, message.as_bytes(), 1_700_000_000).unwrap();
    let signed = format!("{}{message}", header.to_field());
    let ours = DnsKeyRecord::for_key(signer.key()).text();
    // another valid RSA key
    let other_rsa = format!(
        "v=DKIM1; k=rsa; p={}",
        base64::engine::general_purpose::STANDARD
            .encode(crypto::spki_from_rsa_public_key(&other_rsa_public_key()))
    );
    let ed25519 = generate_key(KeyAlgorithm::Ed25519).unwrap().record.text();
    let verify = |records: &[&str]| {
        let r = MemoryResolver::new();
        for rec in records {
            r.add_txt("sel._domainkey.example.com", rec);
        }
        let results = block_on(dkim::verify_message(
            &dkim::Verifier::default(),
            &r,
            signed.as_bytes(),
            1_700_000_000,
        ));
        (results[0].result, results[0].reason.clone())
    };
    let pass = (dkim::DkimResult::Pass, None);
    assert_eq!(verify(&[&ours, &other_rsa]), pass);
    assert_eq!(verify(&[&other_rsa, &ours]), pass);
    assert_eq!(verify(&[&ed25519, &ours]), pass);
    assert_eq!(verify(&[&ours, &ed25519]), pass);
    assert_eq!(verify(&["v=spf1 -all", "v=DKIM1; p=", &ours]), pass);
    // none fits: the first record's answer
    assert_eq!(
        verify(&[&other_rsa, &ed25519]),
        (
            dkim::DkimResult::Fail,
            Some(dkim::Reason::SignatureMismatch)
        )
    );
    assert_eq!(
        verify(&[&ed25519, &other_rsa]),
        (
            dkim::DkimResult::PermError,
            Some(dkim::Reason::KeyTypeMismatch)
        )
    );
    // bounded: four usable records that do not verify, then ours, is not tried further
    let many = [&other_rsa, &other_rsa, &other_rsa, &other_rsa, &ours];
    let many: Vec<&str> = many.iter().map(|s| s.as_str()).collect();
    assert_eq!(
        verify(&many),
        (
            dkim::DkimResult::Fail,
            Some(dkim::Reason::SignatureMismatch)
        )
    );
}

/// The RSA public key of the vendored 1024-bit key of RFC 8463 Appendix A (not ours).
fn other_rsa_public_key() -> Vec<u8> {
    use base64::Engine;
    let spki = base64::engine::general_purpose::STANDARD
        .decode("MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB")
        .unwrap();
    crypto::rsa_public_key_from_spki(&spki).unwrap().to_vec()
}

/// A key record whose Ed25519 key is a point of small order (here all zeros, as someone
/// "revoking" a key might publish it) lets anyone forge signatures: R = that point, S = 0
/// verifies for a share of all messages. Such a key is `permerror (public key is not valid)`,
/// so no forged message passes (RFC 6376 §6.1.2 step 8).
#[test]
fn a_small_order_ed25519_key_never_passes_forgeries() {
    use base64::Engine;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let body = "hi\r\n";
    let r = MemoryResolver::new();
    r.add_txt(
        "zero._domainkey.example.com",
        format!("v=DKIM1; k=ed25519; p={}", b64(&[0u8; 32])),
    );
    for n in 0..32 {
        let message = format!(
            "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.com; s=zero; h=from:subject; bh={}; b={}\r\nFrom: ceo@example.com\r\nSubject: wire transfer {n}\r\n\r\n{body}",
            b64(&crypto::sha256(body.as_bytes())),
            b64(&[0u8; 64]),
        );
        let results = block_on(dkim::verify_message(
            &dkim::Verifier::default(),
            &r,
            message.as_bytes(),
            1_700_000_000,
        ));
        assert_eq!(
            (results[0].result, results[0].reason.clone()),
            (
                dkim::DkimResult::PermError,
                Some(dkim::Reason::InvalidPublicKey)
            ),
            "subject {n}"
        );
    }
}

/// Bounded work per key name: a hostile DNS answer may hold thousands of TXT records (a
/// 64 KB message), which every signature naming the key (and every ARC set) would parse.
/// Only the first sixteen records are examined; ours after sixteen junk records is not found.
#[test]
fn at_most_sixteen_records_are_examined() {
    let message = "From: a@example.com\r\nTo: b@example.net\r\nSubject: hi\r\n\r\nbody\r\n";
    let signer = dkim::Signer::from_pem(
        &common::read("keys/rsa2048.pem"),
        dkim::SignerConfig::new("example.com", "sel"),
    )
    .unwrap();
    let header = dkim::sign_message(&signer, message.as_bytes(), 1_700_000_000).unwrap();
    let signed = format!("{}{message}", header.to_field());
    let ours = DnsKeyRecord::for_key(signer.key()).text();
    let verify = |junk: usize| {
        let r = MemoryResolver::new();
        for i in 0..junk {
            r.add_txt("sel._domainkey.example.com", format!("junk {i}"));
        }
        r.add_txt("sel._domainkey.example.com", &ours);
        let results = block_on(dkim::verify_message(
            &dkim::Verifier::default(),
            &r,
            signed.as_bytes(),
            1_700_000_000,
        ));
        results[0].result
    };
    assert_eq!(verify(15), dkim::DkimResult::Pass);
    assert_eq!(verify(16), dkim::DkimResult::PermError);
}

/// The publication check is stricter than the verifier (RFC 6376 §3.6.1, §3.2): a record that a
/// major verifier refuses is not "published". `p=` as a bare PKCS#1 RSAPublicKey instead of the
/// SubjectPublicKeyInfo every generator writes (OpenDKIM: "unable to apply public key"), and
/// `k=RSA` in upper case (tag values are case sensitive; dkimpy: "unknown algorithm in k=
/// tag") are refused by testkey, the rotation gate and serve's active-key check, naming the
/// verifier; our own verifier still reads both.
#[test]
fn records_major_verifiers_refuse_are_not_published() {
    use base64::Engine;
    let key = crypto::default_provider()
        .signing_key(&common::read("keys/rsa2048.pem"))
        .unwrap();
    let spki = key.public_key_dns();
    let bare = crypto::rsa_public_key_from_spki(&spki).unwrap().to_vec();
    let b64 = |k: &[u8]| base64::engine::general_purpose::STANDARD.encode(k);
    let r = MemoryResolver::new();
    r.add_txt(
        "pkcs1._domainkey.example.com",
        format!("v=DKIM1; k=rsa; p={}", b64(&bare)),
    );
    r.add_txt(
        "kup._domainkey.example.com",
        format!("v=DKIM1; k=RSA; p={}", b64(&spki)),
    );
    r.add_txt(
        "good._domainkey.example.com",
        format!("v=DKIM1; k=rsa; p={}", b64(&spki)),
    );
    // dkimpy takes a key for email only when s= is exactly `email` or `*` (a service list, or
    // `Email` in another case, RFC 6376 §3.2, is refused: "key not for email")
    for (selector, services) in [
        ("sup", "Email"),
        ("slist", "email:tlsrpt"),
        ("sstar", "*:email"),
    ] {
        r.add_txt(
            &format!("{selector}._domainkey.example.com"),
            format!("v=DKIM1; k=rsa; s={services}; p={}", b64(&spki)),
        );
    }
    r.add_txt(
        "semail._domainkey.example.com",
        format!("v=DKIM1; k=rsa; s=email; p={}", b64(&spki)),
    );
    // an empty tag-spec (RFC 6376 §3.2 tag-list has none; dkimpy: InvalidTagSpec); one
    // trailing `;` is fine
    r.add_txt(
        "semi._domainkey.example.com",
        format!("v=DKIM1;; k=rsa; p={}", b64(&spki)),
    );
    r.add_txt(
        "trail._domainkey.example.com",
        format!("v=DKIM1; k=rsa; p={};", b64(&spki)),
    );
    // a key no verifier takes for email is our own refusal, not dkimpy's
    r.add_txt(
        "tlsrpt._domainkey.example.com",
        format!("v=DKIM1; k=rsa; s=tlsrpt; p={}", b64(&spki)),
    );
    let check = |s: &str| block_on(test_key(&r, s, "example.com", &*key));
    assert_eq!(check("good"), TestKeyOutcome::Match { testing: false });
    assert_eq!(check("semail"), TestKeyOutcome::Match { testing: false });
    assert_eq!(check("trail"), TestKeyOutcome::Match { testing: false });
    let outcome = check("tlsrpt");
    assert!(
        matches!(
            &outcome,
            TestKeyOutcome::Unusable {
                reason: dkim::Reason::ServiceNotEmail,
                ..
            }
        ),
        "{outcome:?}"
    );
    for (selector, verifier) in [
        ("pkcs1", "OpenDKIM"),
        ("kup", "dkimpy"),
        ("sup", "dkimpy"),
        ("slist", "dkimpy"),
        ("sstar", "dkimpy"),
        ("semi", "dkimpy"),
    ] {
        let outcome = check(selector);
        let TestKeyOutcome::Unusable { reason, .. } = &outcome else {
            panic!("{selector}: {outcome:?}")
        };
        assert!(
            reason.to_string().contains(verifier),
            "{selector}: {reason}"
        );
    }
    // the verifier stays lenient
    for form in [
        format!("v=DKIM1; k=rsa; p={}", b64(&bare)),
        format!("v=DKIM1; k=RSA; p={}", b64(&spki)),
    ] {
        let parsed = dkim::KeyRecord::parse(form.as_bytes()).unwrap();
        assert_eq!(parsed.key_type, crypto::KeyType::Rsa);
    }
}

/// RFC 8463 §4.2: an Ed25519 `p=` is the raw 32-byte key. A record holding our own key as its
/// 44-byte SubjectPublicKeyInfo (what `openssl pkey -pubout` writes) is not "a different key":
/// testkey says what it is, as check-domain does.
#[test]
fn our_ed25519_key_as_spki_is_named_not_a_mismatch() {
    use base64::Engine;
    let key = crypto::default_provider()
        .signing_key(&common::read("keys/ed25519.pem"))
        .unwrap();
    let mut spki = vec![
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    spki.extend_from_slice(&key.public_key_dns());
    let r = MemoryResolver::new();
    r.add_txt(
        "spki._domainkey.example.com",
        format!(
            "v=DKIM1; k=ed25519; p={}",
            base64::engine::general_purpose::STANDARD.encode(&spki)
        ),
    );
    let outcome = block_on(test_key(&r, "spki", "example.com", &*key));
    let TestKeyOutcome::Invalid(why) = &outcome else {
        panic!("{outcome:?}")
    };
    assert!(why.contains("44-byte SubjectPublicKeyInfo"), "{why}");
}
