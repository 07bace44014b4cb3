//! The smaller DKIM suites: mail-auth `resources/dkim`, dkimpy's static vectors and bad key
//! records, and the RFC 6376 Appendix A example (known broken: expected to fail).

mod common;

use dkim::{DkimResult, Reason, Verifier, VerifyOptions};
use dns::memory::MemoryResolver;
use serde::Deserialize;
use test_support::{SuiteTally, block_on};

/// mail-auth verifies at 1667843664 and does not check for future `t=`; 004.txt has
/// `t=1667862801` (5 h later), so we verify after every `t=` and before 005's `x=1667930064`.
const MAIL_AUTH_NOW: u64 = 1_667_870_000;

#[test]
fn mail_auth_dkim_resources() {
    let verifier = Verifier::new(VerifyOptions::default());
    let mut t = SuiteTally::new("mail-auth/dkim (signatures of 6 messages)");
    for n in 1..=6 {
        let file = format!("mail-auth/{n:03}.txt");
        let text = String::from_utf8(common::read(&file)).unwrap();
        let (dns, message) = text.split_once("\n\n").unwrap();
        let resolver = MemoryResolver::new();
        common::load_name_value_lines(&resolver, dns);
        let results = block_on(dkim::verify_message(
            &verifier,
            &resolver,
            message.as_bytes(),
            MAIL_AUTH_NOW,
        ));
        assert!(!results.is_empty(), "{file}: no signatures");
        for r in &results {
            if r.result == DkimResult::Pass {
                t.pass();
            } else {
                t.fail(format!("{file}: {r:?}"));
            }
        }
    }
    t.finish((8, 0));
}

/// dkimpy's static vectors in `cases.yml`, and the signatures they hold.
const DKIMPY_VECTORS: usize = 3;
const DKIMPY_SIGNATURES: usize = 4;
/// dkimpy's bad key records listed in `cases.yml` (plus test_tlsrpt.txt and the control).
const DKIMPY_BAD_KEYS: usize = 3;

#[derive(Debug, Deserialize)]
struct DkimpyCases {
    verify: Vec<DkimpyVerify>,
    key_record_negative: Vec<DkimpyBadKey>,
}

#[derive(Debug, Deserialize)]
struct DkimpyVerify {
    name: String,
    message: String,
    dns: std::collections::BTreeMap<String, String>,
    expect: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct DkimpyBadKey {
    record_file: String,
    why: String,
}

#[test]
fn dkimpy_static_vectors() {
    let cases: DkimpyCases = serde_yaml::from_slice(&common::read("dkimpy/cases.yml")).unwrap();
    let verifier = Verifier::new(VerifyOptions::default());
    let mut t = SuiteTally::new("dkimpy verify (vectors)");
    let mut sigs = 0;
    for case in &cases.verify {
        let resolver = MemoryResolver::new();
        for (name, value) in &case.dns {
            resolver.add_txt(name, value);
        }
        let raw = common::read(&format!("dkimpy/{}", case.message));
        // Old signatures: verify at a time after t= and before any x=.
        let results = block_on(dkim::verify_message(
            &verifier,
            &resolver,
            &raw,
            1_600_000_000,
        ));
        let got: Vec<String> = results.iter().map(|r| r.result.to_string()).collect();
        if got == case.expect {
            t.pass();
        } else {
            t.fail(format!(
                "{}: expected {:?}, got {results:?}",
                case.name, case.expect
            ));
        }
        sigs += results.len();
    }
    println!("dkimpy verify: {sigs} signatures checked");
    assert_eq!(sigs, DKIMPY_SIGNATURES);
    t.finish((DKIMPY_VECTORS, 0));
}

/// dkimpy publishes each bad record for a message signed with its RSA test key, which is the
/// RFC 8463 `test` key: so the RSA signature of the RFC 8463 example must not pass with it.
#[test]
fn dkimpy_bad_key_records() {
    let cases: DkimpyCases = serde_yaml::from_slice(&common::read("dkimpy/cases.yml")).unwrap();
    let raw = common::read("rfc-examples/rfc8463-signed.eml");
    let verifier = Verifier::new(VerifyOptions::default());
    let mut files: Vec<(String, String)> = cases
        .key_record_negative
        .iter()
        .map(|c| (c.record_file.clone(), c.why.clone()))
        .collect();
    files.push(("test_tlsrpt.txt".into(), "s=tlsrpt: not for email".into()));
    // Control: the good record (dkimpy test.txt) passes.
    files.push(("test.txt".into(), "control".into()));
    let mut t = SuiteTally::new("dkimpy bad key records (+ the good one as control)");
    for (file, why) in &files {
        let record = String::from_utf8(common::read(&format!("dkimpy/{file}"))).unwrap();
        let resolver = MemoryResolver::new();
        resolver.add_txt("test._domainkey.football.example.com", record.trim());
        let results = block_on(dkim::verify_message(
            &verifier,
            &resolver,
            &raw,
            1_528_637_909,
        ));
        let rsa = results.iter().find(|r| r.selector == "test").unwrap();
        if why == "control" {
            assert_eq!(rsa.result, DkimResult::Pass, "{file}");
        } else {
            assert_ne!(rsa.result, DkimResult::Pass, "{file} ({why})");
            println!(
                "dkimpy bad key {file}: {} ({})",
                rsa.result,
                rsa.reason.as_ref().unwrap()
            );
        }
        t.pass();
    }
    t.finish((DKIMPY_BAD_KEYS + 2, 0));
}

/// RFC 6376 Appendix A.2/A.3: the published example is known to be broken (its bh= is the
/// relaxed body hash while c=simple/simple, and b= does not verify either), so a correct
/// verifier reports fail "body hash did not verify" for both forms.
#[test]
fn rfc6376_appendix_a_is_known_broken() {
    let resolver = MemoryResolver::new();
    let dns = String::from_utf8(common::read("rfc-examples/rfc6376-dns.txt")).unwrap();
    common::load_name_value_lines(&resolver, &dns);
    let verifier = Verifier::new(VerifyOptions::default());
    for file in [
        "rfc-examples/rfc6376-A2-signed.eml",
        "rfc-examples/rfc6376-A3-verified.eml",
    ] {
        let raw = common::read(file);
        let results = block_on(dkim::verify_message(
            &verifier,
            &resolver,
            &raw,
            1_300_000_000,
        ));
        assert_eq!(results.len(), 1, "{file}");
        assert_eq!(results[0].result, DkimResult::Fail, "{file}: {results:?}");
        assert_eq!(results[0].reason, Some(Reason::BodyHashMismatch), "{file}");
    }
}
