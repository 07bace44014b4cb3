//! RFC 8301: rsa-sha1 is historic (policy by default, legacy opt-in verifies it), RSA keys
//! under 1024 bits are never valid, 1024-bit rsa-sha256 verifies; and the per-message bound
//! on evaluated signatures.

mod common;

use dkim::{DkimResult, Reason, RsaSha1Policy, Verifier, VerifyOptions};
use dns::memory::MemoryResolver;
use test_support::block_on;

fn perl_resolver() -> MemoryResolver {
    let r = MemoryResolver::new();
    let dns = String::from_utf8_lossy(&common::read("perl-mail-dkim/FAKE_DNS.dat")).into_owned();
    common::load_name_value_lines(&r, &dns);
    r
}

fn verify(policy: RsaSha1Policy, file: &str) -> Vec<dkim::SignatureResult> {
    let v = Verifier::new(VerifyOptions {
        rsa_sha1: policy,
        ..VerifyOptions::default()
    });
    let raw = common::read(file);
    block_on(dkim::verify_message(
        &v,
        &perl_resolver(),
        &raw,
        1_700_000_000,
    ))
}

#[test]
fn rsa_sha1_is_policy_by_default_and_no_dns_is_asked() {
    let r = perl_resolver();
    let v = Verifier::new(VerifyOptions::default());
    let raw = common::read("perl-mail-dkim/corpus/good_83176.txt");
    let results = block_on(dkim::verify_message(&v, &r, &raw, 1_700_000_000));
    assert_eq!(results[0].result, DkimResult::Policy);
    assert_eq!(results[0].reason, Some(Reason::RsaSha1NotAcceptable));
    assert_eq!(
        results[0].reason.as_ref().unwrap().to_string(),
        "rsa-sha1 is not acceptable (RFC 8301)"
    );
    assert_eq!(r.query_count(), 0);
}

#[test]
fn rsa_sha1_fail_mode() {
    let results = verify(RsaSha1Policy::Fail, "perl-mail-dkim/corpus/good_83176.txt");
    assert_eq!(results[0].result, DkimResult::Fail);
    assert_eq!(results[0].reason, Some(Reason::RsaSha1NotAcceptable));
}

#[test]
fn rsa_sha1_legacy_mode_verifies() {
    let results = verify(
        RsaSha1Policy::Verify,
        "perl-mail-dkim/corpus/good_83176.txt",
    );
    assert_eq!(results[0].result, DkimResult::Pass, "{results:?}");
    assert_eq!(results[0].key_bits, Some(1024));
}

#[test]
fn keys_under_1024_bits_are_policy_even_in_legacy_mode() {
    let results = verify(RsaSha1Policy::Verify, "perl-mail-dkim/corpus/goodkey_1.txt");
    assert_eq!(results[0].result, DkimResult::Policy);
    assert_eq!(results[0].reason, Some(Reason::KeyTooSmall { bits: 512 }));
    assert_eq!(
        results[0].reason.as_ref().unwrap().to_string(),
        "key too small (512 bits)"
    );
    assert!(results[0].testing, "test1 record has t=y");
}

#[test]
fn rsa_1024_sha256_verifies() {
    let r = MemoryResolver::new();
    let dns = String::from_utf8(common::read("rfc-examples/rfc8463-dns.txt")).unwrap();
    common::load_name_value_lines(&r, &dns);
    let raw = common::read("rfc-examples/rfc8463-signed.eml");
    let results = block_on(dkim::verify_message(
        &Verifier::default(),
        &r,
        &raw,
        1_528_637_909,
    ));
    assert_eq!(results[1].result, DkimResult::Pass);
    assert_eq!(results[1].key_bits, Some(1024));
}

#[test]
fn too_many_signatures_are_not_evaluated() {
    let raw = String::from_utf8(common::read("rfc-examples/rfc8463-signed.eml")).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let msg = dkim::parse_message(raw.as_bytes());
    let sig = msg
        .headers
        .iter()
        .find(|h| h.name_is("DKIM-Signature"))
        .unwrap();
    let sig_line = format!("DKIM-Signature:{}\r\n", String::from_utf8_lossy(&sig.value));
    let many = format!("{}{head}\r\n\r\n{body}", sig_line.repeat(9));
    let r = MemoryResolver::new();
    let dns = String::from_utf8(common::read("rfc-examples/rfc8463-dns.txt")).unwrap();
    common::load_name_value_lines(&r, &dns);
    let results = block_on(dkim::verify_message(
        &Verifier::default(),
        &r,
        many.as_bytes(),
        1_528_637_909,
    ));
    assert_eq!(results.len(), 11);
    let evaluated = results
        .iter()
        .filter(|x| x.reason != Some(Reason::TooManySignatures))
        .count();
    assert_eq!(evaluated, 8);
    assert!(results[..8].iter().all(|x| x.result == DkimResult::Pass));
    assert!(
        results[8..]
            .iter()
            .all(|x| x.result == DkimResult::PermError)
    );
}
