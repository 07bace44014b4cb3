//! Test code never controls services it did not start: `tests/check-test-hygiene.sh` greps the
//! test scripts and sources for `service … stop`, `systemctl stop`, `invoke-rc.d`, `pkill`,
//! `killall`, and this test runs it (so `cargo test` catches a regression, not only CI).

use std::process::Command;

#[test]
fn test_code_never_stops_services() {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new("bash")
        .arg(format!("{root}/tests/check-test-hygiene.sh"))
        .output()
        .expect("run bash");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn hygiene_check_catches_a_service_stop() {
    // The same pattern on a scratch tree: a script that stops postfix must be refused.
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    std::fs::create_dir_all(root.join("tests")).expect("mkdir");
    let script = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/check-test-hygiene.sh"
    ))
    .expect("read script");
    std::fs::write(root.join("tests/check-test-hygiene.sh"), script).expect("write");
    // (the forbidden words are split so that this file itself passes the check)
    let cases = [
        ("echo fine\n".to_string(), false),
        (["serv", "ice postfix st", "op\n"].concat(), true),
        (["sudo system", "ctl rest", "art nsd\n"].concat(), true),
        (["pki", "ll -f opendkim\n"].concat(), true),
        (
            ["# serv", "ice postfix st", "op is never done here\n"].concat(),
            false,
        ),
    ];
    for (body, bad) in cases {
        std::fs::write(root.join("tests/setup.sh"), &body).expect("write");
        let out = Command::new("bash")
            .arg("tests/check-test-hygiene.sh")
            .current_dir(root)
            .output()
            .expect("run bash");
        assert_eq!(!out.status.success(), bad, "{body:?}");
    }
}
