//! `authmilter check-domain`: a good domain, then one broken zone per finding, DNS failures
//! reported as "could not check" (exit 3) in every section alike, and a dead nameserver that
//! answers nothing (bounded by the deadline). Zones are answered from `--zone` files; the
//! same checks against a real nameserver (NSD) run with AUTHMILTER_E2E=1.

use std::time::{Duration, Instant};

use crate::support::run_cli;

const ED_KEY: &str = "p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";

/// Everything a well-run domain publishes (relative to `d`).
pub fn good(d: &str) -> String {
    format!(
        "{d} MX 10 mx.{d}\n\
         mx.{d} A 192.0.2.10\n\
         10.2.0.192.in-addr.arpa PTR mx.{d}\n\
         {d} TXT \"v=spf1 include:_spf.{d} mx -all\"\n\
         _spf.{d} TXT \"v=spf1 ip4:192.0.2.0/24 -all\"\n\
         _dmarc.{d} TXT \"v=DMARC1; p=reject; rua=mailto:dmarc@{d}\"\n\
         s1._domainkey.{d} TXT \"v=DKIM1; k=ed25519; {ED_KEY}\"\n\
         _mta-sts.{d} TXT \"v=STSv1; id=20260101\"\n\
         _smtp._tls.{d} TXT \"v=TLSRPTv1; rua=mailto:tls@{d}\"\n"
    )
}

/// (exit code, every finding as (section, level, text + fix), JSON) for `zone`.
pub fn run(zone: &str, extra: &[&str]) -> (i32, Vec<(String, String, String)>, String) {
    run_for("example.com", zone, extra)
}

/// [`run`] for `domain`.
fn run_for(
    domain: &str,
    zone: &str,
    extra: &[&str],
) -> (i32, Vec<(String, String, String)>, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("zone");
    std::fs::write(&path, zone).expect("zone");
    let mut args = vec![
        "check-domain",
        domain,
        "--selector",
        "s1",
        "--json",
        "--zone",
        path.to_str().expect("utf-8"),
    ];
    args.extend_from_slice(extra);
    let (code, out, err) = run_cli(&args, None);
    (code, findings(&out, &err), out)
}

pub fn findings(out: &str, err: &str) -> Vec<(String, String, String)> {
    let v: serde_json::Value =
        serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}{err}"));
    let mut sections = vec![
        &v["mx"],
        &v["spf"],
        &v["dmarc"],
        &v["mta_sts"],
        &v["tls_rpt"],
    ];
    sections.extend(v["dkim"].as_array().expect("dkim").iter());
    let mut all = Vec::new();
    for s in sections {
        for f in s["findings"].as_array().expect("findings") {
            all.push((
                s["name"].as_str().unwrap_or("").to_string(),
                f["level"].as_str().unwrap_or("").to_string(),
                format!(
                    "{} | fix: {}",
                    f["text"].as_str().unwrap_or(""),
                    f["fix"].as_str().unwrap_or("")
                ),
            ));
        }
    }
    all
}

#[test]
fn a_good_domain_has_no_warnings() {
    let (code, all, out) = run(&good("example.com"), &[]);
    let bad: Vec<_> = all
        .iter()
        .filter(|(_, l, _)| l != "ok" && l != "note")
        .collect();
    assert!(bad.is_empty(), "{bad:#?}");
    assert_eq!(code, 0, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    let tree = v["spf"]["details"].as_array().expect("include tree");
    assert_eq!(
        tree[0],
        "example.com: 2 lookup(s) (include:_spf.example.com mx)"
    );
    assert_eq!(tree[1], "  _spf.example.com: 0 lookup(s)");
    assert!(all.iter().any(|(s, l, t)| s == "MX example.com"
        && l == "ok"
        && t.contains(
            "mx.example.com 192.0.2.10: reverse DNS mx.example.com is forward-confirmed"
        )));
}

/// One broken zone per finding: (what to drop from the good zone, what to add, section,
/// level, words the finding must contain).
const CASES: &[(&str, &str, &str, &str, &str)] = &[
    ("example.com MX", "", "MX", "warning", "no MX record"),
    ("in-addr.arpa PTR", "", "MX", "warning", "no PTR record"),
    (
        "in-addr.arpa PTR",
        "10.2.0.192.in-addr.arpa PTR other.example.net\nother.example.net A 198.51.100.1\n",
        "MX",
        "warning",
        "no PTR name maps back",
    ),
    (
        "mx.example.com A",
        "",
        "MX",
        "error",
        "has no A or AAAA record",
    ),
    (
        "example.com TXT \"v=spf1",
        "example.com TXT \"v=spf1 +all\"\n",
        "SPF",
        "error",
        "+all",
    ),
    // the evaluation probed only 240.0.0.1: a record that passes every IPv6 host was "ok"
    (
        "example.com TXT \"v=spf1",
        "example.com TXT \"v=spf1 ip6:::/0 -all\"\n",
        "SPF",
        "error",
        "reserved addresses get pass (100::1 via ip6:::/0, 2001:2::1 via ip6:::/0)",
    ),
    // and only 240.0.0.1 of IPv4: a quarter of the address space (66.0.0.0/2 holds
    // 64.0.0.0 to 127.255.255.255) was "ok"
    (
        "example.com TXT \"v=spf1",
        "example.com TXT \"v=spf1 ip4:192.0.2.0/24 ip4:66.0.0.0/2 -all\"\n",
        "SPF",
        "warning",
        "100.64.0.1 and 127.255.255.254 get pass: a term may cover 64.0.0.0/2",
    ),
    (
        "example.com TXT \"v=spf1",
        "example.com TXT \"v=spf1 ip4:192.0.2.0/24 ip6:2000::/3 -all\"\n",
        "SPF",
        "error",
        "a reserved address (2001:2::1) gets pass (via ip6:2000::/3)",
    ),
    // the record a redirect leads to is the domain's own: without `all` hosts not listed get
    // neutral; a redirect beside `all` is never used (RFC 7208 §6.1)
    (
        "example.com TXT \"v=spf1",
        "example.com TXT \"v=spf1 redirect=_spf.example.com\"\n\
         _spf.example.com TXT \"v=spf1 ip4:192.0.2.0/24\"\n",
        "SPF",
        "warning",
        "reached through a redirect, has no `all`",
    ),
    (
        "example.com TXT \"v=spf1",
        "example.com TXT \"v=spf1 ip4:192.0.2.0/24 redirect=_spf.example.com -all\"\n\
         _spf.example.com TXT \"v=spf1 ip4:192.0.2.0/24 -all\"\n",
        "SPF",
        "warning",
        "is never used",
    ),
    (
        "example.com TXT \"v=spf1",
        "example.com TXT \"v=spf1 mx ?all\"\n",
        "SPF",
        "warning",
        "?all",
    ),
    (
        "example.com TXT \"v=spf1",
        "example.com TXT \"v=spf1 ptr -all\"\n",
        "SPF",
        "warning",
        "ptr in example.com",
    ),
    (
        "example.com TXT \"v=spf1",
        "example.com TXT \"v=spf1 a:a1.example.com a:a2.example.com a:a3.example.com -all\"\n",
        "SPF",
        "error",
        "3 void lookups",
    ),
    (
        "example.com TXT \"v=spf1",
        "example.com TXT \"v=spf1 include:gone.example.com -all\"\n",
        "SPF",
        "error",
        "gone.example.com has no SPF record",
    ),
    (
        "example.com TXT \"v=spf1",
        "example.com TXT \"v=spf1 include:i1.example.com mx mx mx mx mx -all\"\n\
       i1.example.com TXT \"v=spf1 include:i2.example.com a a -all\"\n\
       i2.example.com TXT \"v=spf1 a a -all\"\n",
        "SPF",
        "error",
        "11 DNS lookups, over the limit of 10",
    ),
    (
        "example.com TXT \"v=spf1",
        "example.com TXT \"v=spf1 -all\"\nexample.com TXT \"v=spf1 mx -all\"\n",
        "SPF",
        "error",
        "more than one",
    ),
    (
        "example.com TXT \"v=spf1",
        "",
        "SPF",
        "warning",
        "no SPF record",
    ),
    (
        "s1._domainkey",
        "s1._domainkey.example.com TXT \"v=DKIM1; k=ed25519; h=sha1; ED_KEY\"\n",
        "DKIM",
        "error",
        "h=sha1",
    ),
    (
        "s1._domainkey",
        "s1._domainkey.example.com TXT \"v=DKIM1; k=ed25519; s=tlsrpt; ED_KEY\"\n",
        "DKIM",
        "error",
        "s= does not include email",
    ),
    (
        "s1._domainkey",
        "s1._domainkey.example.com TXT \"v=DKIM1; k=ed25519; t=y; ED_KEY\"\n",
        "DKIM",
        "warning",
        "t=y",
    ),
    (
        "s1._domainkey",
        "s1._domainkey.example.com TXT \"v=DKIM1; k=ed25519; p=\"\n",
        "DKIM",
        "note",
        "revoked",
    ),
    (
        "s1._domainkey",
        "s1._domainkey.example.com TXT \"v=DKIM1; k=rsa; p=%%%\"\n",
        "DKIM",
        "error",
        "key record invalid",
    ),
    (
        "s1._domainkey",
        "",
        "DKIM",
        "error",
        "no key record published",
    ),
    // RFC 6376 §3.6.2.2: undefined; libopendkim refuses them all ("multiple DNS replies")
    (
        "s1._domainkey",
        "s1._domainkey.example.com TXT \"v=DKIM1; k=ed25519; ED_KEY\"\n\
         s1._domainkey.example.com TXT \"v=DKIM1; k=ed25519; p=\"\n",
        "DKIM",
        "error",
        "2 TXT records at the key name",
    ),
    // RFC 8463 §4.2: p= is the raw 32-byte key, not its SubjectPublicKeyInfo
    (
        "s1._domainkey",
        "s1._domainkey.example.com TXT \"v=DKIM1; k=ed25519; p=MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\"\n",
        "DKIM",
        "error",
        "Ed25519 key of 44 bytes",
    ),
    (
        "s1._domainkey",
        "s1._domainkey.example.com TXT \"v=DKIM1; k=ed25519; p=AAAA\"\n",
        "DKIM",
        "error",
        "Ed25519 key of 3 bytes",
    ),
    (
        "_dmarc",
        "_dmarc.example.com TXT \"v=DMARC1; p=none; rua=mailto:d@example.com\"\n",
        "DMARC",
        "warning",
        "p=none",
    ),
    (
        "_dmarc",
        "_dmarc.example.com TXT \"v=DMARC1; p=reject\"\n",
        "DMARC",
        "warning",
        "no rua=",
    ),
    (
        "_dmarc",
        "_dmarc.example.com TXT \"v=DMARC1; p=reject; p=none; rua=mailto:d@example.com\"\n",
        "DMARC",
        "error",
        "tag p= appears more than once",
    ),
    (
        "_dmarc",
        "_dmarc.example.com TXT \"v=DMARC1; p=reject; v=DMARC1; rua=mailto:d@example.com\"\n",
        "DMARC",
        "error",
        "tag v= appears more than once",
    ),
    // a broken record at the domain's own name is known whatever DNS says higher up the walk
    (
        "_dmarc",
        "_dmarc.example.com TXT \"v=DMARC1 p=reject\"\n_dmarc.com TIMEOUT\n",
        "DMARC",
        "error",
        "no `;` after v=DMARC1",
    ),
    (
        "_dmarc",
        "_dmarc.example.com TXT \"v=DMARC1; p=reject; rua=mailto:d@reports.example.net\"\n",
        "DMARC",
        "error",
        "reports.example.net has not authorized them",
    ),
    (
        "_dmarc",
        "_dmarc.example.com TXT \"v=DMARC1; p=reject; rua=mailto:d@example.com; ruf=mailto:f@reports.example.net\"\n",
        "DMARC",
        "error",
        "ruf reports to f@reports.example.net",
    ),
    (
        "_dmarc",
        "_dmarc.example.com TXT \"v=DMARC1; p=reject; rua=mailto:d@example.com; adkim=x\"\n",
        "DMARC",
        "warning",
        "tag adkim",
    ),
    ("_dmarc", "", "DMARC", "warning", "no DMARC record"),
    (
        "_mta-sts",
        "_mta-sts.example.com TXT \"v=STSv1; id=not valid!\"\n",
        "MTA-STS",
        "error",
        "no valid id=",
    ),
    (
        "_mta-sts",
        "_mta-sts.example.com TXT \"v=STSv1; id=1\"\n_mta-sts.example.com TXT \"v=STSv1; id=2\"\n",
        "MTA-STS",
        "error",
        "several v=STSv1",
    ),
    (
        "_smtp._tls",
        "_smtp._tls.example.com TXT \"v=TLSRPTv1\"\n",
        "TLS-RPT",
        "error",
        "no valid rua=",
    ),
    // RFC 6376 §3.2: values are case sensitive; dkimpy refuses k=ED25519 (our verifier reads it)
    (
        "s1._domainkey",
        "s1._domainkey.example.com TXT \"v=DKIM1; k=ED25519; ED_KEY\"\n",
        "DKIM",
        "error",
        "dkimpy refuses it",
    ),
    // p= as a bare PKCS#1 RSAPublicKey: OpenDKIM cannot use it
    (
        "s1._domainkey",
        "s1._domainkey.example.com TXT \"v=DKIM1; k=rsa; p=MIIBCgKCAQEAsfcbAWjGk8Q2pOrOL1ivKGpDNDTfLqNuqld5u6WSFpUqJ5DEDCUXC+8VA4lPvYhIn/5LeLFMPj9zF/GRkyd2eyMR30qWJxyqhGxrGhZxgh097YwUg8ggS083VoSLq8Jvr+EMouVR7Tial+fbTISkzNAXXuvR3SYQF+wxyrTZYXb7H7aVKDsBLqVP+j40\" \"/0HwI8/fAj6lG4AB5pNYxMnV86o8HkKa9R9i6Mw5Hes9jK3WnP4LmQagjDLt/SAPbG4RZmiGQ1i+hylWCutlmEgAVif/gb4lToh4SIrule8LfO8sBSu+UknSJbfapv4X6f3c8h4+1xlP+uHeaVpwJ4eB0wIDAQAB\"\n",
        "DKIM",
        "error",
        "OpenDKIM refuses it",
    ),
];

#[test]
fn each_broken_zone_gives_its_finding_with_a_fix() {
    let mut failures = Vec::new();
    for (drop, add, section, level, words) in CASES {
        let mut zone: String = good("example.com")
            .lines()
            .filter(|l| !l.contains(drop))
            .map(|l| format!("{l}\n"))
            .collect();
        zone.push_str(&add.replace("ED_KEY", ED_KEY));
        let (code, all, out) = run(&zone, &[]);
        let hit = all
            .iter()
            .find(|(s, l, t)| s.starts_with(section) && l == level && t.contains(words));
        match hit {
            None => failures.push(format!("{words:?}: no {level} in {section}: {all:#?}")),
            Some((_, l, t)) if (l == "warning" || l == "error") && t.ends_with("fix: ") => {
                failures.push(format!("{words:?}: no fix: {t}"));
            }
            Some(_) => {}
        }
        let errors = all.iter().any(|(_, l, _)| l == "error");
        if code != if errors { 1 } else { 0 } {
            failures.push(format!("{words:?}: exit {code}: {out}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert_eq!(CASES.len(), 40);
}

#[test]
fn dns_failures_are_could_not_check_everywhere_with_exit_3() {
    let zone = format!(
        "{}example.com TIMEOUT\n_dmarc.example.com SERVFAIL\ns1._domainkey.example.com TIMEOUT\n\
         _mta-sts.example.com TIMEOUT\n_smtp._tls.example.com SERVFAIL\n",
        good("example.com")
            .lines()
            .filter(|l| !l.starts_with("example.com")
                && !l.starts_with("_dmarc")
                && !l.starts_with("s1."))
            .map(|l| format!("{l}\n"))
            .collect::<String>()
    );
    let (code, all, out) = run(&zone, &[]);
    assert_eq!(code, 3, "{out}");
    for section in ["MX", "SPF", "DMARC", "DKIM", "MTA-STS", "TLS-RPT"] {
        let levels: Vec<&str> = all
            .iter()
            .filter(|(s, _, _)| s.starts_with(section))
            .map(|(_, l, _)| l.as_str())
            .collect();
        assert_eq!(levels, ["could-not-check"], "{section}: {all:#?}");
    }
    assert!(
        all.iter().all(|(_, _, t)| t.starts_with("could not check")),
        "{all:#?}"
    );
    // a real error elsewhere wins: exit 1
    let zone = format!("{zone}example.org TXT \"x\"\n").replace(
        "s1._domainkey.example.com TIMEOUT",
        "s1._domainkey.example.com TXT \"v=DKIM1; k=ed25519; h=sha1; p=AAAA\"",
    );
    let (code, _, out) = run(&zone, &[]);
    assert_eq!(code, 1, "{out}");
}

#[test]
fn a_dead_nameserver_gives_could_not_check_within_the_deadline() {
    let hole = test_support::BlackHole::bind().expect("bind");
    let addr = hole.addr().to_string();
    let start = Instant::now();
    let (code, out, err) = run_cli(
        &[
            "check-domain",
            "example.com",
            "--json",
            "--dns",
            &addr,
            "--timeout",
            "4",
        ],
        None,
    );
    let took = start.elapsed();
    assert_eq!(code, 3, "{out}{err}");
    let all = findings(&out, &err);
    assert!(!all.is_empty());
    assert!(
        all.iter()
            .all(|(_, l, _)| l == "could-not-check" || l == "note"),
        "{all:#?}"
    );
    for section in ["MX", "SPF", "DMARC", "MTA-STS", "TLS-RPT"] {
        assert!(
            all.iter()
                .any(|(s, l, _)| s.starts_with(section) && l == "could-not-check"),
            "{section}: {all:#?}"
        );
    }
    // generous: the deadline is 4 s; nothing may wait for 2 attempts × 5 s per query
    assert!(took < Duration::from_secs(30), "{took:?}");
}

#[test]
#[ignore = "needs AUTHMILTER_E2E=1"]
fn against_a_real_nameserver() {
    if !test_support::e2e_enabled() {
        eprintln!("skipped (set AUTHMILTER_E2E=1)");
        return;
    }
    let records = good("good.example").replace("10.2.0.192.in-addr.arpa PTR mx.good.example\n", "")
        + &good("bad.example")
            .replace("10.2.0.192.in-addr.arpa PTR mx.bad.example\n", "")
            .replace("k=ed25519;", "k=ed25519; h=sha1;");
    // master-file form for NSD: absolute owner names and MX targets (trailing dots)
    let relative: String = records
        .lines()
        .map(|l| {
            let (owner, rest) = l.split_once(' ').expect("owner");
            match rest.strip_prefix("MX 10 ") {
                Some(target) => format!("{owner}. MX 10 {target}.\n"),
                None => format!("{owner}. {rest}\n"),
            }
        })
        .collect();
    let reverse = test_support::nsd::zone("2.0.192.in-addr.arpa", "10 IN PTR mx.good.example.");
    let nsd = test_support::nsd::Nsd::start(&[
        ("example", &test_support::nsd::zone("example", &relative)),
        ("2.0.192.in-addr.arpa", &reverse),
    ])
    .expect("nsd");
    let addr = nsd.addr().to_string();
    let check = |domain: &str| {
        let (code, out, err) = run_cli(
            &[
                "check-domain",
                domain,
                "--selector",
                "s1",
                "--json",
                "--dns",
                &addr,
            ],
            None,
        );
        (code, findings(&out, &err))
    };
    let (code, all) = check("good.example");
    let bad: Vec<_> = all
        .iter()
        .filter(|(_, l, _)| l != "ok" && l != "note")
        .collect();
    assert!(bad.is_empty(), "{bad:#?}\n{}", nsd.log());
    assert_eq!(code, 0);
    let (code, all) = check("bad.example");
    assert_eq!(code, 1);
    assert!(
        all.iter()
            .any(|(s, l, t)| s.starts_with("DKIM") && l == "error" && t.contains("h=sha1")),
        "{all:#?}"
    );
}

/// A percent-encoded IDN `mailto:` (RFC 3986 §2.1, RFC 6068) names the address receivers
/// send to, in A-labels (`d@b%C3%BCcher.example` → `d@xn--bcher-kva.example`, as the milter's
/// reports go): its authorization record is found there, not under a name with `%` in it.
#[test]
fn a_percent_encoded_idn_report_address_is_checked_as_receivers_send() {
    let zone: String = good("example.com")
        .lines()
        .filter(|l| !l.starts_with("_dmarc"))
        .map(|l| format!("{l}\n"))
        .collect::<String>()
        + "_dmarc.example.com TXT \"v=DMARC1; p=reject; rua=mailto:d@b%C3%BCcher.example!10m\"\n\
           example.com._report._dmarc.xn--bcher-kva.example TXT \"v=DMARC1\"\n";
    let (_, all, out) = run(&zone, &[]);
    assert!(
        all.iter().any(|(s, l, t)| s.starts_with("DMARC")
            && l == "ok"
            && t.contains("d@xn--bcher-kva.example, authorized by example.com._report._dmarc.xn--bcher-kva.example")),
        "{all:#?}\n{out}"
    );
    assert!(!all.iter().any(|(_, l, _)| l == "error"), "{all:#?}");
}

/// The policy that applies to a subdomain is the record's `sp=` (a name that does not exist:
/// `np=`, RFC 9989 §4.10.1): an `sp=none` was reported as "p=none" with the advice to change
/// a `p=` that already said reject. A domain covered only by a public suffix's record was told
/// to add a report address at the suffix (`dmarc-reports@com`); it needs its own record.
#[test]
fn dmarc_findings_name_the_tag_and_record_that_apply() {
    let dmarc = |all: &[(String, String, String)]| -> Vec<String> {
        all.iter()
            .filter(|(s, _, _)| s.starts_with("DMARC"))
            .map(|(_, l, t)| format!("{l}: {t}"))
            .collect()
    };
    let zone = format!(
        "{}a.example.com A 192.0.2.10\n",
        good("example.com").replace("p=reject;", "p=reject; sp=none;")
    );
    let (_, all, _) = run_for("a.example.com", &zone, &[]);
    let found = dmarc(&all);
    assert!(
        found
            .iter()
            .any(|f| f.starts_with("warning: sp=none") && f.contains("move to sp=quarantine")),
        "{found:#?}"
    );
    assert!(!found.iter().any(|f| f.contains(" p=none")), "{found:#?}");
    let zone = format!(
        "{}_dmarc.com TXT \"v=DMARC1; p=reject; psd=y\"\n",
        good("other.com")
            .lines()
            .filter(|l| !l.starts_with("_dmarc."))
            .map(|l| format!("{l}\n"))
            .collect::<String>()
    );
    let (_, all, _) = run_for("other.com", &zone, &[]);
    let found = dmarc(&all);
    assert!(
        found
            .iter()
            .any(|f| f.contains("public suffix") && f.contains("_dmarc.other.com")),
        "{found:#?}"
    );
    assert!(!found.iter().any(|f| f.contains("@com")), "{found:#?}");
    // the advice keeps the policy that applies now (following it lowers nothing)
    assert!(
        found
            .iter()
            .any(|f| f.contains("v=DMARC1; p=reject; sp=reject; np=reject; rua=")),
        "{found:#?}"
    );
    // and for its subdomains and names that do not exist, and testing stays testing
    let zone = zone.replace(
        "p=reject; psd=y",
        "p=none; sp=quarantine; np=reject; t=y; psd=y",
    );
    let (_, all, _) = run_for("other.com", &zone, &[]);
    let found = dmarc(&all);
    assert!(
        found
            .iter()
            .any(|f| f.contains("v=DMARC1; p=quarantine; sp=quarantine; np=reject; t=y; rua=")),
        "{found:#?}"
    );
}
