//! `authmilter check-domain` on odd and hostile input: control characters in records, several
//! or void policy records, wildcard TXT records answering guessed names, a null MX beside
//! others, and DOMAIN and `--selector` arguments as postmasters type them. Zones are
//! answered from `--zone` files.

use super::check_domain::{findings, good, run};
use crate::support::run_cli;

/// The text output shows DNS text (records, MX names, report addresses) to a terminal:
/// control characters in a hostile zone (ESC, BEL, an OSC title sequence) are escaped as in
/// the log, never written raw.
#[test]
fn text_output_escapes_control_characters_from_dns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("zone");
    let zone = good("example.com")
        .replace("-all\"\n_spf", "\x1b[2J -all\"\n_spf")
        .replace(
            "rua=mailto:dmarc@example.com",
            "rua=mailto:dmarc@example.com\x1b]0;owned\x07",
        )
        .replace("k=ed25519;", "k=ed25519; n=\x1b[31m;");
    std::fs::write(&path, zone).expect("zone");
    let (code, out, err) = run_cli(
        &[
            "check-domain",
            "example.com",
            "--selector",
            "s1",
            "--zone",
            path.to_str().expect("utf-8"),
        ],
        None,
    );
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("\\u{1b}[2J"), "{out}");
    assert!(out.contains("\\u{1b}[31m"), "{out}");
    assert!(
        !out.chars().any(|c| c.is_control() && c != '\n'),
        "raw control character in: {out:?}"
    );
}

/// Two DMARC records at one name are both discarded by receivers (RFC 9989 §4.10 steps 2
/// and 6, RFC 7489 §6.6.3): that is an error to fix, not "no record, publish one".
#[test]
fn several_dmarc_records_are_an_error_not_a_missing_record() {
    let zone = good("example.com").replace(
        "_dmarc.example.com TXT \"v=DMARC1; p=reject; rua=mailto:dmarc@example.com\"\n",
        "_dmarc.example.com TXT \"v=DMARC1; p=reject; rua=mailto:dmarc@example.com\"\n\
         _dmarc.example.com TXT \"v=DMARC1; p=none\"\n",
    );
    let (code, all, out) = run(&zone, &[]);
    assert_eq!(code, 1, "{out}");
    let dmarc: Vec<_> = all
        .iter()
        .filter(|(s, _, _)| s.starts_with("DMARC"))
        .collect();
    assert!(
        dmarc.iter().any(|(_, l, t)| l == "error"
            && t.contains("several DMARC records at _dmarc.example.com")
            && t.contains("keep exactly one")),
        "{dmarc:#?}"
    );
    assert!(
        !dmarc.iter().any(|(_, _, t)| t.contains("no DMARC record")),
        "{dmarc:#?}"
    );
}

/// A `_dmarc` TXT record that is not a DMARC record (no `;` after v=DMARC1, the version in
/// lower case, v= not first) is ignored by receivers (RFC 9989 §4.7 `v`, RFC 7489 §6.3). It
/// was "warning no DMARC record ... publish one"; it is shown, with what is wrong in it.
#[test]
fn a_malformed_dmarc_record_is_shown_with_its_syntax_error() {
    for (record, words) in [
        ("v=DMARC1 p=reject", "no `;` after v=DMARC1"),
        ("v=dmarc1; p=reject", "v=dmarc1 is not v=DMARC1"),
        ("p=reject; v=DMARC1", "it must begin with v=DMARC1"),
    ] {
        let zone = good("example.com").replace(
            "_dmarc.example.com TXT \"v=DMARC1; p=reject; rua=mailto:dmarc@example.com\"\n",
            &format!("_dmarc.example.com TXT \"{record}\"\n"),
        );
        let (code, all, out) = run(&zone, &[]);
        assert_eq!(code, 1, "{out}");
        let v: serde_json::Value = serde_json::from_str(&out).expect("json");
        assert_eq!(v["dmarc"]["record"], record, "{out}");
        let dmarc: Vec<_> = all
            .iter()
            .filter(|(s, _, _)| s.starts_with("DMARC"))
            .collect();
        assert!(
            dmarc.iter().any(|(_, l, t)| l == "error"
                && t.contains("is not a DMARC record")
                && t.contains(words)),
            "{record}: {dmarc:#?}"
        );
        assert!(
            !dmarc.iter().any(|(_, _, t)| t.contains("no DMARC record")),
            "{record}: {dmarc:#?}"
        );
    }
}

/// A valid p= with an invalid sp= or np= makes receivers read the whole record as p=none
/// (with a valid rua=) or ignore it (without), RFC 9989 §4.10.1, RFC 7489 §6.6.3: the
/// finding names the bad tag, and never tells a p=reject domain to "move to p=quarantine" or
/// that its p= is missing.
#[test]
fn an_invalid_sp_or_np_is_named_as_what_voids_the_policy() {
    for (record, effect) in [
        (
            "v=DMARC1; p=reject; sp=bogus; rua=mailto:dmarc@example.com",
            "as p=none",
        ),
        (
            "v=DMARC1; p=reject; np=bogus; rua=mailto:dmarc@example.com",
            "as p=none",
        ),
        ("v=DMARC1; p=reject; sp=bogus", "ignore the record"),
    ] {
        let zone =
            good("example.com").replace("v=DMARC1; p=reject; rua=mailto:dmarc@example.com", record);
        let (code, all, out) = run(&zone, &[]);
        assert_eq!(code, 1, "{out}");
        let dmarc: Vec<_> = all
            .iter()
            .filter(|(s, _, _)| s.starts_with("DMARC"))
            .collect();
        let tag = if record.contains("np=") { "np=" } else { "sp=" };
        assert!(
            dmarc.iter().any(|(_, l, t)| l == "error"
                && t.contains(&format!("{tag}\"bogus\""))
                && t.contains(effect)
                && t.contains(&format!("fix: correct or remove {tag}"))),
            "{record}: {dmarc:#?}"
        );
        assert!(
            !dmarc
                .iter()
                .any(|(_, _, t)| t.contains("move to p=quarantine") || t.contains("p= missing")),
            "{record}: {dmarc:#?}"
        );
    }
}

/// The DOMAIN argument as a postmaster types it: an internationalized name is checked under
/// its A-label form, as receivers look it up (RFC 5890), in any case; an address, a name DNS
/// cannot carry or an empty one is refused with exit status 2, not reported on.
#[test]
fn the_domain_argument_is_converted_or_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("zone");
    std::fs::write(&path, good("xn--bcher-kva.example")).expect("zone");
    let zone = path.to_str().expect("utf-8");
    for given in ["bücher.example", "BÜCHER.EXAMPLE.", "xn--bcher-kva.example"] {
        let (code, out, err) = run_cli(
            &[
                "check-domain",
                given,
                "--selector",
                "s1",
                "--json",
                "--zone",
                zone,
            ],
            None,
        );
        let all = findings(&out, &err);
        let bad: Vec<_> = all
            .iter()
            .filter(|(_, l, _)| l != "ok" && l != "note")
            .collect();
        assert!(bad.is_empty(), "{given}: {bad:#?}");
        assert_eq!(code, 0, "{given}: {out}{err}");
        let v: serde_json::Value = serde_json::from_str(&out).expect("json");
        assert_eq!(v["domain"], "xn--bcher-kva.example", "{given}");
    }
    for given in [
        "",
        ".",
        "postmaster@example.com",
        "exa mple.com",
        "a..example",
        "x/y.example",
        "192.0.2.1",
        "2001:db8::1",
    ] {
        let (code, out, err) = run_cli(&["check-domain", given, "--zone", zone], None);
        assert_eq!(code, 2, "{given:?}: {out}{err}");
        assert!(out.is_empty(), "{given:?}: {out}");
        assert!(
            err.contains("not a domain") || err.contains("empty"),
            "{given:?}: {err}"
        );
    }
    let (_, _, err) = run_cli(
        &["check-domain", "postmaster@example.com", "--zone", zone],
        None,
    );
    assert!(err.contains("example.com"), "{err}");
}

/// A `--selector` DNS cannot carry (white space, a slash, an empty label, the whole key name
/// given) is refused with exit status 2 naming it, not reported as "no key record published"
/// (exit 1); a selector with dots is legal (RFC 6376 §3.1) and checked, in any case.
#[test]
fn bad_selectors_are_refused_not_reported_missing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("zone");
    std::fs::write(
        &path,
        good("example.com").replace("s1._domainkey", "mail.2026._domainkey"),
    )
    .expect("zone");
    let zone = path.to_str().expect("utf-8");
    let (code, out, err) = run_cli(
        &[
            "check-domain",
            "example.com",
            "--selector",
            "Mail.2026",
            "--json",
            "--zone",
            zone,
        ],
        None,
    );
    assert_eq!(code, 0, "{out}{err}");
    for bad in ["s 1", "s/1", "s..1", "s1._domainkey.example.com", ""] {
        let (code, out, err) = run_cli(
            &[
                "check-domain",
                "example.com",
                "--selector",
                bad,
                "--zone",
                zone,
            ],
            None,
        );
        assert_eq!(code, 2, "{bad:?}: {out}{err}");
        assert!(out.is_empty(), "{bad:?}: {out}");
        assert!(err.contains("--selector"), "{bad:?}: {err}");
    }
}

/// A null MX (`0 .`, RFC 7505) published beside other MX records: RFC 7505 §3 says a domain
/// with a null MX must publish no other, so it is an error, and the root name `.` is not
/// looked up as a host (that gave "could not check the addresses of : invalid domain name",
/// counted as a DNS failure).
#[test]
fn a_null_mx_beside_other_mx_records_is_an_error() {
    let zone = good("example.com").replace(
        "example.com MX 10 mx.example.com\n",
        "example.com MX 0 .\nexample.com MX 10 mx.example.com\n",
    );
    let (code, all, out) = run(&zone, &[]);
    assert_eq!(code, 1, "{out}");
    let mx: Vec<_> = all.iter().filter(|(s, _, _)| s.starts_with("MX")).collect();
    assert!(
        mx.iter()
            .any(|(_, l, t)| l == "error" && t.contains("null MX") && t.contains("RFC 7505")),
        "{mx:#?}"
    );
    assert!(
        !mx.iter().any(|(_, l, _)| l == "could-not-check"),
        "{mx:#?}"
    );
    // the real MX host is still checked
    assert!(
        mx.iter()
            .any(|(_, l, t)| l == "ok" && t.contains("mx.example.com 192.0.2.10")),
        "{mx:#?}"
    );
}

/// Without --selector, common selectors are guessed. A wildcard TXT record (often
/// `*.example.com TXT "v=spf1 -all"`, to protect subdomains) answers every guessed name
/// with a record that is no DKIM key at all: that is no key, not an invalid key record (each
/// guess was an ERROR, exit 1). A record meant as a key (`v=DKIM1`, a `p=` tag) that does
/// not parse is still an error, and a named selector is always reported.
#[test]
fn guessed_selectors_skip_records_that_are_no_dkim_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("zone");
    let zone = format!(
        "{}default._domainkey.example.com TXT \"v=spf1 -all\"\n\
         mail._domainkey.example.com TXT \"google-site-verification=abc\"\n",
        good("example.com")
    );
    std::fs::write(&path, &zone).expect("zone");
    let zone_arg = path.to_str().expect("utf-8");
    let (code, out, err) = run_cli(
        &["check-domain", "example.com", "--json", "--zone", zone_arg],
        None,
    );
    let all = findings(&out, &err);
    let dkim: Vec<_> = all
        .iter()
        .filter(|(s, _, _)| s.starts_with("DKIM"))
        .collect();
    assert!(!dkim.iter().any(|(_, l, _)| l == "error"), "{dkim:#?}");
    assert_eq!(code, 0, "{out}{err}");
    // named, the same record is reported
    let (code, out, err) = run_cli(
        &[
            "check-domain",
            "example.com",
            "--selector",
            "default",
            "--json",
            "--zone",
            zone_arg,
        ],
        None,
    );
    assert_eq!(code, 1, "{out}{err}");
    // guessed, a broken key record is still an error
    std::fs::write(
        &path,
        format!(
            "{}k1._domainkey.example.com TXT \"v=DKIM1; k=rsa; p=%%%\"\n",
            good("example.com")
        ),
    )
    .expect("zone");
    let (code, out, err) = run_cli(
        &["check-domain", "example.com", "--json", "--zone", zone_arg],
        None,
    );
    let all = findings(&out, &err);
    assert!(
        all.iter()
            .any(|(s, l, t)| s == "DKIM k1._domainkey.example.com"
                && l == "error"
                && t.contains("key record invalid")),
        "{all:#?}"
    );
    assert_eq!(code, 1, "{out}{err}");
}

/// A TXT record at `_mta-sts` or `_smtp._tls` that is no such record (a wildcard
/// `*.example.com TXT "v=spf1 -all"` answers there too) is discarded by senders (RFC 8461
/// §3.1, RFC 8460 §3): the domain has no MTA-STS or TLS-RPT, a note as when nothing is
/// published, not an error.
#[test]
fn other_txt_records_at_the_tls_names_count_as_absent() {
    let zone = good("example.com")
        .replace(
            "_mta-sts.example.com TXT \"v=STSv1; id=20260101\"",
            "_mta-sts.example.com TXT \"v=spf1 -all\"",
        )
        .replace(
            "_smtp._tls.example.com TXT \"v=TLSRPTv1; rua=mailto:tls@example.com\"",
            "_smtp._tls.example.com TXT \"v=spf1 -all\"",
        );
    let (code, all, out) = run(&zone, &[]);
    for section in ["MTA-STS", "TLS-RPT"] {
        let levels: Vec<_> = all
            .iter()
            .filter(|(s, _, _)| s.starts_with(section))
            .map(|(_, l, t)| (l.as_str(), t.as_str()))
            .collect();
        assert!(
            matches!(levels.as_slice(), [("note", t)] if t.contains("no ")),
            "{section}: {levels:#?}"
        );
    }
    assert_eq!(code, 0, "{out}");
}

/// An RSA key verifiers cannot use is an error, as for an undersized one: a modulus over 8192
/// bits (verifiers give permerror, RFC 8301 §3.2 sets no upper bound but every implementation
/// has one) and an exponent of 1 (RFC 8017 §3.1; every backend refuses it, RFC 6376 §6.1.2
/// step 8). Both were reported as a fine "RSA key of N bits" before.
#[test]
fn rsa_keys_no_verifier_can_use_are_errors() {
    use base64::Engine;
    // a 2048-bit key with e=3: the same modulus with e=1 is unusable
    let spki = base64::engine::general_purpose::STANDARD
        .decode("MIIBIDANBgkqhkiG9w0BAQEFAAOCAQ0AMIIBCAKCAQEAsk7YkwqnwolfiQKp85cLc43rpz1x+T1i+Hp7JRzhhjzlNAtSmu1vBWL3eDem/bThq4ypE48cUYjKQFNjXZz3ODrb9tYGWmUPtRP8AD/BhQwnPZ1nbTkfs1GmmMFtioEfQiFIReiw90mX5/VTdHss7P/jy9zRXaGgcCTc0r8l/YtzmYbsBUmqnxCB+yllMW0baFOScpBCb22ekOd1LnALHow7gU5yDaBd7Tj66Jcl08qX/GrEaAz8ZawqOlXycwWOIarKys8PbTkl1eu8f+AUTpLcH/zZZ406Ia48yW6ugmu0RcNJmeKcHLqmvvoS8DlodE10pOzeQ9V2fQ77xrB2ywIBAw==")
        .expect("base64");
    let bare = crypto::rsa_public_key_from_spki(&spki).expect("spki");
    assert_eq!(bare.last(), Some(&3));
    let mut e1 = bare.to_vec();
    if let Some(e) = e1.last_mut() {
        *e = 1;
    }
    // a 16384-bit odd modulus, e=65537: 30 82 08 0a | 02 82 08 01 00 <2048 octets> | 02 03 01 00 01
    let mut big = vec![0x30, 0x82, 0x08, 0x0a, 0x02, 0x82, 0x08, 0x01, 0x00, 0xc1];
    big.extend(std::iter::repeat_n(0x5a, 2046));
    big.extend_from_slice(&[0x01, 0x02, 0x03, 0x01, 0x00, 0x01]);
    // the over-large key's fix names the domain's own rotate command
    let expected = [
        (e1, "unusable"),
        (big.clone(), "16384 bits"),
        (big, "rotate --domain example.com"),
    ];
    for (key, expect) in expected {
        let p = base64::engine::general_purpose::STANDARD.encode(key);
        let strings: Vec<String> = format!("v=DKIM1; k=rsa; p={p}")
            .as_bytes()
            .chunks(255)
            .map(|c| format!("\"{}\"", String::from_utf8_lossy(c)))
            .collect();
        let zone = good("example.com").replace(
            "s1._domainkey.example.com TXT \"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\"",
            &format!("s1._domainkey.example.com TXT {}", strings.join(" ")),
        );
        let (code, all, out) = run(&zone, &[]);
        assert!(
            all.iter()
                .any(|(s, l, t)| s.starts_with("DKIM") && l == "error" && t.contains(expect)),
            "{expect}: {all:#?}\n{out}"
        );
        assert_eq!(code, 1, "{out}");
    }
}

/// An Ed25519 key of all zeros (a point of small order, as someone "revoking" a key might
/// publish it) lets anyone make signatures that verify; verifiers refuse it (permerror), and
/// check-domain calls it an error rather than a fine "Ed25519 key".
#[test]
fn a_small_order_ed25519_key_is_an_error() {
    let zone = good("example.com").replace(
        "p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
        "p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    );
    let (code, all, out) = run(&zone, &[]);
    assert!(
        all.iter()
            .any(|(s, l, t)| s.starts_with("DKIM") && l == "error" && t.contains("small order")),
        "{all:#?}\n{out}"
    );
    assert_eq!(code, 1, "{out}");
}

/// RFC 7208 §6.1: a `redirect=` in a record with an `all` mechanism is never used, so a broken
/// redirect target is no error and costs no lookup (the evaluation never queries it).
#[test]
fn a_redirect_beside_all_is_neither_followed_nor_counted() {
    let zone = good("example.com").replace(
        "example.com TXT \"v=spf1 include:_spf.example.com mx -all\"",
        "example.com TXT \"v=spf1 include:_spf.example.com mx redirect=broken.example -all\"\n\
         broken.example TXT \"v=spf1 bogus -all\"",
    );
    let (code, findings, out) = run(&zone, &[]);
    assert_eq!(code, 0, "{findings:?}");
    assert!(!out.contains("broken.example:"), "followed: {out}");
    assert!(out.contains("2 of 10"), "counted: {out}");
    assert!(
        findings.iter().all(|(_, level, _)| level != "error"),
        "{findings:?}"
    );
}

/// A domain that does not exist is named as such, first, not given advice to publish records
/// at a name that is not there.
#[test]
fn a_domain_that_does_not_exist_is_said_to_be_so() {
    let (code, findings, _) = run("other.example TXT \"v=spf1 -all\"\n", &[]);
    assert_eq!(code, 1, "{findings:?}");
    let first = findings.first().expect("a finding");
    assert_eq!(first.1, "error", "{findings:?}");
    assert!(
        first.2.contains("does not exist in DNS (NXDOMAIN)"),
        "{findings:?}"
    );
}

/// Relays on private, shared or loopback address space (RFC 1918, 100.64.0.0/10 for CGNAT or
/// Tailscale, 127.0.0.0/8) are listed in real records and authorize no Internet host: the
/// reserved-address probes must not call them too wide.
#[test]
fn private_and_shared_relay_ranges_are_not_too_wide() {
    for relays in ["ip4:100.64.0.0/10", "ip4:127.0.0.0/8"] {
        let zone = good("example.com").replace(
            "v=spf1 ip4:192.0.2.0/24",
            &format!(
                "v=spf1 ip4:192.0.2.0/24 ip4:10.0.0.0/8 ip4:172.16.0.0/12 ip4:192.168.0.0/16 {relays}"
            ),
        );
        assert!(zone.contains(relays), "{zone}");
        let (code, all, out) = run(&zone, &[]);
        assert_eq!(code, 0, "{relays}: {out}");
        assert!(
            all.iter()
                .filter(|(s, _, _)| s.starts_with("SPF"))
                .all(|(_, l, _)| l == "ok"),
            "{relays}: {out}"
        );
    }
}

/// The SPF include tree is counted as receivers count it (RFC 7208 §4.6.4: each evaluation of
/// a shared include counts again) and only a true loop is one: two includes of one record
/// were "loops back" errors, and the lookups of the shared record went uncounted (an 11-lookup
/// tree showed "8 of 10"). Terms after `all` are never evaluated (§5.1): not counted or
/// followed, but a warning. `?all` reached through a redirect is the domain's own result.
#[test]
fn the_spf_tree_is_counted_as_receivers_count_it() {
    let spf = |record: &str, extra: &str| {
        good("example.com").replace(
            "example.com TXT \"v=spf1 include:_spf.example.com mx -all\"\n",
            &format!("example.com TXT \"{record}\"\n{extra}"),
        )
    };
    let errors_and_warnings = |zone: &str| -> Vec<(String, String)> {
        let (_, all, _) = run(zone, &["--selector", "s1"]);
        all.into_iter()
            .filter(|(s, l, _)| s.starts_with("SPF") && l != "ok" && l != "note")
            .map(|(_, l, t)| (l, t))
            .collect()
    };
    // a diamond: a and b both include c, whose four a: terms count twice (2 + 2×(1 + 4) = 12)
    let diamond = spf(
        "v=spf1 include:a.example.com include:b.example.com -all",
        "a.example.com TXT \"v=spf1 include:c.example.com -all\"\n\
         b.example.com TXT \"v=spf1 include:c.example.com -all\"\n\
         c.example.com TXT \"v=spf1 a:mx.example.com a:mx.example.com a:mx.example.com a:mx.example.com -all\"\n",
    );
    let found = errors_and_warnings(&diamond);
    assert!(
        !found.iter().any(|(_, t)| t.contains("loops")),
        "{found:#?}"
    );
    assert!(
        found
            .iter()
            .any(|(l, t)| l == "error" && t.starts_with("12 DNS lookups")),
        "{found:#?}"
    );
    // a true loop is still one
    let looped = spf(
        "v=spf1 include:a.example.com -all",
        "a.example.com TXT \"v=spf1 include:example.com -all\"\n",
    );
    let found = errors_and_warnings(&looped);
    assert!(found.iter().any(|(_, t)| t.contains("loops")), "{found:#?}");
    // terms after all
    let after = spf(
        "v=spf1 ip4:192.0.2.0/24 -all a a a a a a a a a a a include:plus.example.com",
        "plus.example.com TXT \"v=spf1 +all\"\n",
    );
    let found = errors_and_warnings(&after);
    assert!(
        !found.iter().any(|(l, _)| l == "error"),
        "terms after all are never evaluated: {found:#?}"
    );
    assert!(
        found
            .iter()
            .any(|(l, t)| l == "warning" && t.contains("after `all`")),
        "{found:#?}"
    );
    // ?all through a redirect
    let redirected = spf(
        "v=spf1 redirect=q.example.com",
        "q.example.com TXT \"v=spf1 ip4:192.0.2.0/24 ?all\"\n",
    );
    let found = errors_and_warnings(&redirected);
    assert!(
        found
            .iter()
            .any(|(l, t)| l == "warning" && t.contains("?all")),
        "{found:#?}"
    );
}

/// DNS trouble is never a verdict: when every guessed DKIM selector's lookup failed, that is
/// "could not check" (exit 3), not "no key found"; and an MX host whose AAAA lookup failed
/// beside a working A lookup is reported, not checked by its IPv4 address alone.
#[test]
fn dns_failures_on_guessed_selectors_and_mx_addresses_are_unchecked() {
    let mut zone = good("example.com").replace(
        "s1._domainkey.example.com",
        "unguessable._domainkey.example.com",
    );
    for s in [
        "default",
        "dkim",
        "mail",
        "s1",
        "s2",
        "k1",
        "k2",
        "selector1",
        "selector2",
        "google",
    ] {
        zone.push_str(&format!("{s}._domainkey.example.com TXT TIMEOUT\n"));
    }
    zone.push_str("mx.example.com AAAA TIMEOUT\n");
    let (code, all, out) = run(&zone, &[]);
    assert_eq!(code, 3, "{out}");
    let unchecked: Vec<_> = all.iter().filter(|(_, l, _)| l.contains("check")).collect();
    assert!(
        unchecked.iter().any(|(s, _, _)| s.starts_with("DKIM")),
        "{all:#?}"
    );
    assert!(
        unchecked
            .iter()
            .any(|(s, _, t)| s.starts_with("MX") && t.contains("mx.example.com")),
        "{all:#?}"
    );
    assert!(
        !all.iter().any(|(_, _, t)| t.contains("no key found")),
        "{all:#?}"
    );
}
