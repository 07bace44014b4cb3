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
