//! Key rotation as a user drives it: `dkim rotate` makes the next key and prints what to
//! publish and configure; a key added by SIGHUP is checked against DNS at once. (The
//! publish → wait → promote → retire sequence itself is tested with an explicit clock in
//! `src/signing/rotation/tests.rs`.)

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{binary, run_cli};

fn genkey(dir: &Path, selector: &str) -> (String, String) {
    let key = crate::support::genkey(dir, "example.com", selector, "ed25519");
    (key.path.display().to_string(), key.value())
}

#[test]
fn dkim_rotate_prints_every_form_and_a_next_key_block() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = dir.path().join("keys");
    let (old, _) = genkey(&keys, "old");
    let cfg = dir.path().join("milter.toml");
    let base = format!(
        "[dkim]\nstate_file = \"\"\n[[dkim.key]]\nname = \"current\"\ndomain = \"example.com\"\nselector = \"old\"\npath = \"{old}\"\n"
    );
    std::fs::write(&cfg, &base).expect("config");
    let cfg_s = cfg.to_str().expect("utf-8");
    // nothing published: every selector is free in DNS
    let zone = dir.path().join("zone");
    std::fs::write(&zone, "").expect("zone");
    let zone_s = zone.to_str().expect("utf-8");
    let (code, out, err) = run_cli(
        &[
            "dkim",
            "rotate",
            "--domain",
            "example.com",
            "--algorithm",
            "ed25519",
            "--zone",
            zone_s,
            "-c",
            cfg_s,
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    // a dated selector, YYYYMM
    let block_start = out.find("[[dkim.key]]").expect("block");
    let block: String = out[block_start..]
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(block.contains("state = \"next\""), "{block}");
    let selector = block
        .lines()
        .find_map(|l| l.strip_prefix("selector = \""))
        .and_then(|s| s.strip_suffix('"'))
        .expect("selector");
    assert!(
        selector.len() == 6 && selector.chars().all(|c| c.is_ascii_digit()),
        "{selector}"
    );
    let name = format!("{selector}._domainkey.example.com");
    // the key went next to the existing one, mode 0600
    let key = keys.join(format!("example.com.{selector}.pem"));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&key).expect("key").permissions().mode() & 0o777,
        0o600
    );
    // made by root: the output says to give it to the milter's user, or a reload cannot read it
    use std::os::unix::fs::MetadataExt;
    if std::fs::metadata(&key).expect("key").uid() == 0 {
        assert!(
            out.contains(&format!("chown authmilter: {}", key.display())),
            "{out}"
        );
    }
    // every form of the record
    assert!(out.contains(&format!("{name}. IN TXT (")), "{out}");
    assert!(
        out.contains(&format!("'{name}:v=DKIM1; k=ed25519; p=")),
        "{out}"
    );
    assert!(
        out.contains(&format!("update add {name}. 3600 IN TXT \"v=DKIM1;")),
        "{out}"
    );
    assert!(
        out.contains("retires the key(s) `replaces` names: current"),
        "{out}"
    );
    // the block makes a valid configuration
    std::fs::write(&cfg, format!("{base}\n{block}")).expect("config");
    let (code, checked, err) = run_cli(&["config", "check", "-c", cfg_s], None);
    assert_eq!(code, 0, "{err}");
    assert!(checked.contains("state = \"next\""), "{checked}");
    assert!(block.contains("replaces = [\"current\"]"), "{block}");
    assert!(checked.contains("replaces = [\"current\"]"), "{checked}");
    // a second rotation the same month takes the next free selector
    let (code, out2, err) = run_cli(
        &[
            "dkim",
            "rotate",
            "--domain",
            "example.com",
            "--algorithm",
            "ed25519",
            "--zone",
            zone_s,
            "-c",
            cfg_s,
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out2.contains(&format!("selector = \"{selector}b\"")),
        "{out2}"
    );
    // and replaces the first rotation's key too (milter.toml still calls it next, perhaps
    // promoted already): named only "current", both would go on signing after the promotion
    let replaces = out2
        .lines()
        .find(|l| l.starts_with("replaces = "))
        .unwrap_or_else(|| panic!("{out2}"));
    assert!(
        replaces.contains("\"current\"")
            && replaces.contains(&format!("\"{selector}._domainkey.example.com\"")),
        "{replaces}"
    );
    // with the DNS checks switched off a next key is never promoted: step 3 says so instead
    // of promising it
    std::fs::write(
        &cfg,
        base.replace("[dkim]\n", "[dkim]\nkey_check_interval = \"0s\"\n"),
    )
    .expect("config");
    let (code, out3, err) = run_cli(
        &[
            "dkim",
            "rotate",
            "--domain",
            "example.com",
            "--zone",
            zone_s,
            "-c",
            cfg_s,
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    assert!(!out3.contains("it signs with it"), "{out3}");
    assert!(
        out3.contains("dkim.key_check_interval is 0s: the milter never checks a next key"),
        "{out3}"
    );
}

/// `--selector` naming a selector a configured key of the domain already uses (its file
/// elsewhere) is refused: publishing the new record there would replace the signing key's.
#[test]
fn dkim_rotate_refuses_a_selector_a_configured_key_uses() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (old, _) = genkey(&dir.path().join("old-keys"), "cur");
    let cfg = dir.path().join("milter.toml");
    let new_dir = dir.path().join("new-keys");
    // a key of `configured` at selector "cur", then `dkim rotate --domain asked --selector
    // selector`: refused, naming the selector
    let refused = |configured: &str, asked: &str, selector: &str| {
        std::fs::write(
            &cfg,
            format!(
                "[dkim]\nstate_file = \"\"\n[[dkim.key]]\ndomain = \"{configured}\"\nselector = \"cur\"\npath = \"{old}\"\n"
            ),
        )
        .expect("config");
        let (code, out, err) = run_cli(
            &[
                "dkim",
                "rotate",
                "--domain",
                asked,
                "--selector",
                selector,
                "--dir",
                new_dir.to_str().expect("utf-8"),
                "-c",
                cfg.to_str().expect("utf-8"),
            ],
            None,
        );
        assert_ne!(code, 0, "{configured} {asked} {selector}: {out}");
        assert!(err.contains("cur"), "{err}");
    };
    refused("example.com", "example.com", "CUR");
    assert!(!new_dir.join("example.com.cur.pem").exists());
    // a domain configured with U-labels is the A-label domain's: the selector its active key
    // uses is refused for the A-label spelling too
    refused("bücher.example", "xn--bcher-kva.example", "cur");
}

#[test]
fn a_key_added_by_reload_is_checked_against_dns_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a_path, a_record) = genkey(dir.path(), "a");
    let (b_path, b_record) = genkey(dir.path(), "b");
    let zone = dir.path().join("zone");
    std::fs::write(
        &zone,
        format!(
            "a._domainkey.example.com TXT \"{a_record}\"\nb._domainkey.example.com TXT \"{b_record}\"\n"
        ),
    )
    .expect("zone");
    let key = |sel: &str, path: &str| {
        format!("[[dkim.key]]\ndomain = \"example.com\"\nselector = \"{sel}\"\npath = \"{path}\"\n")
    };
    let head = "[[server.listen]]\nsocket = \"inet:127.0.0.1:0\"\n\
                [dkim]\nkey_check_interval = \"1h\"\nstate_file = \"\"\n";
    let cfg = dir.path().join("milter.toml");
    std::fs::write(&cfg, format!("{head}{}", key("a", &a_path))).expect("config");
    let log = dir.path().join("serve.log");
    let mut child = Command::new(binary())
        .args(["serve", "-c", cfg.to_str().expect("utf-8"), "--zone"])
        .arg(&zone)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("spawn");
    let text = || std::fs::read_to_string(&log).unwrap_or_default();
    let wait_for = |needle: &str| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !text().contains(needle) {
            assert!(Instant::now() < deadline, "no {needle:?} in:\n{}", text());
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    wait_for("key=a._domainkey.example.com");
    std::fs::write(
        &cfg,
        format!("{head}{}{}", key("a", &a_path), key("b", &b_path)),
    )
    .expect("config");
    let _ = Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status();
    wait_for("configuration reloaded");
    // checked now, not at the next interval an hour away
    wait_for("key=b._domainkey.example.com");
    let _ = child.kill();
    let _ = child.wait();
}

/// `authmilter eval` reads `dkim.state_file` to decide as serve would, but never writes it: an
/// eval whose check promotes a key (here with `publish_wait = "0s"`, a test configuration)
/// signs with it yet leaves the file the milter relies on as it was (repro-eval-state.sh: it
/// erased promotions and wrote ones the real milter then honoured, skipping its wait).
#[test]
fn eval_never_writes_the_dkim_state_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (old_path, old_record) = genkey(dir.path(), "old");
    let (new_path, new_record) = genkey(dir.path(), "new");
    let zone = dir.path().join("zone");
    std::fs::write(
        &zone,
        format!(
            "old._domainkey.example.com TXT \"{old_record}\"\nnew._domainkey.example.com TXT \"{new_record}\"\n"
        ),
    )
    .expect("zone");
    let state = dir.path().join("dkim-keys.json");
    let before = "{\"version\":1,\"keys\":{}}\n";
    std::fs::write(&state, before).expect("state");
    let cfg = dir.path().join("milter.toml");
    std::fs::write(
        &cfg,
        format!(
            "[dkim]\npublish_wait = \"0s\"\nstate_file = \"{}\"\n\
             [[dkim.key]]\nname = \"old\"\ndomain = \"example.com\"\nselector = \"old\"\npath = \"{old_path}\"\n\
             [[dkim.key]]\nname = \"new\"\ndomain = \"example.com\"\nselector = \"new\"\npath = \"{new_path}\"\nstate = \"next\"\n",
            state.display()
        ),
    )
    .expect("config");
    let message = dir.path().join("msg.eml");
    std::fs::write(
        &message,
        "From: a@example.com\r\nTo: b@example.net\r\nSubject: hi\r\n\r\nhello\r\n",
    )
    .expect("message");
    let (code, out, err) = run_cli(
        &[
            "eval",
            "-c",
            cfg.to_str().expect("utf-8"),
            "--zone",
            zone.to_str().expect("utf-8"),
            "--ip",
            "127.0.0.1",
            "--mail-from",
            "a@example.com",
            "--rcpt",
            "b@example.net",
            message.to_str().expect("utf-8"),
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    // promoted for this evaluation, as serve would
    assert!(out.contains("sign:   example.com/new"), "{out}");
    assert!(!out.contains("example.com/old"), "{out}");
    assert_eq!(
        std::fs::read_to_string(&state).expect("state"),
        before,
        "eval rewrote the state file"
    );
}

/// `dkim rotate` never picks a selector whose name already holds a record in DNS (another
/// key published there by hand, another signer, an old rotation): publishing the new record
/// would replace it. The dated selector is skipped for the next free one; `--selector` naming
/// it is refused.
#[test]
fn dkim_rotate_skips_a_selector_published_in_dns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = dir.path().join("keys");
    let (old, _) = genkey(&keys, "old");
    let (_, other_record) = genkey(&dir.path().join("elsewhere"), "other");
    let cfg = dir.path().join("milter.toml");
    std::fs::write(
        &cfg,
        format!(
            "[dkim]\nstate_file = \"\"\n[[dkim.key]]\ndomain = \"example.com\"\nselector = \"old\"\npath = \"{old}\"\n"
        ),
    )
    .expect("config");
    let zone = dir.path().join("zone");
    let rotate = |extra: &[&str]| {
        let mut args = vec![
            "dkim",
            "rotate",
            "--domain",
            "example.com",
            "--algorithm",
            "ed25519",
            "--zone",
            zone.to_str().expect("utf-8"),
            "-c",
            cfg.to_str().expect("utf-8"),
        ];
        args.extend_from_slice(extra);
        run_cli(&args, None)
    };
    let selector_of = |out: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix("selector = \""))
            .and_then(|s| s.strip_suffix('"'))
            .map(str::to_string)
            .expect("selector")
    };
    // which selector a rotation this month takes when nothing is published
    std::fs::write(&zone, "").expect("zone");
    let (code, out, err) = rotate(&[]);
    assert_eq!(code, 0, "{err}");
    let dated = selector_of(&out);
    std::fs::remove_file(keys.join(format!("example.com.{dated}.pem"))).expect("remove");
    // someone publishes a key at that name
    std::fs::write(
        &zone,
        format!("{dated}._domainkey.example.com TXT \"{other_record}\"\n"),
    )
    .expect("zone");
    let (code, out, err) = rotate(&[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(selector_of(&out), format!("{dated}b"), "{out}");
    let (code, out, err) = rotate(&["--selector", &dated]);
    assert_ne!(code, 0, "{out}");
    assert!(err.contains("already holds a record in DNS"), "{err}");
}
