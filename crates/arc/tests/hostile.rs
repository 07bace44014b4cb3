//! Hostile and broken chains (RFC 8617 §5.2): each gives `fail` with the precise reason, no
//! panic, and bounded work: structural failures cost no DNS query, a chain is never longer
//! than 50 sets, at most three body hashes and two key lookups per set are requested.

mod common;

use arc::{ArcError, ArcField, ChainStatus, FailReason, Verifier};
use common::{MESSAGE, NOW, seal, sealer, validate};
use dkim::{BodyHashes, HeaderField};

/// A valid chain: i=1 sealed with RSA, i=2 with Ed25519.
fn two_hops() -> String {
    let (_, hop1) = seal(&sealer("rsa"), MESSAGE.as_bytes(), "mx1.example.org").unwrap();
    let (_, hop2) = seal(&sealer("ed"), &hop1, "mx2.example.org").unwrap();
    let o = validate(&hop2);
    assert_eq!(o.result, ChainStatus::Pass, "{:?}", o.reason);
    String::from_utf8(hop2).unwrap()
}

/// The header field starting with `start`, with its continuation lines.
fn field(msg: &str, start: &str) -> String {
    let at = msg.find(start).unwrap_or_else(|| panic!("no {start}"));
    let rest = &msg[at..];
    let mut end = 0;
    for line in rest.split_inclusive("\r\n") {
        if end > 0 && !line.starts_with([' ', '\t']) {
            break;
        }
        end += line.len();
    }
    rest[..end].to_string()
}

fn without(msg: &str, start: &str) -> String {
    msg.replacen(&field(msg, start), "", 1)
}

fn reason(msg: &str) -> FailReason {
    let o = validate(msg.as_bytes());
    assert_eq!(o.result, ChainStatus::Fail);
    o.reason.unwrap()
}

/// Structural failures are found at end of headers, without DNS or body hashing.
fn fails_early(msg: &str) -> FailReason {
    let m = message::parse_message(msg.as_bytes());
    let mut hashes = BodyHashes::default();
    let chain = Verifier::default().begin(&m.headers, NOW, &mut hashes);
    assert!(chain.key_queries().is_empty(), "DNS for a broken structure");
    assert_eq!(hashes.hasher_count(), 0);
    let o = chain
        .early_outcome()
        .expect("decided at end of headers")
        .clone();
    assert_eq!(o.result, ChainStatus::Fail);
    assert_eq!(o.reason, Some(reason(msg)));
    o.reason.unwrap()
}

#[test]
fn instance_numbering() {
    let m = two_hops();
    // i=0 and i=51 are not instances (RFC 8617 §4.2.1)
    for bad in ["0", "51", "99999999999999999999", "-1", "1e1", ""] {
        let msg = m.replacen("ARC-Seal: i=2;", &format!("ARC-Seal: i={bad};"), 1);
        assert!(
            matches!(
                fails_early(&msg),
                FailReason::Malformed(ArcError::BadInstance {
                    field: ArcField::Seal,
                    ..
                })
            ),
            "i={bad}"
        );
    }
    // no i= at all
    let msg = m.replacen("ARC-Message-Signature: i=1; ", "ARC-Message-Signature: ", 1);
    assert_eq!(
        fails_early(&msg),
        FailReason::Malformed(ArcError::MissingInstance(ArcField::MessageSignature))
    );
    // a gap: set 2 renumbered 3
    let msg = m
        .replacen("ARC-Seal: i=2;", "ARC-Seal: i=3;", 1)
        .replacen(
            "ARC-Message-Signature: i=2;",
            "ARC-Message-Signature: i=3;",
            1,
        )
        .replacen(
            "ARC-Authentication-Results: i=2;",
            "ARC-Authentication-Results: i=3;",
            1,
        );
    assert_eq!(
        fails_early(&msg),
        FailReason::Missing {
            field: ArcField::AuthenticationResults,
            instance: 2
        }
    );
}

#[test]
fn one_field_of_each_kind_per_instance() {
    let m = two_hops();
    let msg = without(&m, "ARC-Seal: i=1;");
    assert_eq!(
        fails_early(&msg),
        FailReason::Missing {
            field: ArcField::Seal,
            instance: 1
        }
    );
    // two AMS for i=1 (a copy at the top)
    let msg = format!("{}{m}", field(&m, "ARC-Message-Signature: i=1;"));
    assert_eq!(
        fails_early(&msg),
        FailReason::Duplicate {
            field: ArcField::MessageSignature,
            instance: 1
        }
    );
    // a duplicate set 2 (identical copy)
    let set2 = [
        field(&m, "ARC-Seal: i=2;"),
        field(&m, "ARC-Message-Signature: i=2;"),
        field(&m, "ARC-Authentication-Results: i=2;"),
    ]
    .concat();
    let msg = format!("{set2}{m}");
    assert!(matches!(
        fails_early(&msg),
        FailReason::Duplicate { instance: 2, .. }
    ));
}

#[test]
fn chain_status_progression() {
    let m = two_hops();
    // cv=none at i=2, cv=pass at i=1, cv=fail in the middle of a chain
    let msg = m.replacen("cv=pass", "cv=none", 1);
    assert_eq!(
        fails_early(&msg),
        FailReason::BadChainStatus {
            instance: 2,
            cv: ChainStatus::None
        }
    );
    let msg = m.replacen("cv=none", "cv=pass", 1);
    assert_eq!(
        fails_early(&msg),
        FailReason::BadChainStatus {
            instance: 1,
            cv: ChainStatus::Pass
        }
    );
    // a chain sealed over a cv=fail: the newest seal says pass, an older one fail
    let (_, hop3) = seal(&sealer("rsa"), m.as_bytes(), "mx3.example.org").unwrap();
    let hop3 = String::from_utf8(hop3).unwrap();
    let i2 = field(&hop3, "ARC-Seal: i=2;");
    let msg = hop3.replacen(&i2, &i2.replacen("cv=pass", "cv=fail", 1), 1);
    assert_eq!(
        fails_early(&msg),
        FailReason::BadChainStatus {
            instance: 2,
            cv: ChainStatus::Fail
        }
    );
    // the newest seal says fail: the chain ended (RFC 8617 §5.2 step 2)
    let msg = m.replacen("cv=pass", "cv=fail", 1);
    assert_eq!(fails_early(&msg), FailReason::Terminated { instance: 2 });
}

#[test]
fn signatures() {
    let m = two_hops();
    // the seals cover the AARs: a changed AAR(1) breaks the newest seal first
    let aar1 = field(&m, "ARC-Authentication-Results: i=1;");
    let msg = m.replacen(&aar1, &aar1.replacen("spf=pass", "spf=fail", 1), 1);
    assert_eq!(
        reason(&msg),
        FailReason::Seal {
            instance: 2,
            reason: dkim::Reason::SignatureMismatch
        }
    );
    // the body changed after the last hop
    let msg = m.replacen("Hello list", "Hello lust", 1);
    assert_eq!(
        reason(&msg),
        FailReason::MessageSignature {
            instance: 2,
            reason: dkim::Reason::BodyHashMismatch
        }
    );
    // a header the newest AMS signs changed
    let msg = m.replacen("Subject: ARC test", "Subject: ARC tset", 1);
    assert_eq!(
        reason(&msg),
        FailReason::MessageSignature {
            instance: 2,
            reason: dkim::Reason::SignatureMismatch
        }
    );
    // a seal's signature bytes changed
    let as1 = field(&m, "ARC-Seal: i=1;");
    let mut bytes = as1.clone().into_bytes();
    let mut b = as1.find("b=").unwrap() + 2;
    while bytes[b].is_ascii_whitespace() {
        b += 1;
    }
    bytes[b] = if bytes[b] == b'A' { b'B' } else { b'A' };
    let msg = m.replacen(&as1, &String::from_utf8(bytes).unwrap(), 1);
    assert_eq!(
        reason(&msg),
        FailReason::Seal {
            instance: 2,
            reason: dkim::Reason::SignatureMismatch
        }
    );
}

#[test]
fn key_problems_fail_and_dns_trouble_is_marked_temporary() {
    let m = two_hops();
    let msg = message::parse_message(m.as_bytes());
    let run = |answer: dkim::KeyAnswer| {
        let mut hashes = BodyHashes::default();
        let mut chain = Verifier::default().begin(&msg.headers, NOW, &mut hashes);
        common::block_on(chain.lookup_keys(&common::key_resolver()));
        chain.set_key_answer("ed._domainkey.example.org", answer);
        hashes.update(&msg.body);
        chain.finish(&hashes.finish())
    };
    let o = run(Err(dns::DnsError::Timeout));
    assert_eq!(
        o.reason,
        Some(FailReason::MessageSignature {
            instance: 2,
            reason: dkim::Reason::DnsTimeout
        })
    );
    assert!(o.reason.as_ref().unwrap().is_temporary());
    let o = run(Err(dns::DnsError::NxDomain));
    assert!(!o.reason.as_ref().unwrap().is_temporary());
    let o = run(Ok(vec![b"v=DKIM1; k=ed25519; p=".to_vec()]));
    assert_eq!(
        o.reason,
        Some(FailReason::MessageSignature {
            instance: 2,
            reason: dkim::Reason::KeyRevoked
        })
    );
    // an answer never handed over is a failure too (RFC 8617 §5.2.1)
    let mut hashes = BodyHashes::default();
    let chain = Verifier::default().begin(&msg.headers, NOW, &mut hashes);
    hashes.update(&msg.body);
    let o = chain.finish(&hashes.finish());
    assert!(matches!(
        o.reason,
        Some(FailReason::MessageSignature {
            reason: dkim::Reason::KeyNotFetched,
            ..
        })
    ));
}

#[test]
fn algorithms_rfc8301() {
    let m = two_hops();
    let msg = m.replacen("a=ed25519-sha256", "a=rsa-sha1", 1);
    assert_eq!(
        fails_early(&msg),
        FailReason::Malformed(ArcError::Signature {
            field: ArcField::Seal,
            reason: dkim::Reason::RsaSha1NotAcceptable
        })
    );
    let as2 = field(&m, "ARC-Seal: i=2;");
    let msg = m.replacen(&as2, &as2.replacen("cv=pass;", "cv=pass; h=from;", 1), 1);
    assert!(matches!(
        fails_early(&msg),
        FailReason::Malformed(ArcError::Signature { .. })
    ));
}

fn junk_set(i: u32) -> Vec<HeaderField> {
    vec![
        HeaderField::new("ARC-Seal", format!(" i={i}; cv=pass; junk")),
        HeaderField::new("ARC-Message-Signature", format!(" i={i}; \u{0}\u{1}")),
        HeaderField::new("ARC-Authentication-Results", format!(" i={i}; (((")),
    ]
}

/// A set with valid syntax and meaningless signatures: selector and `l=` differ per set.
fn plausible_set(i: u32) -> Vec<HeaderField> {
    let cv = if i == 1 { "none" } else { "pass" };
    let c = [
        "simple/simple",
        "relaxed/simple",
        "simple/relaxed",
        "relaxed/relaxed",
    ][i as usize % 4];
    vec![
        HeaderField::new(
            "ARC-Seal",
            format!(" i={i}; a=rsa-sha256; cv={cv}; d=d{i}.example; s=s{i}; b=AAAA"),
        ),
        HeaderField::new(
            "ARC-Message-Signature",
            format!(
                " i={i}; a=rsa-sha256; c={c}; l={i}; d=m{i}.example; s=s{i}; h=from; bh=AAAA; b=AAAA"
            ),
        ),
        HeaderField::new(
            "ARC-Authentication-Results",
            format!(" i={i}; x.example; none"),
        ),
    ]
}

#[test]
fn bounded_work_on_long_and_junk_chains() {
    let from = HeaderField::new("From", " a@example.com");
    // 50 sets of junk: fail at end of headers
    let mut h: Vec<HeaderField> = (1..=50).rev().flat_map(junk_set).collect();
    h.push(from.clone());
    let mut hashes = BodyHashes::default();
    let chain = Verifier::default().begin(&h, NOW, &mut hashes);
    assert!(chain.key_queries().is_empty());
    assert!(matches!(
        chain.early_outcome().and_then(|o| o.reason.clone()),
        Some(FailReason::Malformed(_))
    ));
    // 51 sets, or 10,000 ARC fields: nothing is parsed
    for sets in [51u32, 3334] {
        let h: Vec<HeaderField> = (1..=sets).flat_map(junk_set).collect();
        let mut hashes = BodyHashes::default();
        let chain = Verifier::default().begin(&h, NOW, &mut hashes);
        assert_eq!(
            chain.early_outcome().and_then(|o| o.reason.clone()),
            Some(FailReason::TooManySets {
                fields: sets as usize * 3,
                limit: 50
            })
        );
    }
    // 50 plausible sets, each AMS with its own l= and c=, each seal its own key: at most
    // three body hashes (newest AMS; older ones with l= are not checked) and two key
    // lookups per set; validation stops at the first failing signature
    let mut h: Vec<HeaderField> = (1..=50).rev().flat_map(plausible_set).collect();
    h.push(from);
    let mut hashes = BodyHashes::default();
    let mut chain = Verifier::default().begin(&h, NOW, &mut hashes);
    assert!(hashes.hasher_count() <= 3, "{}", hashes.hasher_count());
    let queries = chain.key_queries();
    assert!(queries.len() <= 100, "{}", queries.len());
    common::block_on(chain.lookup_keys(&common::key_resolver()));
    hashes.update(b"body\r\n");
    let o = chain.finish(&hashes.finish());
    assert_eq!(
        o.reason,
        Some(FailReason::MessageSignature {
            instance: 50,
            reason: dkim::Reason::NoKeyRecord
        })
    );
    assert_eq!(o.sets.len(), 50);
}

/// A valid chain of `hops` sets, each sealed with Ed25519 (fast to make).
fn valid_chain(hops: usize) -> Vec<u8> {
    let mut msg = MESSAGE.as_bytes().to_vec();
    for hop in 1..=hops {
        let (_, next) = seal(&sealer("ed"), &msg, &format!("mx{hop}.example.org")).unwrap();
        msg = next;
    }
    msg
}

#[test]
fn operator_limit_on_sets_ends_a_long_chain_before_any_key_lookup() {
    // A crafted chain whose every set verifies costs two key lookups and two signature checks
    // per set, each up to an 8192-bit RSA key, and ARC-Seal i=N hashes all N sets: 50 sets
    // made one message cost ~1,300 ordinary ones (audit 5, cost). `[arc] max_sets` bounds it
    // (RFC 8617 §9.2: 2*N queries; RFC 6376 §6.1: a verifier MAY limit the signatures it
    // tries). Past the limit: fail at end of headers, with no DNS question and no body hash.
    let msg = valid_chain(11);
    let m = message::parse_message(&msg);
    let limited = Verifier::new(arc::VerifyOptions {
        max_sets: 10,
        ..arc::VerifyOptions::default()
    });
    let mut hashes = BodyHashes::default();
    let chain = limited.begin(&m.headers, NOW, &mut hashes);
    assert_eq!(chain.key_queries().len(), 0);
    assert_eq!(hashes.hasher_count(), 0);
    let o = chain.early_outcome().expect("decided at end of headers");
    assert_eq!(o.result, ChainStatus::Fail);
    assert_eq!(
        o.reason,
        Some(FailReason::TooManySets {
            fields: 33,
            limit: 10
        })
    );
    assert_eq!(
        o.reason.as_ref().map(ToString::to_string).as_deref(),
        Some("more than 10 ARC sets (33 ARC header fields)")
    );
    // the same chain within the limit validates
    let within = Verifier::new(arc::VerifyOptions {
        max_sets: 11,
        ..arc::VerifyOptions::default()
    });
    let o = common::block_on(arc::verify_message(
        &within,
        &common::key_resolver(),
        &msg,
        NOW,
    ));
    assert_eq!(o.result, ChainStatus::Pass, "{:?}", o.reason);
    // the library's default is the RFC's 50 (the milter's `[arc] max_sets` default is lower)
    assert_eq!(arc::VerifyOptions::default().max_sets, arc::MAX_INSTANCE);
}
