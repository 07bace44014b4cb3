//! Rotations done as `dkim rotate` instructs, with a `[[dkim.signing]]` rule that names the
//! first RSA key: after each promotion, and after step 4 made it permanent in milter.toml
//! (with or without `dkim.state_file`), the newest RSA key signs (docs/dkim.md, Key rotation
//! steps 3 and 4). Each stage is a fresh start of the server on the same state file; the key
//! checker runs with an explicit clock.

use std::path::Path;

use authmilter::signing::check_published;

use crate::signing::outgoing;
use crate::support::Milter;

const HOUR: u64 = 3600;
const START: u64 = 1_800_000_000;

const RSA: dkim::KeyAlgorithm = dkim::KeyAlgorithm::Rsa { bits: 2048 };
const ED25519: dkim::KeyAlgorithm = dkim::KeyAlgorithm::Ed25519;

/// [`key_file`] for each `(selector, algorithm)`: the zone lines of them all.
fn key_files(dir: &Path, keys: &[(&str, dkim::KeyAlgorithm)]) -> String {
    keys.iter()
        .map(|(selector, algorithm)| key_file(dir, selector, *algorithm))
        .collect()
}

/// Writes a key file (mode 0600) for example.com at `selector`; returns its zone line.
fn key_file(dir: &Path, selector: &str, algorithm: dkim::KeyAlgorithm) -> String {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let k = dkim::generate_key(algorithm).expect("keygen");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(dir.join(format!("{selector}.pem")))
        .expect("key file");
    f.write_all(k.private_key_pem.as_bytes())
        .expect("write key");
    format!(
        "{selector}._domainkey.example.com TXT \"{}\"\n",
        k.record.text()
    )
}

fn key_block(dir: &Path, name: &str, selector: &str, state: &str) -> String {
    format!(
        "[[dkim.key]]\nname = \"{name}\"\ndomain = \"example.com\"\nselector = \"{selector}\"\npath = \"{}\"\nstate = \"{state}\"\n",
        dir.join(format!("{selector}.pem")).display()
    )
}

/// The `s=` of every signature the sign listener adds to a message from example.com, sorted.
async fn selectors(m: &Milter) -> Vec<String> {
    let mut mta = m.postfix().await;
    let raw = outgoing("example.com");
    mta.connect(
        "submit.example.com",
        "203.0.113.5".parse().expect("ip"),
        587,
        &[],
    )
    .await
    .expect("connect");
    mta.helo("laptop", &[]).await.expect("helo");
    let out = mta
        .send_transaction("<alice@example.com>", &["<bob@example.net>"], &raw)
        .await
        .expect("message");
    let mut found: Vec<String> = out
        .added_headers()
        .iter()
        .filter(|(_, name, _)| name.eq_ignore_ascii_case(b"DKIM-Signature"))
        .filter_map(|(_, _, value)| {
            let value = String::from_utf8_lossy(value).replace(['\n', '\t', ' '], "");
            value
                .split(';')
                .find_map(|tag| tag.strip_prefix("s=").map(str::to_string))
        })
        .collect();
    found.sort();
    found
}

/// `rsa-old` → `rsa-new` → `rsa-newer`, the rule naming `rsa-old` and `ed` throughout:
/// replays the review's repro-chain.sh (the second promotion left `rsa-new` signing, and step 4
/// of the second rotation left no RSA key at all).
#[tokio::test(flavor = "multi_thread")]
async fn a_rule_naming_the_first_key_signs_with_the_newest_after_two_rotations() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let zone = key_files(
        d,
        &[("s1", RSA), ("e1", ED25519), ("s2", RSA), ("202612", RSA)],
    );
    let head = format!(
        "[[server.listen]]\nsocket = \"inet:127.0.0.1:0\"\nrole = \"sign\"\n[dkim]\npublish_wait = \"1h\"\nstate_file = \"{}\"\n",
        d.join("state.json").display()
    );
    let rule = "[[dkim.signing]]\nfrom = \"example.com\"\nkeys = [\"rsa-old\", \"ed\"]\n";
    let config = |keys: &[(&str, &str, &str)]| {
        let blocks: String = keys
            .iter()
            .map(|(name, selector, state)| key_block(d, name, selector, state))
            .collect();
        format!("{head}{blocks}{rule}")
    };
    // the first rotation: s2 published for an hour is promoted
    let first = config(&[
        ("rsa-old", "s1", "active"),
        ("ed", "e1", "active"),
        ("rsa-new", "s2", "next"),
    ]);
    let m = Milter::start(&first, &zone).await;
    check_published(&m.app.signing, &*m.dns, START).await;
    check_published(&m.app.signing, &*m.dns, START + HOUR).await;
    assert_eq!(
        selectors(&m).await,
        ["e1", "s2"],
        "after the first rotation"
    );
    m.stop().await;
    // its step 4, and a second rotation (selector 202612) promoted in turn
    let second = config(&[
        ("rsa-old", "s1", "retired"),
        ("ed", "e1", "active"),
        ("rsa-new", "s2", "active"),
        ("rsa-newer", "202612", "next"),
    ]);
    let m = Milter::start(&second, &zone).await;
    check_published(&m.app.signing, &*m.dns, START + 2 * HOUR).await;
    check_published(&m.app.signing, &*m.dns, START + 3 * HOUR).await;
    assert_eq!(
        selectors(&m).await,
        ["202612", "e1"],
        "after the second rotation"
    );
    m.stop().await;
    // the second rotation's step 4
    let third = config(&[
        ("rsa-old", "s1", "retired"),
        ("ed", "e1", "active"),
        ("rsa-new", "s2", "retired"),
        ("rsa-newer", "202612", "active"),
    ]);
    let m = Milter::start(&third, &zone).await;
    check_published(&m.app.signing, &*m.dns, START + 4 * HOUR).await;
    assert_eq!(
        selectors(&m).await,
        ["202612", "e1"],
        "after the second rotation's step 4"
    );
    m.stop().await;
}

/// A rule signs with the keys it names, never with other keys of the domain: with no state
/// file (a new or restored server) a rule still naming the key step 4 retired signs with
/// Ed25519 alone, and `config check` says so loudly (name the new key in the rule). Another
/// active RSA key of the domain, serving another rule (a bulk stream), is not added to it (a
/// review found one retired key standing for every active key of its domain: three
/// signatures, two reputations mixed).
#[tokio::test(flavor = "multi_thread")]
async fn a_rule_signs_with_the_keys_it_names_and_no_other() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let zone = key_files(
        d,
        &[("s1", RSA), ("e1", ED25519), ("s2", RSA), ("bulk", RSA)],
    );
    let toml = format!(
        "[[server.listen]]\nsocket = \"inet:127.0.0.1:0\"\nrole = \"sign\"\n[dkim]\nstate_file = \"\"\n{}{}{}{}[[dkim.signing]]\nfrom = \"news.example.com\"\nkeys = [\"bulk\"]\n[[dkim.signing]]\nfrom = \"example.com\"\nkeys = [\"rsa-old\", \"ed\"]\n",
        key_block(d, "rsa-old", "s1", "retired"),
        key_block(d, "ed", "e1", "active"),
        key_block(d, "rsa-new", "s2", "active"),
        key_block(d, "bulk", "bulk", "active"),
    );
    let m = Milter::start(&toml, &zone).await;
    check_published(&m.app.signing, &*m.dns, START).await;
    assert_eq!(selectors(&m).await, ["e1"]);
    let warnings = m.app.signing.rule_warnings();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("names RSA keys but none of them signs by itself: rsa-old")),
        "{warnings:?}"
    );
    m.stop().await;
}

/// A key retired at once (a compromised key) with its replacement staged as `next` and
/// `replaces` naming it: once the new key is promoted, the rule naming the retired one signs
/// with it (a review found the rule left with Ed25519 alone). Without `replaces` a retired key
/// is never revived by a promotion (a key retired to stop a rule stays stopped).
#[tokio::test(flavor = "multi_thread")]
async fn a_key_retired_at_once_is_followed_by_the_next_key_promoted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let zone = key_files(d, &[("s1", RSA), ("e1", ED25519), ("s2", RSA)]);
    let toml = format!(
        "[[server.listen]]\nsocket = \"inet:127.0.0.1:0\"\nrole = \"sign\"\n[dkim]\npublish_wait = \"1h\"\nstate_file = \"{}\"\n{}{}{}[[dkim.signing]]\nfrom = \"example.com\"\nkeys = [\"rsa-old\", \"ed\"]\n",
        d.join("state.json").display(),
        key_block(d, "rsa-old", "s1", "retired"),
        key_block(d, "ed", "e1", "active"),
        key_block(d, "rsa-new", "s2", "next") + "replaces = [\"rsa-old\"]\n",
    );
    let m = Milter::start(&toml, &zone).await;
    check_published(&m.app.signing, &*m.dns, START).await;
    assert_eq!(selectors(&m).await, ["e1"], "before the promotion");
    check_published(&m.app.signing, &*m.dns, START + HOUR).await;
    assert_eq!(selectors(&m).await, ["e1", "s2"], "after the promotion");
    m.stop().await;
    // without replaces the retired key stays retired
    let _ = std::fs::remove_file(d.join("state.json"));
    let unnamed = toml.replace("replaces = [\"rsa-old\"]\n", "");
    let m = Milter::start(&unnamed, &zone).await;
    check_published(&m.app.signing, &*m.dns, START).await;
    check_published(&m.app.signing, &*m.dns, START + HOUR).await;
    assert_eq!(selectors(&m).await, ["e1"], "a retired key is not revived");
    m.stop().await;
}

/// Two active RSA keys of one domain for two purposes (a corporate and a bulk stream, each
/// named by its own rule): rotating the corporate one with `replaces` leaves the bulk rule on
/// its own key (a review found a promotion retiring every active key of the domain, the bulk
/// rule then signing with the corporate key for good); without `replaces`, config check says
/// which keys the promotion would retire.
#[tokio::test(flavor = "multi_thread")]
async fn a_rotation_replaces_only_the_keys_it_names() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let zone = key_files(d, &[("s1", RSA), ("bulk", RSA), ("s2", RSA)]);
    let rules = "[[dkim.signing]]\nfrom = \"news.example.com\"\nkeys = [\"bulk\"]\n[[dkim.signing]]\nfrom = \"example.com\"\nkeys = [\"corp\"]\n";
    let toml = |replaces: &str| {
        format!(
            "[[server.listen]]\nsocket = \"inet:127.0.0.1:0\"\nrole = \"sign\"\n[dkim]\npublish_wait = \"1h\"\nstate_file = \"\"\n{}{}{}{replaces}{rules}",
            key_block(d, "corp", "s1", "active"),
            key_block(d, "bulk", "bulk", "active"),
            key_block(d, "corp-new", "s2", "next"),
        )
    };
    let named = toml("replaces = [\"corp\"]\n");
    let m = Milter::start(&named, &zone).await;
    check_published(&m.app.signing, &*m.dns, START).await;
    check_published(&m.app.signing, &*m.dns, START + HOUR).await;
    assert_eq!(
        selectors(&m).await,
        ["s2"],
        "the corporate rule follows its key"
    );
    let news = m.app.signing.for_domain("news.example.com");
    let news: Vec<&str> = news.iter().map(|k| k.selector.as_str()).collect();
    assert_eq!(news, ["bulk"], "the bulk rule keeps its key");
    assert!(m.app.signing.rotation_warnings().is_empty());
    m.stop().await;
    let m = Milter::start(&toml(""), &zone).await;
    let warnings = m.app.signing.rotation_warnings();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("\"corp-new\" (next) has no replaces") && w.contains("corp, bulk")),
        "{warnings:?}"
    );
    m.stop().await;
}

/// A rule whose RSA key is retired with no RSA key left to replace it signs with Ed25519 only,
/// which Gmail and Microsoft do not verify: `config check` says so (and passes); a rule whose
/// retired key has an active replacement gets no warning.
#[test]
fn config_check_warns_of_a_rule_left_without_an_rsa_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    key_files(d, &[("s1", RSA), ("e1", ED25519), ("s2", RSA)]);
    let cfg = d.join("milter.toml");
    let check = |keys: &str| {
        std::fs::write(
            &cfg,
            format!(
                "[dkim]\nstate_file = \"\"\n{keys}[[dkim.signing]]\nfrom = \"example.com\"\nkeys = [\"rsa-old\", \"ed\"]\n"
            ),
        )
        .expect("config");
        crate::support::run_cli(
            &["config", "check", "-c", cfg.to_str().expect("utf-8")],
            None,
        )
    };
    let stranded = format!(
        "{}{}",
        key_block(d, "rsa-old", "s1", "retired"),
        key_block(d, "ed", "e1", "active")
    );
    let (code, _, err) = check(&stranded);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("dkim.signing[0]")
            && err.contains("names RSA keys but none of them signs by itself: rsa-old"),
        "{err}"
    );
    // another RSA key in the domain does not sign for the rule: still said, more quietly
    // only once the rule names an RSA key that signs
    let replaced = format!("{stranded}{}", key_block(d, "rsa-new", "s2", "active"));
    let (code, _, err) = check(&replaced);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("names RSA keys but none of them signs by itself"),
        "{err}"
    );
}

/// Without `[[dkim.signing]]` rules a domain's keys sign its mail: a domain whose RSA keys are
/// all retired or not yet promoted (step 4 of a rotation done before its new key was promoted)
/// signs with Ed25519 alone until a promotion, which Gmail and Microsoft do not verify, and
/// `config check` says so, as it does for a rule.
#[tokio::test(flavor = "multi_thread")]
async fn a_domain_left_without_an_active_rsa_key_is_warned_about() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let zone = key_files(d, &[("s1", RSA), ("e1", ED25519), ("s2", RSA)]);
    // the rule warnings of a sign listener with these `keys` (and rules)
    let warnings = async |keys: String| {
        let toml = format!(
            "[[server.listen]]\nsocket = \"inet:127.0.0.1:0\"\nrole = \"sign\"\n[dkim]\nstate_file = \"\"\n{keys}"
        );
        let m = Milter::start(&toml, &zone).await;
        let warnings = m.app.signing.rule_warnings();
        m.stop().await;
        warnings
    };
    let said = |warnings: &[String], what: &str, words: &str| {
        assert!(
            warnings
                .iter()
                .any(|w| w.contains(what) && w.contains(words)),
            "{what} {words}: {warnings:?}"
        );
    };
    let (old_retired, ed, new_next, new_active) = (
        key_block(d, "rsa-old", "s1", "retired"),
        key_block(d, "ed", "e1", "active"),
        key_block(d, "rsa-new", "s2", "next"),
        key_block(d, "rsa-new", "s2", "active"),
    );
    let w = warnings(format!("{old_retired}{ed}{new_next}")).await;
    said(&w, "example.com", "no RSA key that signs by itself");
    // with the new key active, nothing to say
    let w = warnings(format!("{old_retired}{ed}{new_active}")).await;
    assert_eq!(w, Vec::<String>::new());
    // nor with a first RSA key staged beside Ed25519 (no RSA key signed before it either)
    let w = warnings(format!("{ed}{new_next}")).await;
    assert_eq!(w, Vec::<String>::new());
    // a rule naming only keys not yet promoted signs nothing until one is
    let rule = "[[dkim.signing]]\nfrom = \"example.com\"\nkeys = [\"rsa-new\"]\n";
    let w = warnings(format!("{ed}{new_next}{rule}")).await;
    said(&w, "dkim.signing[0]", "goes out unsigned");
    // worse: no key of the domain is active at all (the old one retired before the new one
    // was promoted, or only retired keys): its mail goes out unsigned, and that is said
    for keys in [format!("{old_retired}{new_next}"), old_retired.clone()] {
        let w = warnings(keys).await;
        said(&w, "example.com", "goes out unsigned");
    }
}
