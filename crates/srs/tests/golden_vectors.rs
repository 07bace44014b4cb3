//! Golden vectors: addresses postsrsd computes (from its unit and blackbox tests), with
//! secret `tops3cr3t`, SRS domain `example.com`, at 2020-01-01 00:01:00 UTC (day 18262, "2W").

use srs::{Clock, Forwarded, HashEncoding, Separator, Srs, SrsConfig, SrsError, load_secrets};

const NOW: u64 = 1_577_836_860;

fn srs() -> Srs {
    let mut config = SrsConfig::new(load_secrets("tops3cr3t\n").unwrap(), "example.com");
    config.clock = Clock::fixed_unix(NOW);
    Srs::new(config).unwrap()
}

fn fwd(srs: &Srs, sender: &str) -> String {
    match srs.forward(sender, "example.com").unwrap() {
        Forwarded::Rewritten(a) => a,
        other => panic!("{sender}: {other:?}"),
    }
}

#[test]
fn postsrsd_unit_test_vectors() {
    // postsrsd tests/unit/test_srs2.c
    let s = srs();
    assert_eq!(
        fwd(&s, "test@otherdomain.com"),
        "SRS0=vmyz=2W=otherdomain.com=test@example.com"
    );
    assert_eq!(
        s.reverse("SRS0=vmyz=2W=otherdomain.com=test@example.com")
            .unwrap(),
        "test@otherdomain.com"
    );
    assert_eq!(s.reverse("test@example.com"), Err(SrsError::NotSrs));
}

#[test]
fn postsrsd_blackbox_vectors() {
    let s = srs();
    assert_eq!(
        fwd(&s, "sender@otherdomain.com"),
        "SRS0=9KJ-=2W=otherdomain.com=sender@example.com"
    );
    assert_eq!(
        fwd(&s, "hash234@somedomain.com"),
        "SRS0=-3_5=2W=somedomain.com=hash234@example.com"
    );
    assert_eq!(
        fwd(&s, "SRS0=opaque+string@otherdomain.com"),
        "SRS1=chaI=otherdomain.com==opaque+string@example.com"
    );
    assert_eq!(
        fwd(&s, "SRS1=X=thirddomain.com==opaque+string@otherdomain.com"),
        "SRS1=JIBX=thirddomain.com==opaque+string@example.com"
    );
    assert_eq!(
        s.reverse("SRS0=XjO9=2V=otherdomain.com=test@example.com")
            .unwrap(),
        "test@otherdomain.com"
    );
}

#[test]
fn base64_encoding_matches_postsrsd_before_2_2_6() {
    let mut config = SrsConfig::new(load_secrets("tops3cr3t").unwrap(), "example.com");
    config.clock = Clock::fixed_unix(NOW);
    config.hash_encoding = HashEncoding::Base64;
    config.separator = Separator::Equals;
    let s = Srs::new(config).unwrap();
    // postsrsd 2.0-2.2.5 blackbox tests (tests/blackbox/milter.py at that time): "9KJ+".
    assert_eq!(
        fwd(&s, "sender@otherdomain.com"),
        "SRS0=9KJ+=2W=otherdomain.com=sender@example.com"
    );
    assert_eq!(
        fwd(&s, "hash234@somedomain.com"),
        "SRS0=+3/5=2W=somedomain.com=hash234@example.com"
    );
}

/// A secrets file with a CR inside a line: postsrsd 1.10 (tcp_table) and 2.4.0 (socketmap)
/// both sign with the text before the CR and wrote this address for `user@source.example`
/// on 2026-12-06 (day 20793, "JZ"); the same file must give us the same signing key.
#[test]
fn secrets_file_with_a_carriage_return_signs_as_postsrsd() {
    let file = "harness-current-s3cret-0123\rharness-old-s3cret-4567\n";
    let mut config = SrsConfig::new(load_secrets(file).unwrap(), "fwd.example");
    config.clock = Clock::FixedDay(20_793);
    let s = Srs::new(config).unwrap();
    let postsrsd = "SRS0=lYZn=JZ=source.example=user@fwd.example";
    assert_eq!(
        s.forward("user@source.example", "fwd.example"),
        Ok(Forwarded::Rewritten(postsrsd.to_owned()))
    );
    assert_eq!(s.reverse(postsrsd).unwrap(), "user@source.example");
}
