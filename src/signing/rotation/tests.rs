//! Key rotation driven through the key checker with an in-memory DNS and an explicit clock:
//! publish → wait → sign with the new key → old retired, and never a signature with a key
//! whose record is missing, different, revoked or restricted.

use std::path::Path;

use dkim::{DnsKeyRecord, KeyAlgorithm, generate_key};
use dns::memory::MemoryResolver;

use super::*;
use crate::config::Config;

const HOUR: u64 = 3600;

/// Writes an Ed25519 key (mode 0600) and returns (path, its DNS record text).
fn new_key(dir: &Path, name: &str) -> (String, String) {
    use std::os::unix::fs::PermissionsExt;
    let key = generate_key(KeyAlgorithm::Ed25519).unwrap();
    let path = dir.join(format!("{name}.pem"));
    std::fs::write(&path, key.private_key_pem.as_bytes()).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    (path.display().to_string(), key.record.text())
}

/// The vendored RSA test key (mode 0600 copy) and its record.
fn rsa_key(dir: &Path) -> (String, String) {
    use std::os::unix::fs::PermissionsExt;
    let pem = include_str!("../../../crates/dkim/tests/data/keys/rsa2048.pem");
    let path = dir.join("rsa.pem");
    std::fs::write(&path, pem).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let key = crypto::default_provider()
        .signing_key(pem.as_bytes())
        .unwrap();
    (
        path.display().to_string(),
        DnsKeyRecord::for_key(&*key).text(),
    )
}

fn key_block(name: &str, selector: &str, path: &str, state: &str) -> String {
    format!(
        "[[dkim.key]]\nname = \"{name}\"\ndomain = \"example.com\"\nselector = \"{selector}\"\npath = \"{path}\"\nstate = \"{state}\"\n"
    )
}

fn load(toml: &str) -> SigningKeys {
    let config = Config::parse(toml).unwrap();
    SigningKeys::load(&config.dkim).unwrap()
}

fn signing(keys: &SigningKeys) -> Vec<String> {
    keys.for_domain("example.com")
        .iter()
        .map(|k| k.id.clone())
        .collect()
}

fn check(keys: &SigningKeys, dns: &MemoryResolver, now: u64) -> Option<Duration> {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(check_published(keys, dns, now))
}

struct Setup {
    dir: tempfile::TempDir,
    toml: String,
    old_record: String,
    new_record: String,
}

/// Active key "old" (published) and next key "new" (not yet published), publish_wait 1 h.
fn setup(extra: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let (old_path, old_record) = new_key(dir.path(), "old");
    let (new_path, new_record) = new_key(dir.path(), "new");
    let state = dir.path().join("state.json");
    let toml = format!(
        "[dkim]\npublish_wait = \"1h\"\nstate_file = \"{}\"\n{}\n{}{extra}",
        state.display(),
        key_block("old", "old", &old_path, "active"),
        key_block("new", "new", &new_path, "next"),
    );
    Setup {
        dir,
        toml,
        old_record,
        new_record,
    }
}

#[test]
fn publish_wait_sign_retire() {
    let s = setup("");
    let keys = load(&s.toml);
    let dns = MemoryResolver::new();
    dns.add_txt("old._domainkey.example.com", &s.old_record);
    // before any check the active key signs; the next key never does
    assert_eq!(signing(&keys), ["old"]);
    // not published yet
    assert_eq!(check(&keys, &dns, 1000), None);
    assert_eq!(signing(&keys), ["old"]);
    // published: the wait starts
    dns.add_txt("new._domainkey.example.com", &s.new_record);
    assert_eq!(check(&keys, &dns, 2000), Some(Duration::from_secs(HOUR)));
    assert_eq!(signing(&keys), ["old"]);
    assert_eq!(
        check(&keys, &dns, 2000 + HOUR - 1),
        Some(Duration::from_secs(1))
    );
    assert_eq!(signing(&keys), ["old"]);
    // an hour of continuous publication: the new key signs, the old one is retired
    assert_eq!(check(&keys, &dns, 2000 + HOUR), None);
    assert_eq!(signing(&keys), ["new"]);
    let report = keys.report();
    assert!(!report[0].signing && report[1].signing, "{report:?}");
    // the promotion is remembered across a restart: no second wait
    let restarted = load(&s.toml);
    assert_eq!(
        signing(&restarted),
        ["old"],
        "unchecked successor: the old key still signs"
    );
    check(&restarted, &dns, 9000);
    assert_eq!(signing(&restarted), ["new"]);
    // the successor's record vanishes: it stops signing and the retired key signs again
    let gone = MemoryResolver::new();
    gone.add_txt("old._domainkey.example.com", &s.old_record);
    check(&keys, &gone, 10_000);
    assert_eq!(signing(&keys), ["old"]);
    drop(s.dir);
}

#[test]
fn a_break_in_publication_restarts_the_wait() {
    let s = setup("");
    let keys = load(&s.toml);
    let with = MemoryResolver::new();
    with.add_txt("old._domainkey.example.com", &s.old_record);
    with.add_txt("new._domainkey.example.com", &s.new_record);
    let without = MemoryResolver::new();
    without.add_txt("old._domainkey.example.com", &s.old_record);
    check(&keys, &with, 0);
    check(&keys, &without, 1800);
    assert_eq!(check(&keys, &with, 2000), Some(Duration::from_secs(HOUR)));
    check(&keys, &with, HOUR + 100);
    assert_eq!(signing(&keys), ["old"]);
    // a temporary DNS failure is no break, but the 2600 s until DNS answers again do not count
    let failing = MemoryResolver::new();
    failing.fail("new._domainkey.example.com", dns::DnsError::Timeout);
    failing.add_txt("old._domainkey.example.com", &s.old_record);
    check(&keys, &failing, 3000);
    check(&keys, &with, 2000 + HOUR);
    assert_eq!(signing(&keys), ["old"]);
    check(&keys, &with, 2000 + 2600 + HOUR);
    assert_eq!(signing(&keys), ["new"]);
}

#[test]
fn never_signs_with_a_missing_different_revoked_or_restricted_record() {
    let s = setup("");
    let (_, stranger) = new_key(s.dir.path(), "stranger");
    let ed = |extra: &str| {
        s.new_record
            .replace("k=ed25519;", &format!("k=ed25519; {extra}"))
    };
    let cases = [
        ("missing", None),
        ("different", Some(stranger.clone())),
        ("revoked", Some("v=DKIM1; k=ed25519; p=".to_string())),
        ("h=sha1", Some(ed("h=sha1;"))),
        ("s=tlsrpt", Some(ed("s=tlsrpt;"))),
    ];
    for (what, record) in cases {
        let keys = load(&s.toml);
        let dns = MemoryResolver::new();
        dns.add_txt("old._domainkey.example.com", &s.old_record);
        if let Some(r) = &record {
            dns.add_txt("new._domainkey.example.com", r);
        }
        for now in [0, HOUR, 10 * HOUR, 100 * HOUR] {
            assert_eq!(check(&keys, &dns, now), None, "{what}");
            assert_eq!(signing(&keys), ["old"], "{what} at {now}");
        }
        let report = keys.report();
        assert!(
            !report[1].signing && report[1].dns != "published",
            "{what}: {report:?}"
        );
    }
    // an active key with such a record stops signing too, and each passed-over message counts
    let keys = load(&s.toml);
    let dns = MemoryResolver::new();
    dns.add_txt("old._domainkey.example.com", &stranger);
    check(&keys, &dns, 0);
    assert!(signing(&keys).is_empty());
    assert!(signing(&keys).is_empty());
    assert_eq!(keys.report()[0].refused, 2);
}

#[test]
fn a_reload_keeps_the_running_wait_and_new_keys_start_unchecked() {
    let s = setup("");
    let keys = load(&s.toml);
    let dns = MemoryResolver::new();
    dns.add_txt("old._domainkey.example.com", &s.old_record);
    dns.add_txt("new._domainkey.example.com", &s.new_record);
    check(&keys, &dns, 0);
    let mut reloaded = load(&s.toml);
    reloaded.continue_from(&keys);
    assert_eq!(
        check(&reloaded, &dns, 1000),
        Some(Duration::from_secs(HOUR - 1000))
    );
    check(&reloaded, &dns, HOUR);
    assert_eq!(signing(&reloaded), ["new"]);
    // a reload that changes the key behind "new" makes it a new key: unchecked, waiting again
    let (other_path, _) = new_key(s.dir.path(), "other");
    let changed = s.toml.replace(
        &s.dir.path().join("new.pem").display().to_string(),
        &other_path,
    );
    let mut swapped = load(&changed);
    swapped.continue_from(&reloaded);
    assert_eq!(signing(&swapped), ["old"]);
}

#[test]
fn signing_rules_follow_the_successor_and_other_key_types_stay() {
    let dir = tempfile::tempdir().unwrap();
    let (old_path, old_record) = new_key(dir.path(), "old");
    let (new_path, new_record) = new_key(dir.path(), "new");
    let (rsa_path, rsa_record) = rsa_key(dir.path());
    let toml = format!(
        "[dkim]\nstate_file = \"\"\n{}{}{}\
         [[dkim.signing]]\nfrom = \"example.com\"\nkeys = [\"rsa\", \"old\"]\n",
        key_block("old", "old", &old_path, "active"),
        key_block("new", "new", &new_path, "next"),
        key_block("rsa", "rsa", &rsa_path, "active"),
    );
    let keys = load(&toml);
    let dns = MemoryResolver::new();
    dns.add_txt("old._domainkey.example.com", &old_record);
    dns.add_txt("new._domainkey.example.com", &new_record);
    dns.add_txt("rsa._domainkey.example.com", &rsa_record);
    check(&keys, &dns, 0);
    assert_eq!(signing(&keys), ["rsa", "old"]);
    check(&keys, &dns, HOUR);
    // the rule names "old"; its successor signs in its place; the RSA key is another type
    assert_eq!(signing(&keys), ["rsa", "new"]);
}

#[test]
fn a_retired_key_never_signs_and_is_not_checked() {
    let s = setup("");
    let toml = s.toml.replace("state = \"active\"", "state = \"retired\"");
    let keys = load(&toml);
    let dns = MemoryResolver::new();
    check(&keys, &dns, 0);
    assert!(signing(&keys).is_empty());
    assert!(
        dns.queries().iter().all(|(_, n)| !n.starts_with("old.")),
        "{:?}",
        dns.queries()
    );
}

/// A temporary DNS failure is not publication (docs/dkim.md, Key rotation step 2: "a DNS
/// timeout neither counts nor breaks it"): the time from a check DNS did not answer to the next
/// one that saw the record again does not count towards `publish_wait`, and a next key whose
/// wait ends at a check DNS did not answer is promoted only once a later check sees its record.
#[test]
fn time_dns_did_not_answer_does_not_count_towards_the_wait() {
    let s = setup("");
    let keys = load(&s.toml);
    let with = MemoryResolver::new();
    with.add_txt("old._domainkey.example.com", &s.old_record);
    with.add_txt("new._domainkey.example.com", &s.new_record);
    let failing = MemoryResolver::new();
    failing.add_txt("old._domainkey.example.com", &s.old_record);
    failing.fail("new._domainkey.example.com", dns::DnsError::Timeout);
    check(&keys, &with, 0);
    check(&keys, &failing, 600);
    check(&keys, &failing, 3000);
    // seen again: 3000 s of the hour were unanswered, so 600 s count
    check(&keys, &with, HOUR);
    assert_eq!(signing(&keys), ["old"], "the unanswered time counted");
    // the wait ends at 6600, at a check DNS does not answer
    check(&keys, &failing, 6600);
    assert_eq!(signing(&keys), ["old"], "promoted on a failed lookup");
    check(&keys, &with, 6660);
    assert_eq!(signing(&keys), ["new"]);
}

/// Several TXT records at the next key's name, one of them ours: RFC 6376 §3.6.2.2 "if there
/// are multiple records in an RRset, the results are undefined" (libopendkim refuses them all,
/// others pick any one), so DNS does not serve "exactly this public key" and the key is not
/// promoted: the old key keeps signing until the name holds our record alone, and the wait
/// starts then. An active key beside a second record keeps signing (verifiers that pick ours
/// still verify; refusing would leave the mail unsigned everywhere).
#[test]
fn several_records_at_the_next_key_name_block_the_promotion() {
    let s = setup("");
    let keys = load(&s.toml);
    let dns = MemoryResolver::new();
    dns.add_txt("old._domainkey.example.com", &s.old_record);
    dns.add_txt("old._domainkey.example.com", "v=DKIM1; k=ed25519; p=");
    dns.add_txt("new._domainkey.example.com", &s.new_record);
    dns.add_txt("new._domainkey.example.com", &s.old_record);
    check(&keys, &dns, 1000);
    check(&keys, &dns, 1000 + 2 * HOUR);
    assert_eq!(signing(&keys), ["old"]);
    let report = keys.report();
    assert!(report[1].dns.contains("2 TXT records"), "{report:?}");
    // the stray record goes: the wait starts now
    let dns = MemoryResolver::new();
    dns.add_txt("old._domainkey.example.com", &s.old_record);
    dns.add_txt("new._domainkey.example.com", &s.new_record);
    assert_eq!(
        check(&keys, &dns, 1000 + 3 * HOUR),
        Some(Duration::from_secs(HOUR))
    );
    assert_eq!(signing(&keys), ["old"]);
    check(&keys, &dns, 1000 + 4 * HOUR);
    assert_eq!(signing(&keys), ["new"]);
}

/// Two rotations before milter.toml is edited (the first new key still `state = "next"`,
/// promoted in the state file, when the second is added): the second promotion retires the
/// first new key too, and the rule naming the original key follows the whole chain
/// old → new → newest, so only the newest signs; if it stops being usable, the next newest
/// signs again.
#[test]
fn a_second_rotation_retires_the_first_promoted_key_and_the_rule_follows_the_chain() {
    let s = setup("[[dkim.signing]]\nfrom = \"example.com\"\nkeys = [\"old\"]\n");
    let keys = load(&s.toml);
    let dns = MemoryResolver::new();
    dns.add_txt("old._domainkey.example.com", &s.old_record);
    dns.add_txt("new._domainkey.example.com", &s.new_record);
    check(&keys, &dns, 0);
    check(&keys, &dns, HOUR);
    assert_eq!(signing(&keys), ["new"]);
    // the second rotation, milter.toml otherwise untouched
    let (newest_path, newest_record) = new_key(s.dir.path(), "newest");
    let toml = format!(
        "{}{}",
        s.toml,
        key_block("newest", "newest", &newest_path, "next")
    );
    let keys = load(&toml);
    dns.add_txt("newest._domainkey.example.com", &newest_record);
    check(&keys, &dns, 2 * HOUR);
    assert_eq!(signing(&keys), ["new"]);
    check(&keys, &dns, 3 * HOUR);
    assert_eq!(signing(&keys), ["newest"]);
    let report = keys.report();
    let signing_ids: Vec<&str> = report
        .iter()
        .filter(|r| r.signing)
        .map(|r| r.id.as_str())
        .collect();
    assert_eq!(signing_ids, ["newest"], "{report:?}");
    // without rules every key of the domain is a candidate: still only the newest
    let no_rule = load(&toml.replace(
        "[[dkim.signing]]\nfrom = \"example.com\"\nkeys = [\"old\"]\n",
        "",
    ));
    check(&no_rule, &dns, 3 * HOUR + 60);
    assert_eq!(signing(&no_rule), ["newest"]);
    // the newest key's record goes: the key it retired signs again
    let gone = MemoryResolver::new();
    gone.add_txt("old._domainkey.example.com", &s.old_record);
    gone.add_txt("new._domainkey.example.com", &s.new_record);
    check(&keys, &gone, 4 * HOUR);
    assert_eq!(signing(&keys), ["new"]);
}

/// A check DNS did not answer (the resolver not up yet at boot) is tried again within a
/// minute, not at the next `key_check_interval` an hour away: until then the key-published
/// metric says 0 and the documented alert fires.
#[test]
fn a_check_dns_did_not_answer_is_retried_within_a_minute() {
    let s = setup("");
    let keys = load(&s.toml);
    let failing = MemoryResolver::new();
    failing.fail("old._domainkey.example.com", dns::DnsError::Timeout);
    failing.fail("new._domainkey.example.com", dns::DnsError::Timeout);
    let due = check(&keys, &failing, 0);
    assert!(due.is_some_and(|d| d <= Duration::from_secs(60)), "{due:?}");
}

/// An active key whose record only one major verifier refuses (`k=ED25519`: dkimpy; OpenDKIM
/// verifies) keeps signing, warned: withdrawn, its mail would be unsigned everywhere. A next
/// key with such a record is not promoted.
#[test]
fn an_active_key_one_verifier_refuses_keeps_signing() {
    let s = setup("");
    let keys = load(&s.toml);
    let dns = MemoryResolver::new();
    dns.add_txt(
        "old._domainkey.example.com",
        s.old_record.replace("k=ed25519", "k=ED25519"),
    );
    dns.add_txt(
        "new._domainkey.example.com",
        s.new_record.replace("k=ed25519", "k=ED25519"),
    );
    check(&keys, &dns, 0);
    check(&keys, &dns, 2 * HOUR);
    assert_eq!(signing(&keys), ["old"]);
}
