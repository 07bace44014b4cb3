//! Sealing and validating our own chains (RFC 8617 §5.1, §5.2): RSA and Ed25519 hops,
//! oldest-pass after a modifying hop, sealing over failed chains, the 50-set limit, and one
//! body hash shared by DKIM and ARC.

mod common;

use arc::{ArcError, ChainStatus, FailReason, SignatureCheck};
use common::{MESSAGE, NOW, seal, sealer, validate};
use dkim::BodyHashes;

#[test]
fn one_hop_rsa_and_ed25519() {
    for which in ["rsa", "ed"] {
        let (before, sealed) = seal(&sealer(which), MESSAGE.as_bytes(), "mx.example.org").unwrap();
        assert_eq!(before.result, ChainStatus::None);
        let text = String::from_utf8(sealed.clone()).unwrap();
        assert!(text.starts_with("ARC-Seal: i=1; a="), "{text}");
        let order: Vec<usize> = [
            "ARC-Seal:",
            "ARC-Message-Signature:",
            "ARC-Authentication-Results:",
        ]
        .iter()
        .map(|n| text.find(n).unwrap())
        .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "top-down order");
        assert!(text.contains("cv=none"));
        let o = validate(&sealed);
        assert_eq!(o.result, ChainStatus::Pass, "{which}: {:?}", o.reason);
        assert_eq!((o.instances, o.oldest_pass), (1, Some(0)));
        let set = &o.sets[0];
        assert_eq!(set.seal_domain, "example.org");
        assert_eq!(set.seal_selector, which);
        assert_eq!(set.seal, SignatureCheck::Pass);
        let ar = set.authentication_results.as_ref().unwrap();
        assert_eq!(ar.authserv_id, "mx.example.org");
        assert_eq!(
            ar.by_method("dmarc")
                .next()
                .unwrap()
                .property("header", "from"),
            Some("example.com")
        );
        // every line folded within 78 columns where the value allows
        for line in text.lines().take_while(|l| !l.is_empty()) {
            assert!(line.len() <= 78, "{line:?}");
        }
    }
}

#[test]
fn two_hops_and_a_modifying_list() {
    let (_, hop1) = seal(&sealer("ed"), MESSAGE.as_bytes(), "mx1.example.org").unwrap();
    let (o1, hop2) = seal(&sealer("rsa"), &hop1, "mx2.example.org").unwrap();
    assert_eq!(o1.result, ChainStatus::Pass);
    let o = validate(&hop2);
    assert_eq!(o.result, ChainStatus::Pass, "{:?}", o.reason);
    assert_eq!((o.instances, o.oldest_pass), (2, Some(0)));
    assert_eq!(o.sets[1].cv, ChainStatus::Pass);

    // a list validates on receipt, adds a footer and seals: AMS(1) breaks, the chain passes
    let received = validate(&hop1);
    let listed = [&hop1[..], b"-- \r\nlist footer\r\n"].concat();
    let relisted =
        common::seal_after_change(&sealer("rsa"), &listed, &received, "lists.example.net");
    let o = validate(&relisted);
    assert_eq!(o.result, ChainStatus::Pass, "{:?}", o.reason);
    assert_eq!(o.oldest_pass, Some(2));
    assert!(matches!(
        o.sets[0].message_signature,
        SignatureCheck::Fail(dkim::Reason::BodyHashMismatch)
    ));
    assert_eq!(
        o.report_comment(),
        "arc=pass as[2].d=example.org as[2].s=rsa as[1].d=example.org as[1].s=ed"
    );
    let ip: std::net::IpAddr = "192.0.2.7".parse().unwrap();
    assert_eq!(
        authres::AuthenticationResults::new("mx.example.net")
            .with(o.method_result(Some(ip)))
            .to_string(),
        "mx.example.net; arc=pass header.oldest-pass=2 smtp.remote-ip=192.0.2.7"
    );
    // the trusted sealer's results count only if nothing untrusted came after, or its AMS
    // still verifies
    let trusted = |d: &str| d == "example.org";
    assert_eq!(o.trusted_sets(trusted).len(), 2);
    assert!(o.trusted_sets(|_| false).is_empty());

    // modified after the last hop: the newest AMS fails, so the chain fails
    let tampered = [&hop2[..], b"tampered\r\n"].concat();
    let o = validate(&tampered);
    assert_eq!(
        o.reason,
        Some(FailReason::MessageSignature {
            instance: 2,
            reason: dkim::Reason::BodyHashMismatch
        })
    );
    assert!(o.trusted_sets(trusted).is_empty());
}

#[test]
fn a_failed_chain_is_sealed_with_cv_fail_then_ends() {
    let (_, hop1) = seal(&sealer("rsa"), MESSAGE.as_bytes(), "mx1.example.org").unwrap();
    // break seal 1: change the AAR it covers
    let broken = String::from_utf8(hop1)
        .unwrap()
        .replacen("dmarc=pass", "dmarc=fail", 1)
        .into_bytes();
    let (o, hop2) = seal(&sealer("ed"), &broken, "mx2.example.org").unwrap();
    assert_eq!(o.result, ChainStatus::Fail);
    assert!(matches!(
        o.reason,
        Some(FailReason::Seal { instance: 1, .. })
    ));
    let text = String::from_utf8(hop2.clone()).unwrap();
    assert!(
        text.starts_with("ARC-Seal: i=2; a=ed25519-sha256; t="),
        "{text}"
    );
    assert!(text.lines().next().unwrap().contains("cv=fail"), "{text}");
    // the next validator sees the chain ended
    let o = validate(&hop2);
    assert_eq!(o.reason, Some(FailReason::Terminated { instance: 2 }));
    // and the next sealer adds nothing (RFC 8617 §5.1 step 2)
    assert_eq!(
        seal(&sealer("rsa"), &hop2, "mx3.example.org").unwrap_err(),
        ArcError::ChainTerminated { instance: 2 }
    );
}

#[test]
fn fifty_sets_validate_and_the_fifty_first_is_refused() {
    let ed = sealer("ed");
    let mut msg = MESSAGE.as_bytes().to_vec();
    for i in 1..=50u32 {
        let (o, next) = seal(&ed, &msg, &format!("mx{i}.example.org")).unwrap();
        assert_eq!(o.instances, i - 1);
        msg = next;
    }
    let o = validate(&msg);
    assert_eq!(o.result, ChainStatus::Pass, "{:?}", o.reason);
    assert_eq!((o.instances, o.oldest_pass), (50, Some(0)));
    assert_eq!(
        seal(&ed, &msg, "mx51.example.org").unwrap_err(),
        ArcError::InstanceLimit { highest: 50 }
    );
}

/// A chain longer than the validator's `max_sets` fails unchecked: a local bound, not a
/// judgement (RFC 8617 §5.2 step 1 allows 50 sets). Sealing it `cv=fail` would end for every
/// later hop a chain that may be valid (§5.1 step 2), so no set is added; with the RFC's 50
/// the same chain validates and is sealed as the next instance.
#[test]
fn a_chain_past_a_local_max_sets_is_not_sealed() {
    let ed = sealer("ed");
    let mut msg = MESSAGE.as_bytes().to_vec();
    for i in 1..=11u32 {
        msg = seal(&ed, &msg, &format!("mx{i}.example.org")).unwrap().1;
    }
    let limited = arc::Verifier::new(arc::VerifyOptions {
        max_sets: 10,
        ..arc::VerifyOptions::default()
    });
    let refused = common::block_on(arc::seal_message(
        &limited,
        &ed,
        &common::key_resolver(),
        &msg,
        |_| common::payload("mx12.example.org"),
        NOW,
    ))
    .unwrap_err();
    assert_eq!(
        refused,
        ArcError::ChainNotValidated {
            reason: FailReason::TooManySets {
                fields: 33,
                limit: 10
            }
            .to_string()
        }
    );
    let (o, next) = seal(&ed, &msg, "mx12.example.org").unwrap();
    assert_eq!((o.result, o.instances), (ChainStatus::Pass, 11));
    assert_eq!(validate(&next).result, ChainStatus::Pass);
}

/// A chain whose key lookup timed out is `fail` (RFC 8617 §5.2.1) but was not judged: the
/// library refuses to seal it `cv=fail` (as the milter's forward listener and `arc seal` do),
/// and once DNS answers the same chain validates and is sealed.
#[test]
fn a_chain_cut_short_by_dns_is_not_sealed() {
    let ed = sealer("ed");
    let (_, hop1) = seal(&ed, MESSAGE.as_bytes(), "mx1.example.org").unwrap();
    let resolver = common::key_resolver();
    resolver.fail(
        &dkim::key_name("ed", common::DOMAIN),
        dns::DnsError::Timeout,
    );
    let refused = common::block_on(arc::seal_message(
        &arc::Verifier::default(),
        &ed,
        &resolver,
        &hop1,
        |_| common::payload("mx2.example.org"),
        NOW,
    ))
    .unwrap_err();
    assert!(
        matches!(refused, ArcError::ChainNotValidated { .. }),
        "{refused:?}"
    );
    let (o, _) = seal(&ed, &hop1, "mx2.example.org").unwrap();
    assert_eq!(o.result, ChainStatus::Pass);
}

/// A body changed after the last hop fails its ARC-Message-Signature whatever DNS says: with
/// the key lookup timing out the chain failed "temporarily" (DnsTimeout), which a trusted
/// sealer's rescue then read as undecided (a deferral instead of the rejection the change
/// decides). The body hash is compared first when the key did not answer.
#[test]
fn a_changed_body_fails_the_message_signature_even_when_its_key_does_not_answer() {
    let ed = sealer("ed");
    let (_, hop1) = seal(&ed, MESSAGE.as_bytes(), "mx1.example.org").unwrap();
    let changed = [&hop1[..], b"a footer\r\n"].concat();
    let resolver = common::key_resolver();
    resolver.fail(
        &dkim::key_name("ed", common::DOMAIN),
        dns::DnsError::Timeout,
    );
    let o = common::block_on(arc::verify_message(
        &arc::Verifier::default(),
        &resolver,
        &changed,
        NOW,
    ));
    assert_eq!(o.result, ChainStatus::Fail);
    let reason = o.reason.unwrap();
    assert!(!reason.is_temporary(), "{reason:?}");
    assert!(
        matches!(
            reason,
            arc::FailReason::MessageSignature {
                reason: dkim::Reason::BodyHashMismatch,
                ..
            }
        ),
        "{reason:?}"
    );
    // the body unchanged, the timeout is what failed it
    let o = common::block_on(arc::verify_message(
        &arc::Verifier::default(),
        &resolver,
        &hop1,
        NOW,
    ));
    assert!(o.reason.unwrap().is_temporary());
}

/// The AAR carries this hop's A-R payload as written (RFC 8617 §4.1.1): a long `reason=`
/// folded inside its quoted string (where its own space was, RFC 5322 §3.2.4) must unfold to
/// the same text; a TAB added before the space made it "did not\t verify".
#[test]
fn a_reason_folded_inside_its_quotes_reads_the_same_in_the_aar() {
    let reason = "the signature of the author's domain example.com did not verify after the list \
                  changed its subject and added a footer";
    let payload = authres::AuthenticationResults::new("mx2.example.org").with(
        authres::MethodResult::new("dkim", "fail")
            .with_reason(reason)
            .with_property("header", "d", "example.com"),
    );
    let (_, set) = common::block_on(arc::seal_message(
        &arc::Verifier::default(),
        &sealer("ed"),
        &common::key_resolver(),
        MESSAGE.as_bytes(),
        |_| payload.clone(),
        NOW,
    ))
    .unwrap();
    let fields = set.to_fields("\r\n");
    let aar = fields
        .split("\r\nARC-")
        .find_map(|f| f.strip_prefix("Authentication-Results: "))
        .unwrap();
    assert!(aar.contains("\r\n"), "not folded: {aar}");
    let unfolded = aar.replace("\r\n", "");
    let value = unfolded.split_once("; ").unwrap().1;
    let parsed = authres::parse(value.trim_end().as_bytes()).unwrap();
    assert_eq!(
        parsed.by_method("dkim").next().unwrap().reason.as_deref(),
        Some(reason)
    );
}

#[test]
fn one_body_hash_for_dkim_and_arc() {
    // DKIM verification, DKIM signing (relaxed body) and ARC validation and sealing of a
    // message whose chain signs relaxed: every consumer shares one hasher
    let (_, hop1) = seal(&sealer("rsa"), MESSAGE.as_bytes(), "mx1.example.org").unwrap();
    let msg = message::parse_message(&hop1);
    let mut hashes = BodyHashes::default();
    let mut chain = arc::Verifier::default().begin(&msg.headers, NOW, &mut hashes);
    let sealing = sealer("ed").start(&mut hashes);
    let signer = dkim::Signer::from_pem(
        &std::fs::read(common::data("keys/rsa2048.pem")).unwrap(),
        dkim::SignerConfig::new("example.org", "rsa"),
    )
    .unwrap();
    let signing = signer.start_shared(&mut hashes);
    assert_eq!(hashes.hasher_count(), 1);
    common::block_on(chain.lookup_keys(&common::key_resolver()));
    for chunk in msg.body.chunks(7) {
        hashes.update(chunk);
    }
    let done = hashes.finish();
    let o = chain.finish(&done);
    assert_eq!(o.result, ChainStatus::Pass);
    let sig = signing.finish_shared(&done, &msg.headers, NOW).unwrap();
    let mut headers = vec![sig.to_header_field()];
    headers.extend(msg.headers.iter().cloned());
    let set = sealing
        .seal(
            &done,
            &headers,
            &o,
            &common::payload("mx2.example.org"),
            NOW,
        )
        .unwrap();
    // the AMS covers the DKIM-Signature we added (RFC 8617 §4.1.2 SHOULD)
    assert!(set.message_signature.value("").contains("dkim-signature"));
    let out: Vec<u8> = [
        set.to_fields("\r\n").into_bytes(),
        sig.to_field().into_bytes(),
        hop1,
    ]
    .concat();
    assert_eq!(validate(&out).result, ChainStatus::Pass);
}

#[test]
fn sealing_checks_its_inputs() {
    let s = sealer("rsa");
    let mut hashes = BodyHashes::default();
    let session = s.start(&mut hashes);
    let done = hashes.finish();
    let msg = message::parse_message(b"Subject: no from\r\n\r\nbody\r\n");
    assert_eq!(
        session
            .seal(
                &done,
                &msg.headers,
                &arc::ArcOutcome::none(),
                &common::payload("x"),
                NOW
            )
            .unwrap_err(),
        ArcError::NoFromHeader
    );
    // a hash asked for after the body started is not available
    let mut late = BodyHashes::default();
    late.update(b"x");
    let session = s.start(&mut late);
    let msg = message::parse_message(MESSAGE.as_bytes());
    assert_eq!(
        session
            .seal(
                &late.finish(),
                &msg.headers,
                &arc::ArcOutcome::none(),
                &common::payload("x"),
                NOW
            )
            .unwrap_err(),
        ArcError::BodyHashUnavailable
    );
    // a chain outcome that does not belong to these header fields
    let (_, hop1) = seal(&s, MESSAGE.as_bytes(), "mx1.example.org").unwrap();
    let pass = validate(&hop1);
    let mut hashes = BodyHashes::default();
    let session = s.start(&mut hashes);
    assert!(matches!(
        session.seal(
            &hashes.finish(),
            &msg.headers,
            &pass,
            &common::payload("x"),
            NOW
        ),
        Err(ArcError::ChainMismatch(_))
    ));
    // bad settings
    let pem = std::fs::read(common::data("keys/ed25519.pem")).unwrap();
    for (domain, headers) in [
        ("bad domain", arc::AmsHeaders::Recommended),
        ("example.org", arc::AmsHeaders::Exact(vec!["to".into()])),
        (
            "example.org",
            arc::AmsHeaders::Exact(vec!["from".into(), "ARC-Seal".into()]),
        ),
        (
            "example.org",
            arc::AmsHeaders::Exact(vec!["from".into(), "authentication-results".into()]),
        ),
    ] {
        let mut c = arc::SealerConfig::new(domain, "s");
        c.headers = headers;
        assert!(matches!(
            arc::Sealer::from_pem(&pem, c),
            Err(ArcError::Config(_))
        ));
    }
}

/// RFC 8617 §5.2 verifies seals and message signatures with DKIM's key rules, so several TXT
/// records at a key name are cycled through as RFC 6376 §6.1.2 step 4 allows: a chain whose
/// sealer's selector also holds an Ed25519 record (listed first) still passes, in either
/// order.
#[test]
fn every_record_at_the_sealer_key_name_is_tried() {
    let (_, sealed) = seal(&sealer("rsa"), MESSAGE.as_bytes(), "mx.example.org").unwrap();
    let ours = dkim::DnsKeyRecord::for_key(sealer("rsa").key()).text();
    let ed = dkim::DnsKeyRecord::for_key(sealer("ed").key()).text();
    for records in [[&ed, &ours], [&ours, &ed]] {
        let r = dns::memory::MemoryResolver::new();
        for rec in records {
            r.add_txt("rsa._domainkey.example.org", rec);
        }
        let o = common::block_on(arc::verify_message(
            &arc::Verifier::default(),
            &r,
            &sealed,
            NOW,
        ));
        assert_eq!(o.result, ChainStatus::Pass, "{:?}", o.reason);
    }
}
