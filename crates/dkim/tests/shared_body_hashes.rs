//! One body hash shared by verification and signing (RFC 6376 §3.7), and the verification
//! budget spent on signatures that could align first (RFC 6376 §6.1).

mod common;

use dkim::{
    BodyHashes, DkimResult, DnsKeyRecord, Reason, Signer, SignerConfig, Verifier, VerifyOptions,
};
use dns::memory::MemoryResolver;

const MESSAGE: &str = "From: Joe <joe@football.example.com>\r\n\
To: Suzie <suzie@shopping.example.net>\r\n\
Subject: shared\r\n\
\r\n\
Body  with   spaces.\r\n\r\n";

const NOW: u64 = 1_700_000_000;

fn signer(domain: &str) -> Signer {
    Signer::from_pem(
        &common::read("keys/rsa2048.pem"),
        SignerConfig::new(domain, "s1"),
    )
    .unwrap()
}

fn publish(r: &MemoryResolver, s: &Signer) {
    let rec = DnsKeyRecord::for_key(s.key());
    r.add_txt_strings(
        &dkim::key_name(&s.config().selector, &s.config().domain),
        &rec.txt_strings()
            .into_iter()
            .map(String::into_bytes)
            .collect::<Vec<_>>(),
    );
}

#[test]
fn verify_and_sign_hash_the_body_once() {
    let s = signer("football.example.com");
    let signed = format!(
        "{}{}",
        dkim::sign_message(&s, MESSAGE.as_bytes(), NOW)
            .unwrap()
            .to_field(),
        MESSAGE
    );
    let msg = dkim::parse_message(signed.as_bytes());
    let r = MemoryResolver::new();
    publish(&r, &s);

    let mut hashes = BodyHashes::default();
    let mut mv = Verifier::default().begin_shared(&msg.headers, NOW, &mut hashes, |_| false);
    let forwarder = signer("list.example.org");
    let session = forwarder.start_shared(&mut hashes);
    // relaxed/relaxed on both sides: one hasher for the verifier and the signer together
    assert_eq!(hashes.hasher_count(), 1);
    for chunk in msg.body.chunks(7) {
        hashes.update(chunk);
    }
    test_support::block_on(mv.lookup_keys(&r));
    let done = hashes.finish();
    assert_one_pass(&mv.finish_shared(&done, &msg.headers));

    let ours = session.finish_shared(&done, &msg.headers, NOW).unwrap();
    // our signature, made from the shared hash, verifies on its own
    let resigned = format!("{}{}", ours.to_field(), signed);
    publish(&r, &forwarder);
    let again = test_support::block_on(dkim::verify_message(
        &Verifier::default(),
        &r,
        resigned.as_bytes(),
        NOW + 1,
    ));
    assert!(
        again.iter().all(|x| x.result == DkimResult::Pass),
        "{again:?}"
    );
}

#[test]
fn junk_signatures_do_not_hide_one_that_could_align() {
    let good = signer("football.example.com");
    let header = dkim::sign_message(&good, MESSAGE.as_bytes(), NOW).unwrap();
    let mut raw = String::new();
    for i in 0..8 {
        // parseable, but from unrelated domains with no keys
        raw.push_str(&format!(
            "DKIM-Signature: v=1; a=rsa-sha256; d=junk{i}.example; s=x; h=from; bh=AAAA; b=AAAA\r\n"
        ));
    }
    raw.push_str(&header.to_field());
    raw.push_str(MESSAGE);
    let msg = dkim::parse_message(raw.as_bytes());
    let r = MemoryResolver::new();
    publish(&r, &good);
    let verifier = Verifier::new(VerifyOptions::default());
    let mut hashes = BodyHashes::default();
    let mut mv = verifier.begin_shared(&msg.headers, NOW, &mut hashes, |d| {
        d.eq_ignore_ascii_case("football.example.com")
    });
    hashes.update(&msg.body);
    test_support::block_on(mv.lookup_keys(&r));
    let results = mv.finish_shared(&hashes.finish(), &msg.headers);
    assert_eq!(results.len(), 9);
    // results stay in header order; the 9th (aligned) was evaluated, the 8th junk was not
    assert_eq!(
        results[8].result,
        DkimResult::Pass,
        "{:?}",
        results[8].reason
    );
    assert_eq!(results[7].reason, Some(Reason::TooManySignatures));
    let evaluated = results
        .iter()
        .filter(|x| x.reason != Some(Reason::TooManySignatures))
        .count();
    assert_eq!(evaluated, 8);
}

/// When every signature fits the budget, all are evaluated and the alignment guess (which the
/// milter computes by parsing From) is never asked for.
#[test]
fn signatures_within_the_budget_never_ask_which_could_align() {
    let good = signer("football.example.com");
    let header = dkim::sign_message(&good, MESSAGE.as_bytes(), NOW).unwrap();
    let raw = format!("{}{MESSAGE}", header.to_field());
    let msg = dkim::parse_message(raw.as_bytes());
    let r = MemoryResolver::new();
    publish(&r, &good);
    let verifier = Verifier::new(VerifyOptions::default());
    let mut hashes = BodyHashes::default();
    let asked = std::cell::Cell::new(0);
    let mut mv = verifier.begin_shared(&msg.headers, NOW, &mut hashes, |_| {
        asked.set(asked.get() + 1);
        false
    });
    hashes.update(&msg.body);
    test_support::block_on(mv.lookup_keys(&r));
    assert_one_pass(&mv.finish_shared(&hashes.finish(), &msg.headers));
    assert_eq!(asked.get(), 0);
}

/// One result, and it is a pass.
fn assert_one_pass(results: &[dkim::SignatureResult]) {
    assert_eq!(results.len(), 1);
    assert_eq!(
        results[0].result,
        DkimResult::Pass,
        "{:?}",
        results[0].reason
    );
}
