//! Fuzz harness, shared by the cargo-fuzz target (`fuzz/fuzz_targets/arc_headers.rs`) and
//! the stable seed replay (`tests/fuzz_seeds.rs`). It must never panic, whatever the input.

use dkim::{BodyHashes, DnsKeyRecord, KeyAnswer};

use crate::{
    ArcAuthResults, ArcField, ArcOutcome, ArcSeal, ChainStatus, MAX_INSTANCE, MessageSignature,
    Sealer, SealerConfig, Verifier,
};

/// A fixed clock, so runs are reproducible.
const NOW: u64 = 1_700_000_000;

/// The ARC header parsers on `data` as one field value, then `data` as a whole message
/// through chain validation (RFC 8617 §5.2, with key answers that are valid, missing and
/// revoked in turn) and sealing (§5.1), checking the outcome's invariants.
pub fn arc_headers(data: &[u8]) {
    let _ = ArcSeal::parse(data);
    let _ = MessageSignature::parse(data);
    let _ = ArcAuthResults::parse(data);

    let msg = message::parse_message(data);
    let mut hashes = BodyHashes::default();
    let mut chain = Verifier::default().begin(&msg.headers, NOW, &mut hashes);
    let key = crypto::default_provider()
        .ed25519_from_seed(&[7u8; 32])
        .ok();
    let record = key
        .as_deref()
        .map(|k| DnsKeyRecord::for_key(k).text().into_bytes())
        .unwrap_or_default();
    for (i, name) in chain.key_queries().iter().enumerate() {
        let answer: KeyAnswer = match i % 3 {
            0 => Ok(vec![record.clone()]),
            1 => Err(dns::DnsError::NxDomain),
            _ => Ok(vec![b"v=DKIM1; p=".to_vec()]),
        };
        chain.set_key_answer(name, answer);
    }
    let sealing = key.and_then(|k| {
        Sealer::new(k, SealerConfig::new("fuzz.example", "s"))
            .ok()
            .map(|s| s.start(&mut hashes))
    });
    hashes.update(&msg.body);
    let hashes = hashes.finish();
    let outcome = chain.finish(&hashes);
    check_invariants(&outcome);
    let _ = outcome.method_result(None).reason;
    let _ = outcome.report_comment();

    if let Some(session) = sealing {
        let payload = authres::AuthenticationResults::new("fuzz.example");
        if let Ok(set) = session.seal(&hashes, &msg.headers, &outcome, &payload, NOW) {
            assert!(set.instance >= 1 && set.instance <= MAX_INSTANCE);
            if outcome.result == ChainStatus::Fail {
                assert_eq!(
                    set.cv,
                    ChainStatus::Fail,
                    "a failed chain sealed as {}",
                    set.cv
                );
            }
            for f in set.top_down() {
                assert!(ArcField::ALL.iter().any(|a| a.name() == f.name()));
            }
        }
    }
}

fn check_invariants(o: &ArcOutcome) {
    assert!(o.highest_instance <= MAX_INSTANCE);
    assert!(o.sets.len() <= MAX_INSTANCE as usize);
    match o.result {
        ChainStatus::Pass => {
            assert!(o.reason.is_none());
            assert_eq!(o.sets.len(), o.instances as usize);
        }
        ChainStatus::Fail => assert!(o.reason.is_some()),
        ChainStatus::None => assert!(o.reason.is_none() && o.sets.is_empty()),
    }
}
