//! FastMail authentication_milter's end-to-end milter corpus, run through authmilter.
//!
//! The 33 milter transactions of `t/AuthMilterTest.pm` (vendored with their messages, zone file
//! and configurations in `tests/data/milter-authmilter/`; see its SOURCE.md) go through the
//! server in-process, with DNS from the corpus zone file translated to `MemoryResolver` zone
//! text and a configuration equivalent to the case's authentication_milter configuration as
//! far as authmilter has equivalents ([`Upstream::toml`]).
//!
//! Behaviour is compared, not bytes: per method the results of the Authentication-Results
//! header (spf for MAIL FROM, dkim per signature with its `header.d`, dmarc per author domain
//! with `header.from` and the published policy, iprev), the Received-SPF result, which incoming
//! Authentication-Results headers were removed, and whether the message was accepted,
//! quarantined or rejected. Methods authmilter does not implement (`x-*`, `dkim-adsp`,
//! `senderid`, `x-ptr`, ...) and authentication_milter's comments and `policy.*` extras are
//! ignored.
//!
//! Every difference must be listed in [`DIFFERENCES`] with its reason (a listed difference that
//! no longer occurs fails the test too), so the list is the complete, current account of where
//! and why authmilter behaves differently on this corpus.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use authres::AuthenticationResults;
use milter_proto::Response;
use testkit::{Eml, EomOutcome};

use crate::support::Milter;

// Why authmilter differs, one reason per kind of difference (summarized in
// tests/data/milter-authmilter/SOURCE.md).

/// RFC 8301 §3.1: rsa-sha1 signatures are not valid.
const RSA_SHA1: &str = "RFC 8301 §3.1: verifiers MUST NOT consider rsa-sha1 signatures valid, so \
     authmilter's default ([dkim] rsa_sha1 = \"reject\") reports dkim=policy; the \
     rsa_sha1=verify run of the case shows that the signature itself verifies (pass, as upstream)";
/// RFC 8601 §2.7.3: no PTR data is permerror.
const IPREV_PERMERROR: &str = "RFC 8601 §2.7.3: iprev permerror is 'no PTR data are available for this \
     IP address' (the reverse query is NXDOMAIN here); fail is for reverse and forward answers that \
     disagree or a forward query without an answer. authentication_milter reports fail";
/// LocalIP / TrustedIP: upstream skips SPF, DMARC and iprev for such clients.
const LOCAL_TRUSTED: &str = "authentication_milter's LocalIP and TrustedIP handlers skip SPF (and \
     Received-SPF), DMARC and iprev for loopback/private and listed client addresses (reporting \
     x-local-ip / x-trusted-ip); an authmilter verify listener checks every message and reports \
     every method, and [policy] allow_networks (configured here as the equivalent) only keeps \
     such mail from being refused";
/// ip_map rewrites the client address before the checks.
const IP_MAP: &str = "authentication_milter's ip_map replaces the client 4.3.2.1 and 5.4.3.0/24 by \
     74.125.82.171 (HELO mail-we0-f171.google.com) before checking; authmilter has no address \
     rewriting and checks the client the MTA reports (the mapped transaction itself is the \
     'Good message' case, which matches)";
/// Null reverse-path: the MAIL FROM identity is postmaster@HELO.
const NULL_SENDER: &str = "RFC 7208 §2.4: with a null reverse-path the MAIL FROM identity is \
     postmaster@<HELO>; authmilter reports the domain it checked, smtp.mailfrom=marcbradshaw.net, \
     where authentication_milter writes smtp.mailfrom=\"\"; the result (pass) is the same";
/// `MAIL FROM:<marc@ marcbradshaw.net>`.
const SPACE_IN_MAIL_FROM: &str = "MAIL FROM:<marc@ marcbradshaw.net> is not an RFC 5321 §4.1.2 Mailbox \
     (no white space); authmilter checks the reverse-path as the MTA hands it over, and its domain \
     ' marcbradshaw.net' is malformed, so SPF is none (RFC 7208 §4.3); authentication_milter drops \
     the space and gets pass. With SPF none and the DKIM signature broken (the From field was \
     altered), DMARC has no aligned pass: fail instead of pass";
/// `MAIL FROM:<test@goestheweasel.com, test@marcbradshaw.net>`.
const TWO_ADDRESS_MAIL_FROM: &str = "MAIL FROM:<test@goestheweasel.com, test@marcbradshaw.net> is not a \
     reverse-path (RFC 5321 §4.1.2: one Mailbox); authmilter's SPF takes the domain after the last \
     '@' (a quoted local-part may hold '@'; RFC 7208 §4.3 only requires that domain to be well \
     formed), marcbradshaw.net, which soft-fails for 123.123.123.123, while authentication_milter \
     cannot parse it, treats the sender as null and checks the HELO name (none). DMARC fails either \
     way (goestheweasel.com is not aligned with either)";
/// hard_reject = 0: upstream quarantines p=reject failures.
const NO_HARD_REJECT: &str = "without DMARC hard_reject, authentication_milter applies p=reject as \
     quarantine (override local_policy, X-Disposition-Quarantine); authmilter has no \
     reject-as-quarantine setting, and its equivalent of 'no hard reject', [dmarc] enforce = false, \
     records the result and applies nothing (RFC 7489 §6.7: the action is local policy). The \
     dmarc_reject configuration (hard_reject = 1, enforce = true) rejects like upstream";
/// hosts_to_remove is a suffix list upstream; remove_ids are exact authserv-ids.
const SANITIZE: &str = "authentication_milter removes every incoming A-R whose authserv-id ends in an \
     entry of hosts_to_remove (so sub.example.com for example.com) or lies under the parent \
     domain of its own host name test.module (test.module, module); authmilter removes the A-R \
     fields of its own authserv-id and of the exact ids in [authres] remove_ids (RFC 8601 §5 leaves \
     which ids are the ADMD's own to the operator, who lists them all), so sub.example.com, module \
     and, under another authserv-id, test.module stay";
/// Several From domains: one decisive dmarc result.
const MULTI_FROM: &str = "with several author domains authmilter ([dmarc] multiple_from = \
     \"strictest\") evaluates each and reports the one that decides, the strictest outcome, as \
     the message's single dmarc result (RFC 7489 §6.6.1, RFC 9989 §5.3.1 and §11.5); \
     authentication_milter adds one dmarc result per author domain. The decisive one \
     (goestheweasel.com: fail, p=reject) matches";
/// dkim:<domain> DMARC allow-list entries.
const DKIM_WHITELIST: &str = "the DMARC whitelist entry dkim:marcbradshaw.net (no DMARC action when a \
     signature of that domain verifies) is [policy] allow_domains = [\"marcbradshaw.net\"], which \
     exempts mail authenticated by that domain; the only marcbradshaw.net signature is rsa-sha1, \
     which RFC 8301 §3.1 says must not verify (dkim=policy), so nothing authenticates the domain \
     and p=reject applies. With rsa_sha1 = \"verify\" the signature verifies and the message is \
     accepted, as upstream. The methods are compared from the same run with enforce = false";

const TIMEOUT_AR: &str = "when the checks time out and the message is accepted anyway \
     ([policy] on_error = \"accept\"), authmilter still writes its own header, \
     `Authentication-Results: <id>; none (not checked: …)`, so that no forged header can speak \
     for it (issue: our header or no delivery); authentication_milter adds nothing";

/// A documented, deliberate difference between authmilter and the expected output.
struct Difference {
    /// Expected file of the case.
    case: &'static str,
    /// Run variant ("" for the main run).
    variant: &'static str,
    /// What is compared.
    key: &'static str,
    /// Upstream's value.
    expected: &'static str,
    /// authmilter's value.
    ours: &'static str,
    /// Why.
    reason: &'static str,
}

const fn d(
    case: &'static str,
    variant: &'static str,
    key: &'static str,
    expected: &'static str,
    ours: &'static str,
    reason: &'static str,
) -> Difference {
    Difference {
        case,
        variant,
        key,
        expected,
        ours,
        reason,
    }
}

/// Every difference on this corpus, by case (expected file), run variant and compared value.
#[rustfmt::skip]
const DIFFERENCES: &[Difference] = &[
    // Good message local (normal, client 127.0.0.1)
    d("google_apps_good.local.eml", "", "received-spf", "(absent)", "softfail", LOCAL_TRUSTED),
    d("google_apps_good.local.eml", "", "spf", "(absent)", "softfail marcbradshaw.net", LOCAL_TRUSTED),
    d("google_apps_good.local.eml", "", "dmarc", "(absent)", "pass p=none (dmarc header.from=marcbradshaw.net)", LOCAL_TRUSTED),
    d("google_apps_good.local.eml", "", "iprev", "(absent)", "permerror 127.0.0.1", LOCAL_TRUSTED),
    // Good message dkim case local (normal, client 127.0.0.1)
    d("google_apps_good_case.local.eml", "", "received-spf", "(absent)", "softfail", LOCAL_TRUSTED),
    d("google_apps_good_case.local.eml", "", "spf", "(absent)", "softfail marcbradshaw.net", LOCAL_TRUSTED),
    d("google_apps_good_case.local.eml", "", "dmarc", "(absent)", "pass p=none (dmarc header.from=marcbradshaw.net)", LOCAL_TRUSTED),
    d("google_apps_good_case.local.eml", "", "iprev", "(absent)", "permerror 127.0.0.1", LOCAL_TRUSTED),
    // Good message trusted (normal, client 123.123.12.3)
    d("google_apps_good.trusted.eml", "", "received-spf", "(absent)", "softfail", LOCAL_TRUSTED),
    d("google_apps_good.trusted.eml", "", "spf", "(absent)", "softfail marcbradshaw.net", LOCAL_TRUSTED),
    d("google_apps_good.trusted.eml", "", "dmarc", "(absent)", "pass p=none (dmarc header.from=marcbradshaw.net)", LOCAL_TRUSTED),
    d("google_apps_good.trusted.eml", "", "iprev", "(absent)", "permerror 123.123.12.3", LOCAL_TRUSTED),
    // Good message no from (normal, client 74.125.82.171)
    d("google_apps_good_nofrom.eml", "", "spf", "pass \"\"", "pass marcbradshaw.net", NULL_SENDER),
    // Good message ip map (normal, client 4.3.2.1)
    d("google_apps_good_map.eml", "", "received-spf", "pass", "softfail", IP_MAP),
    d("google_apps_good_map.eml", "", "spf", "pass marcbradshaw.net", "softfail marcbradshaw.net", IP_MAP),
    d("google_apps_good_map.eml", "", "iprev", "pass 74.125.82.171", "permerror 4.3.2.1", IP_MAP),
    // Good message ip map cidr (normal, client 5.4.3.2)
    d("google_apps_good_map_cidr.eml", "", "received-spf", "pass", "softfail", IP_MAP),
    d("google_apps_good_map_cidr.eml", "", "spf", "pass marcbradshaw.net", "softfail marcbradshaw.net", IP_MAP),
    d("google_apps_good_map_cidr.eml", "", "iprev", "pass 74.125.82.171", "permerror 5.4.3.2", IP_MAP),
    // SPF Fail (normal, client 123.123.123.123)
    d("google_apps_good_spf_fail.eml", "", "iprev", "fail 123.123.123.123", "permerror 123.123.123.123", IPREV_PERMERROR),
    // DKIM Fail Domain Space (normal, client 74.125.82.171)
    d("google_apps_bad_space.eml", "", "received-spf", "pass", "none", SPACE_IN_MAIL_FROM),
    d("google_apps_bad_space.eml", "", "spf", "pass marcbradshaw.net", "none \" marcbradshaw.net\"", SPACE_IN_MAIL_FROM),
    d("google_apps_bad_space.eml", "", "dmarc header.from=marcbradshaw.net", "pass p=none", "fail p=none", SPACE_IN_MAIL_FROM),
    // DKIM/SPF Fail (normal, client 123.123.123.123)
    d("google_apps_bad_spf_fail.eml", "", "iprev", "fail 123.123.123.123", "permerror 123.123.123.123", IPREV_PERMERROR),
    // No DKIM/SPF Fail (normal, client 123.123.123.123)
    d("google_apps_nodkim_spf_fail.eml", "", "iprev", "fail 123.123.123.123", "permerror 123.123.123.123", IPREV_PERMERROR),
    // Sanitize Headers (normal, client 74.125.82.171)
    d("google_apps_good_sanitize.eml", "", "removed A-R", "example.com sub.example.com test.module module", "example.com test.module", SANITIZE),
    // DMARC Reject (normal, client 123.123.123.123)
    d("dmarc_reject.eml", "", "outcome", "quarantine", "accept", NO_HARD_REJECT),
    d("dmarc_reject.eml", "", "iprev", "fail 123.123.123.123", "permerror 123.123.123.123", IPREV_PERMERROR),
    // DMARC Reject (normal, client 123.123.123.123)
    d("dmarc_reject_case.eml", "", "outcome", "quarantine", "accept", NO_HARD_REJECT),
    d("dmarc_reject_case.eml", "", "iprev", "fail 123.123.123.123", "permerror 123.123.123.123", IPREV_PERMERROR),
    // DMARC Multi (normal, client 123.123.123.123)
    d("dmarc_multi.eml", "", "outcome", "quarantine", "accept", NO_HARD_REJECT),
    d("dmarc_multi.eml", "", "dmarc header.from=marcbradshaw.net", "fail p=none", "(absent)", MULTI_FROM),
    d("dmarc_multi.eml", "", "dmarc header.from=example.com", "none", "(absent)", MULTI_FROM),
    d("dmarc_multi.eml", "", "iprev", "fail 123.123.123.123", "permerror 123.123.123.123", IPREV_PERMERROR),
    // DMARC Multi (normal, client 123.123.123.123)
    d("dmarc_multi_2.eml", "", "outcome", "quarantine", "accept", NO_HARD_REJECT),
    d("dmarc_multi_2.eml", "", "received-spf", "none", "softfail", TWO_ADDRESS_MAIL_FROM),
    d("dmarc_multi_2.eml", "", "spf", "none \"\"", "softfail marcbradshaw.net", TWO_ADDRESS_MAIL_FROM),
    d("dmarc_multi_2.eml", "", "dmarc header.from=marcbradshaw.net", "fail p=none", "(absent)", MULTI_FROM),
    d("dmarc_multi_2.eml", "", "dmarc header.from=example.com", "none", "(absent)", MULTI_FROM),
    d("dmarc_multi_2.eml", "", "iprev", "fail 123.123.123.123", "permerror 123.123.123.123", IPREV_PERMERROR),
    // DKIM/SPF Fail Hard (dmarc_reject, client 123.123.123.123)
    d("google_apps_bad_spf_fail_hard.eml", "", "iprev", "fail 123.123.123.123", "permerror 123.123.123.123", IPREV_PERMERROR),
    // DMARC Reject Hard Whitelisted (dmarc_reject, client 99.123.123.123)
    d("dmarc_reject_hard_whitelisted.eml", "", "iprev", "fail 99.123.123.123", "permerror 99.123.123.123", IPREV_PERMERROR),
    // DMARC Reject DKIM Whitelisted (dmarc_reject_wl, client 123.123.123.123)
    d("dmarc_reject_wl.eml", "", "outcome", "accept", "reject", DKIM_WHITELIST),
    d("dmarc_reject_wl.eml", "", "dkim header.d=marcbradshaw.net header.b=S/mtomBF", "pass", "policy", RSA_SHA1),
    d("dmarc_reject_wl.eml", "", "iprev", "fail 123.123.123.123", "permerror 123.123.123.123", IPREV_PERMERROR),
    d("dmarc_reject_wl.eml", "rsa_sha1=verify", "iprev", "fail 123.123.123.123", "permerror 123.123.123.123", IPREV_PERMERROR),
    // Timeout without dryrun, accepted (TestTimeout)
    d("google_apps_good.timeout.eml", "", "authentication-results", "none", "added", TIMEOUT_AR),
    // Sanitize Headers authserv_id (hide_none, client 74.125.82.171)
    d("google_apps_good_sanitize_authserv_id.eml", "", "removed A-R", "example.com mx.example.net sub.example.com test.module module", "example.com mx.example.net", SANITIZE),
];

// ---------------------------------------------------------------------------------------------
// The test
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn authentication_milter_corpus() {
    let dir = data_dir();
    let cases = parse_cases(&read_text(&dir.join("cases.yml")));
    assert_eq!(cases.len(), 33, "cases.yml has the 33 milter transactions");
    let zonefile = read_text(&dir.join("zonefile"));
    let zone = translate_zone(&zonefile);
    // complete: one line per record or forced error (NS records dropped), and it loads
    let wanted = zonefile
        .lines()
        .filter(|l| !l.trim().is_empty() && (!l.starts_with(';') || l.starts_with(";ERROR,")))
        .filter(|l| !zone_tokens(l).iter().any(|(t, q)| !q && t == "NS"))
        .count();
    assert_eq!(zone.lines().count(), wanted, "translated zone:\n{zone}");
    dns::memory::MemoryResolver::from_zone(&zone).expect("translated zone loads");

    let mut items: Vec<Item> = Vec::new();
    let mut skipped: Vec<(String, &str)> = Vec::new();
    for case in &cases {
        let cfg = Upstream::load(&dir, &case.milter_config);
        if cfg.dryrun && !cfg.handlers.contains("TestTimeout") {
            skipped.push((
                case.expected_name(),
                "dryrun (evaluate and log, never change the message or the answer) has no \
                 authmilter equivalent",
            ));
            continue;
        }
        let source = crlf(&std::fs::read(dir.join(&case.source)).expect("source"));
        let expected_raw = std::fs::read(dir.join(&case.expected)).expect("expected");
        let expected = Observed::from_expected(&expected_raw, &source, &cfg.authserv_id);
        let mut variants = vec![Variant::Main, Variant::Rfc9989];
        if has_rsa_sha1(&source) {
            variants.push(Variant::Sha1Verify);
        }
        let mut main_run: Option<Observed> = None;
        for variant in variants {
            let ours = run(case, &cfg, variant, &zone, &source).await;
            match variant {
                Variant::Rfc9989 => {
                    // the RFC 9989 default agrees with the RFC 7489 run on this corpus
                    let main = main_run.as_ref().expect("main run first");
                    items.extend(compare_modes(case, main, &ours));
                }
                _ => items.extend(compare(case, variant, &cfg, &expected, &ours)),
            }
            if variant == Variant::Main {
                main_run = Some(ours);
            }
        }
        if cfg.handlers.contains("TestTimeout") && cfg.dryrun && cfg.tempfail_on_error {
            // without dryrun, upstream answers a timed-out message per tempfail_on_error
            let out = run(case, &cfg, Variant::NoDryrun, &zone, &source).await;
            assert_eq!(
                out.outcome, "tempfail",
                "{}: on_error = tempfail",
                case.desc
            );
        }
    }

    // every difference is documented, and every documented difference still occurs
    let mut undocumented = String::new();
    let mut used = vec![false; DIFFERENCES.len()];
    // [compared, matching, documented] for method results and for the other checks
    let mut counts = [[0usize; 3]; 2];
    for item in &items {
        let c = &mut counts[usize::from(!item.is_method())];
        c[0] += 1;
        if item.matched {
            c[1] += 1;
            continue;
        }
        let doc = DIFFERENCES.iter().position(|d| {
            d.case == item.case
                && d.variant == item.variant
                && d.key == item.key
                && d.expected == item.expected
                && d.ours == item.ours
        });
        match doc {
            Some(i) => {
                used[i] = true;
                c[2] += 1;
                println!(
                    "documented: {} [{}] {}: upstream {:?}, authmilter {:?}: {}",
                    item.case,
                    item.variant,
                    item.key,
                    item.expected,
                    item.ours,
                    DIFFERENCES[i].reason
                );
            }
            None => {
                let _ = writeln!(
                    undocumented,
                    "    d({:?}, {:?}, {:?}, {:?}, {:?}, REASON),",
                    item.case, item.variant, item.key, item.expected, item.ours
                );
            }
        }
    }
    for (name, reason) in &skipped {
        println!("skipped: {name}: {reason}");
    }
    let [m, o] = counts;
    println!(
        "authmilter_corpus: {} cases, {} run, {} skipped with reason; {} milter transactions; \
         {} method results compared: {} match, {} documented differences; {} outcome and header \
         checks: {} match, {} documented differences",
        cases.len(),
        cases.len() - skipped.len(),
        skipped.len(),
        TRANSACTIONS.load(Ordering::Relaxed),
        m[0],
        m[1],
        m[2],
        o[0],
        o[1],
        o[2],
    );
    assert_eq!(
        (cases.len() - skipped.len(), skipped.len()),
        (32, 1),
        "(cases run, cases skipped) changed; is cases.yml complete?"
    );
    assert!(
        undocumented.is_empty(),
        "undocumented differences:\n{undocumented}"
    );
    let stale: Vec<String> = DIFFERENCES
        .iter()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|(d, _)| format!("{} {} {}", d.case, d.variant, d.key))
        .collect();
    assert!(
        stale.is_empty(),
        "documented differences that no longer occur: {stale:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Cases and configurations
// ---------------------------------------------------------------------------------------------

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/milter-authmilter")
}

fn read_text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// One transaction of cases.yml.
#[derive(Debug, Default, Clone)]
struct Case {
    desc: String,
    milter_config: String,
    source: String,
    expected: String,
    client_ip: String,
    client_name_or_helo: String,
    mail_from: String,
    rcpt_to: String,
}

impl Case {
    /// The expected file's name: the case's identifier.
    fn expected_name(&self) -> String {
        self.expected
            .rsplit('/')
            .next()
            .unwrap_or(&self.expected)
            .to_string()
    }
}

/// Reads cases.yml: a list of flat maps of plain or single-quoted scalars.
fn parse_cases(text: &str) -> Vec<Case> {
    let mut cases: Vec<Case> = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() || line == "cases:" {
            continue;
        }
        let (new, body) = match line.strip_prefix("- ") {
            Some(rest) => (true, rest),
            None => (false, line.trim_start()),
        };
        if new {
            cases.push(Case::default());
        }
        let (key, value) = body.split_once(':').expect("key: value");
        let mut value = value.trim().to_string();
        if let Some(q) = value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
            value = q.replace("''", "'");
        }
        let case = cases.last_mut().expect("a case");
        match key {
            "desc" => case.desc = value,
            "milter_config" => case.milter_config = value,
            "source" => case.source = value,
            "expected" => case.expected = value,
            "client_ip" => case.client_ip = value,
            "client_name_or_helo" => case.client_name_or_helo = value,
            "mail_from" => case.mail_from = value,
            "rcpt_to" => case.rcpt_to = value,
            "prefix" => {} // the test client's own configuration directory
            other => panic!("unknown case key {other:?}"),
        }
    }
    cases
}

/// The parts of an authentication_milter configuration that matter here.
#[derive(Debug)]
struct Upstream {
    dryrun: bool,
    authserv_id: String,
    tempfail_on_error: bool,
    /// Enabled handlers (`"!Name"` entries are disabled).
    handlers: BTreeSet<String>,
    /// Handlers with `hide_none` (upstream leaves `none` results out of the header).
    hide_none: BTreeSet<String>,
    hard_reject: bool,
    dmarc_whitelist: Vec<String>,
    trusted_ips: Vec<String>,
    hosts_to_remove: Vec<String>,
}

impl Upstream {
    fn load(dir: &Path, name: &str) -> Upstream {
        let text = read_text(&dir.join(format!("{name}.authentication_milter.json")));
        let json: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n");
        let v: serde_json::Value = serde_json::from_str(&json).expect("config JSON");
        let flag = |v: &serde_json::Value| v.as_i64().unwrap_or(0) != 0;
        let strings = |v: &serde_json::Value| -> Vec<String> {
            v.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        let handlers_json = v["handlers"].as_object().expect("handlers");
        let handlers: BTreeSet<String> = handlers_json
            .keys()
            .filter(|k| !k.starts_with('!'))
            .cloned()
            .collect();
        let hide_none = handlers_json
            .iter()
            .filter(|(k, h)| !k.starts_with('!') && flag(&h["hide_none"]))
            .map(|(k, _)| k.clone())
            .collect();
        Upstream {
            dryrun: flag(&v["dryrun"]),
            authserv_id: v["authserv_id"]
                .as_str()
                .unwrap_or("test.module")
                .to_string(),
            tempfail_on_error: flag(&v["tempfail_on_error"]),
            hide_none,
            hard_reject: flag(
                &handlers_json.get("DMARC").cloned().unwrap_or_default()["hard_reject"],
            ),
            dmarc_whitelist: strings(
                &handlers_json.get("DMARC").cloned().unwrap_or_default()["whitelisted"],
            ),
            trusted_ips: strings(
                &handlers_json.get("TrustedIP").cloned().unwrap_or_default()["trusted_ip_list"],
            ),
            hosts_to_remove: strings(
                &handlers_json.get("Sanitize").cloned().unwrap_or_default()["hosts_to_remove"],
            ),
            handlers,
        }
    }

    /// Whether the handler for `method` runs (the TestTimeout configuration is emulated with
    /// the normal checks; see [`Upstream::toml`]).
    fn checks(&self, method: &str) -> bool {
        let handler = match method {
            "spf" | "received-spf" => "SPF",
            "dkim" => "DKIM",
            "dmarc" => "DMARC",
            "iprev" => "IPRev",
            _ => return false,
        };
        self.handlers.contains(handler) || self.handlers.contains("TestTimeout")
    }

    fn hides_none(&self, method: &str) -> bool {
        let handler = match method {
            "spf" | "received-spf" => "SPF",
            "dkim" => "DKIM",
            "dmarc" => "DMARC",
            "iprev" => "IPRev",
            _ => return false,
        };
        self.hide_none.contains(handler)
    }

    /// The authmilter configuration equivalent to this one, as far as there are equivalents:
    ///
    /// - one `verify` listener (every message is inbound); authserv-id as configured, else
    ///   `test.module` (the test harness's host name);
    /// - SPF, DKIM, DMARC and IPRev handlers switch `[spf]`, `[dkim] verify`, `[dmarc]` and
    ///   `[iprev]`; the SPF handler adds Received-SPF, so `received_spf_header = true`;
    /// - DMARC `hard_reject` is `[dmarc] enforce = true` (without it upstream quarantines
    ///   p=reject failures, which authmilter cannot express: `enforce = false`);
    /// - DMARC `whitelisted` networks, TrustedIP's list and LocalIP's local address ranges go to
    ///   `[policy] allow_networks` (never refused); `dkim:<domain>` entries go to
    ///   `[policy] allow_domains` (never refused when that domain authenticated the message);
    /// - Sanitize `hosts_to_remove` go to `[authres] remove_ids`;
    /// - `tempfail_on_error` is `[policy] on_error = "tempfail"`, except under
    ///   `dryrun`, which turns every answer into continue: `on_error = "accept"`;
    /// - TestTimeout (every callback sleeps past the 1 s timeouts) is emulated by DNS answers
    ///   slower than a short `eom_timeout`;
    /// - `[dmarc] mode = "rfc7489"` (upstream implements RFC 7489) except in the RFC 9989 run.
    fn toml(&self, variant: Variant, enforce: bool) -> String {
        let timeout = self.handlers.contains("TestTimeout");
        let on = |h: &str| self.handlers.contains(h) || timeout;
        let mut allow: Vec<String> = self
            .dmarc_whitelist
            .iter()
            .filter(|w| w.parse::<ipnet::IpNet>().is_ok() || w.parse::<IpAddr>().is_ok())
            .cloned()
            .collect();
        allow.extend(self.trusted_ips.iter().cloned());
        if self.handlers.contains("LocalIP") {
            // IANA special-purpose ranges LocalIP treats as local (Net::IP iptype)
            for n in [
                "10.0.0.0/8",
                "172.16.0.0/12",
                "192.168.0.0/16",
                "100.64.0.0/10",
                "127.0.0.0/8",
                "169.254.0.0/16",
                "240.0.0.0/4",
                "::1/128",
                "fc00::/7",
                "fe80::/10",
            ] {
                allow.push(n.to_string());
            }
        }
        let remove_ids: Vec<String> = self
            .hosts_to_remove
            .iter()
            .filter(|h| !h.eq_ignore_ascii_case(&self.authserv_id))
            .cloned()
            .collect();
        let on_error = if self.tempfail_on_error && (!self.dryrun || variant == Variant::NoDryrun) {
            "tempfail"
        } else {
            "accept"
        };
        let list = |v: &[String]| {
            v.iter()
                .map(|s| format!("{s:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut t = String::new();
        t.push_str("[server]\n");
        if timeout {
            t.push_str("eom_timeout = \"300ms\"\n");
        }
        t.push_str("[[server.listen]]\nsocket = \"inet:127.0.0.1:0\"\nrole = \"verify\"\n");
        let _ = write!(
            t,
            "[authres]\nauthserv_id = {:?}\nremove_forged = true\nremove_ids = [{}]\n",
            self.authserv_id,
            list(&remove_ids)
        );
        let _ = write!(
            t,
            "[spf]\nenabled = {}\nreceived_spf_header = true\n",
            on("SPF")
        );
        let _ = write!(
            t,
            "[dkim]\nverify = {}\nrsa_sha1 = {:?}\n",
            on("DKIM"),
            if variant == Variant::Sha1Verify {
                "verify"
            } else {
                "reject"
            }
        );
        let _ = write!(
            t,
            "[dmarc]\nenabled = {}\nmode = {:?}\nenforce = {}\n",
            on("DMARC"),
            if variant == Variant::Rfc9989 {
                "rfc9989"
            } else {
                "rfc7489"
            },
            self.hard_reject && enforce
        );
        let _ = write!(t, "[iprev]\nenabled = {}\n", on("IPRev"));
        // dkim:<domain> entries: no DMARC action when that domain's signature verifies
        let allow_domains: Vec<String> = self
            .dmarc_whitelist
            .iter()
            .filter_map(|w| w.strip_prefix("dkim:"))
            .map(str::to_string)
            .collect();
        let _ = write!(
            t,
            "[policy]\non_error = {on_error:?}\nallow_networks = [{}]\nallow_domains = [{}]\n",
            list(&allow),
            list(&allow_domains)
        );
        t
    }
}

/// How a case is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    /// The equivalent configuration, RFC 7489 mode.
    Main,
    /// The same with `[dmarc] mode = "rfc9989"` (the default), compared with the main run.
    Rfc9989,
    /// The same with `[dkim] rsa_sha1 = "verify"`, for cases with rsa-sha1 signatures.
    Sha1Verify,
    /// The timeout configuration without dryrun.
    NoDryrun,
}

impl Variant {
    fn label(self) -> &'static str {
        match self {
            Variant::Main => "",
            Variant::Rfc9989 => "rfc9989",
            Variant::Sha1Verify => "rsa_sha1=verify",
            Variant::NoDryrun => "no-dryrun",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Running a case
// ---------------------------------------------------------------------------------------------

/// Runs `case` and, when authmilter refused a message that upstream delivered with a header,
/// runs it again with `enforce = false` to have the header's results.
async fn run(case: &Case, cfg: &Upstream, variant: Variant, zone: &str, raw: &[u8]) -> Observed {
    let mut observed = run_once(case, cfg, variant, true, zone, raw).await;
    if observed.outcome == "reject" {
        let again = run_once(case, cfg, variant, false, zone, raw).await;
        observed.ar = again.ar;
        observed.received_spf = again.received_spf;
        observed.removed_ar = again.removed_ar;
    }
    observed
}

/// Milter transactions run (for the summary).
static TRANSACTIONS: AtomicUsize = AtomicUsize::new(0);

async fn run_once(
    case: &Case,
    cfg: &Upstream,
    variant: Variant,
    enforce: bool,
    zone: &str,
    raw: &[u8],
) -> Observed {
    TRANSACTIONS.fetch_add(1, Ordering::Relaxed);
    let m = Milter::start(&cfg.toml(variant, enforce), zone).await;
    if cfg.handlers.contains("TestTimeout") {
        m.dns.set_latency(Some(Duration::from_secs(3)));
    }
    let mut mta = m.postfix().await;
    let ip: IpAddr = case.client_ip.parse().expect("client ip");
    let name = &case.client_name_or_helo;
    mta.connect(name, ip, 40000, &[]).await.expect("connect");
    mta.helo(name, &[]).await.expect("helo");
    let r = mta
        .mail(&bracket(&case.mail_from), &[], &[])
        .await
        .expect("mail");
    assert!(r.is_continue(), "{}: MAIL {r:?}", case.desc);
    let r = mta
        .rcpt(&bracket(&case.rcpt_to), &[], &[])
        .await
        .expect("rcpt");
    assert!(r.is_continue(), "{}: RCPT {r:?}", case.desc);
    let out = mta.send_message(raw).await.expect("message");
    let _ = mta.quit().await;
    m.stop().await;
    Observed::from_outcome(&out, raw)
}

fn bracket(addr: &str) -> String {
    if addr.starts_with('<') {
        addr.to_string()
    } else {
        format!("<{addr}>")
    }
}

/// LF line ends to CRLF (a message that already has CRLF stays as it is).
fn crlf(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 40);
    let mut prev = 0u8;
    for &b in raw {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    out
}

fn has_rsa_sha1(raw: &[u8]) -> bool {
    Eml::parse(raw).headers.iter().any(|h| {
        h.name.eq_ignore_ascii_case(b"DKIM-Signature")
            && String::from_utf8_lossy(&h.value)
                .replace(char::is_whitespace, "")
                .contains("a=rsa-sha1")
    })
}

// ---------------------------------------------------------------------------------------------
// What happened
// ---------------------------------------------------------------------------------------------

/// The behaviour of one run (ours) or of the expected message (upstream's).
#[derive(Debug, Clone)]
struct Observed {
    /// `accept`, `quarantine`, `reject` or `tempfail`.
    outcome: String,
    /// The Authentication-Results header the milter added.
    ar: Option<AuthenticationResults>,
    /// The result word of the Received-SPF header the milter added.
    received_spf: Option<String>,
    /// Authserv-ids of the incoming A-R headers that were removed, in message order.
    removed_ar: Vec<String>,
    /// Incoming A-R headers were there to remove.
    had_incoming_ar: bool,
}

/// Authserv-ids of the A-R headers of a message, in order.
fn incoming_ar_ids(raw: &[u8]) -> Vec<String> {
    Eml::parse(raw)
        .headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case(b"Authentication-Results"))
        .map(|h| authres::authserv_id(&h.value).unwrap_or_default())
        .collect()
}

impl Observed {
    fn from_outcome(out: &EomOutcome, source: &[u8]) -> Observed {
        let outcome = match &out.final_response {
            Response::ReplyCode(r) if r.code() >= 500 => "reject",
            Response::ReplyCode(_) | Response::Tempfail => "tempfail",
            Response::Reject => "reject",
            Response::Discard => "discard",
            _ if out
                .modifications
                .iter()
                .any(|m| matches!(m, Response::Quarantine(_))) =>
            {
                "quarantine"
            }
            _ => "accept",
        };
        // ours must follow the RFC 8601 grammar: the strict parser
        let ar = out.added_header("Authentication-Results").map(|v| {
            authres::parse(v).unwrap_or_else(|e| {
                panic!(
                    "our A-R {:?} is RFC 8601 syntax: {e}",
                    String::from_utf8_lossy(v)
                )
            })
        });
        if let Some(ar) = &ar {
            for m in &ar.results {
                let reason = m.reason.as_deref().unwrap_or("-");
                assert!(
                    !reason.trim_end().ends_with(':'),
                    "a reason with its detail missing: {}={} reason={reason:?}",
                    m.method,
                    m.result
                );
            }
        }
        let received_spf = out
            .added_header("Received-SPF")
            .map(|v| first_word(&String::from_utf8_lossy(v)));
        let incoming = incoming_ar_ids(source);
        let mut removed: Vec<u32> = out
            .deleted_headers()
            .into_iter()
            .filter(|(_, n)| n.eq_ignore_ascii_case(b"Authentication-Results"))
            .map(|(i, _)| i)
            .collect();
        removed.sort_unstable();
        let removed_ar = removed
            .iter()
            .filter_map(|i| incoming.get((*i as usize).checked_sub(1)?).cloned())
            .collect();
        Observed {
            outcome: outcome.to_string(),
            ar,
            received_spf,
            removed_ar,
            had_incoming_ar: !incoming.is_empty(),
        }
    }

    /// The expected message: `Message rejected with code : 550 ...`, or the message with the
    /// headers upstream added (an A-R with `authserv_id`, Received-SPF,
    /// `X-Disposition-Quarantine: Quarantined due to DMARC policy`) and removed.
    fn from_expected(raw: &[u8], source: &[u8], authserv_id: &str) -> Observed {
        let incoming = incoming_ar_ids(source);
        if raw.starts_with(b"Message rejected with code : ") {
            return Observed {
                outcome: "reject".into(),
                ar: None,
                received_spf: None,
                removed_ar: Vec::new(),
                had_incoming_ar: !incoming.is_empty(),
            };
        }
        let eml = Eml::parse(raw);
        let quarantined = eml.headers.iter().any(|h| {
            h.name.eq_ignore_ascii_case(b"X-Disposition-Quarantine")
                && String::from_utf8_lossy(&h.value)
                    .trim()
                    .starts_with("Quarantined due to DMARC policy")
        });
        let mut ar = None;
        let mut kept: Vec<String> = Vec::new();
        for h in &eml.headers {
            if !h.name.eq_ignore_ascii_case(b"Authentication-Results") {
                continue;
            }
            if authres::claims_authserv_id(&h.value, authserv_id) && ar.is_none() {
                ar = Some(authres::parse_lenient(&h.value).unwrap_or_else(|e| {
                    panic!(
                        "expected A-R {:?} parses: {e}",
                        String::from_utf8_lossy(&h.value)
                    )
                }));
            } else {
                kept.push(authres::authserv_id(&h.value).unwrap_or_default());
            }
        }
        // removed = incoming minus kept, in order
        let mut removed_ar = Vec::new();
        let mut rest = kept.into_iter().peekable();
        for id in &incoming {
            if rest.peek() == Some(id) {
                rest.next();
            } else {
                removed_ar.push(id.clone());
            }
        }
        let received_spf = eml
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(b"Received-SPF"))
            .map(|h| first_word(&String::from_utf8_lossy(&h.value)));
        Observed {
            outcome: if quarantined { "quarantine" } else { "accept" }.into(),
            ar,
            received_spf,
            removed_ar,
            had_incoming_ar: !incoming.is_empty(),
        }
    }
}

fn first_word(s: &str) -> String {
    s.split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_lowercase()
}

// ---------------------------------------------------------------------------------------------
// Comparing
// ---------------------------------------------------------------------------------------------

/// One compared value.
#[derive(Debug)]
struct Item {
    case: String,
    variant: &'static str,
    key: String,
    expected: String,
    ours: String,
    matched: bool,
}

impl Item {
    fn is_method(&self) -> bool {
        ["spf", "dkim", "dmarc", "iprev"]
            .iter()
            .any(|m| self.key == *m || self.key.starts_with(&format!("{m} ")))
    }
}

const ABSENT: &str = "(absent)";

fn compare(
    case: &Case,
    variant: Variant,
    cfg: &Upstream,
    expected: &Observed,
    ours: &Observed,
) -> Vec<Item> {
    let name = case.expected_name();
    let mut items = Vec::new();
    let mut push = |key: String, exp: String, our: String, matched: bool| {
        items.push(Item {
            case: name.clone(),
            variant: variant.label(),
            key,
            expected: exp,
            ours: our,
            matched,
        });
    };
    push(
        "outcome".into(),
        expected.outcome.clone(),
        ours.outcome.clone(),
        expected.outcome == ours.outcome,
    );
    if expected.outcome == "reject" {
        // upstream's expected file is only the rejection
        return items;
    }
    let yes_no = |b: bool| if b { "added" } else { "none" }.to_string();
    push(
        "authentication-results".into(),
        yes_no(expected.ar.is_some()),
        yes_no(ours.ar.is_some()),
        expected.ar.is_some() == ours.ar.is_some(),
    );
    if expected.had_incoming_ar && (expected.ar.is_some() || ours.ar.is_some()) {
        let e = expected.removed_ar.join(" ");
        let o = ours.removed_ar.join(" ");
        push("removed A-R".into(), e.clone(), o.clone(), e == o);
    }
    let (Some(exp_ar), Some(our_ar)) = (&expected.ar, &ours.ar) else {
        return items;
    };

    // Received-SPF
    if cfg.checks("received-spf") {
        let e = expected.received_spf.clone();
        let o = ours.received_spf.clone().unwrap_or_else(|| ABSENT.into());
        match e {
            Some(e) => push("received-spf".into(), e.clone(), o.clone(), e == o),
            None if cfg.hides_none("received-spf") => push(
                "received-spf".into(),
                "none (hidden)".into(),
                o.clone(),
                o == "none",
            ),
            None => push("received-spf".into(), ABSENT.into(), o.clone(), o == ABSENT),
        }
    }

    // SPF of MAIL FROM
    let spf_of = |ar: &AuthenticationResults| {
        ar.by_method("spf")
            .find(|m| m.property("smtp", "mailfrom").is_some())
            .map(|m| {
                let from = m.property("smtp", "mailfrom").unwrap_or_default();
                let domain = from.rsplit('@').next().unwrap_or("").to_ascii_lowercase();
                (m.result.clone(), format!("{} {}", m.result, shown(&domain)))
            })
    };
    if cfg.checks("spf") {
        let o = spf_of(our_ar);
        let o_text = o.as_ref().map(|x| x.1.clone()).unwrap_or(ABSENT.into());
        match spf_of(exp_ar) {
            Some((_, e)) => push("spf".into(), e.clone(), o_text.clone(), e == o_text),
            None if cfg.hides_none("spf") => push(
                "spf".into(),
                "none (hidden)".into(),
                o_text,
                o.is_some_and(|x| x.0 == "none"),
            ),
            None => push("spf".into(), ABSENT.into(), o_text.clone(), o.is_none()),
        }
    }

    // DKIM, per signature
    if cfg.checks("dkim") {
        let sigs = |ar: &AuthenticationResults| -> Vec<(String, String)> {
            ar.by_method("dkim")
                .map(|m| {
                    let key = match (m.property("header", "d"), m.property("header", "b")) {
                        (Some(d), b) => format!(
                            "dkim header.d={} header.b={}",
                            d.to_ascii_lowercase(),
                            b.unwrap_or("").chars().take(8).collect::<String>()
                        ),
                        (None, _) => "dkim".to_string(),
                    };
                    (key, m.result.clone())
                })
                .collect()
        };
        let exp = sigs(exp_ar);
        let mut our = sigs(our_ar);
        if exp.is_empty() {
            let o = our
                .iter()
                .map(|(k, r)| format!("{r} ({k})"))
                .collect::<Vec<_>>()
                .join(", ");
            let o = if o.is_empty() { ABSENT.to_string() } else { o };
            let none = our.len() == 1 && our[0].1 == "none";
            if cfg.hides_none("dkim") {
                push("dkim".into(), "none (hidden)".into(), o, none);
            } else {
                push("dkim".into(), ABSENT.into(), o.clone(), o == ABSENT);
            }
        }
        if !exp.is_empty() {
            for (key, result) in exp {
                let found = our.iter().position(|(k, _)| *k == key);
                let o = found
                    .map(|i| our.remove(i).1)
                    .unwrap_or_else(|| ABSENT.into());
                push(key, result.clone(), o.clone(), result == o);
            }
            for (key, result) in our {
                push(key, ABSENT.into(), result, false);
            }
        }
    }

    // DMARC, per author domain
    if cfg.checks("dmarc") {
        let results = |ar: &AuthenticationResults, policy_prop: (&str, &str)| {
            ar.by_method("dmarc")
                .map(|m| {
                    let key = match m.property("header", "from") {
                        Some(f) => format!("dmarc header.from={}", f.to_ascii_lowercase()),
                        None => "dmarc".into(),
                    };
                    let value = match (m.result.as_str(), m.property(policy_prop.0, policy_prop.1))
                    {
                        ("none" | "permerror" | "temperror", _) => m.result.clone(),
                        (r, Some(p)) => format!("{r} p={p}"),
                        (r, None) => format!("{r} p=-"),
                    };
                    (key, value)
                })
                .collect::<Vec<_>>()
        };
        let exp = results(exp_ar, ("policy", "published-domain-policy"));
        let mut our = results(our_ar, ("policy", "dmarc"));
        if exp.is_empty() {
            let o = our
                .iter()
                .map(|(k, r)| format!("{r} ({k})"))
                .collect::<Vec<_>>()
                .join(", ");
            let o = if o.is_empty() { ABSENT.to_string() } else { o };
            if cfg.hides_none("dmarc") {
                let none = our.len() == 1 && our[0].1 == "none";
                push("dmarc".into(), "none (hidden)".into(), o, none);
            } else {
                push("dmarc".into(), ABSENT.into(), o.clone(), o == ABSENT);
            }
        }
        if !exp.is_empty() {
            for (key, value) in exp {
                let found = our.iter().position(|(k, _)| *k == key);
                let o = found
                    .map(|i| our.remove(i).1)
                    .unwrap_or_else(|| ABSENT.into());
                push(key, value.clone(), o.clone(), value == o);
            }
            for (key, value) in our {
                push(key, ABSENT.into(), value, false);
            }
        }
    }

    // iprev
    if cfg.checks("iprev") {
        let iprev = |ar: &AuthenticationResults, prop: (&str, &str)| {
            ar.by_method("iprev")
                .next()
                .map(|m| format!("{} {}", m.result, m.property(prop.0, prop.1).unwrap_or("")))
        };
        let e = iprev(exp_ar, ("smtp", "remote-ip"));
        let o = iprev(our_ar, ("policy", "iprev")).unwrap_or_else(|| ABSENT.into());
        match e {
            Some(e) => push("iprev".into(), e.clone(), o.clone(), e == o),
            None => push("iprev".into(), ABSENT.into(), o.clone(), o == ABSENT),
        }
    }
    items
}

/// A value as is, or quoted when it is empty or has spaces.
fn shown(s: &str) -> String {
    if s.is_empty() || s.contains(char::is_whitespace) {
        format!("{s:?}")
    } else {
        s.to_string()
    }
}

/// RFC 9989 (default) against RFC 7489 mode: the same DMARC results and the same outcome.
fn compare_modes(case: &Case, rfc7489: &Observed, rfc9989: &Observed) -> Vec<Item> {
    let dmarc = |o: &Observed| -> String {
        match &o.ar {
            Some(ar) => ar
                .by_method("dmarc")
                .map(|m| {
                    format!(
                        "{} {} {}",
                        m.result,
                        m.property("header", "from").unwrap_or("-"),
                        m.property("policy", "dmarc").unwrap_or("-")
                    )
                })
                .collect::<Vec<_>>()
                .join(", "),
            None => ABSENT.into(),
        }
    };
    let name = case.expected_name();
    let mut items = Vec::new();
    for (key, a, b) in [
        (
            "outcome (rfc9989 vs rfc7489)",
            rfc7489.outcome.clone(),
            rfc9989.outcome.clone(),
        ),
        ("dmarc (rfc9989 vs rfc7489)", dmarc(rfc7489), dmarc(rfc9989)),
    ] {
        items.push(Item {
            case: name.clone(),
            variant: Variant::Rfc9989.label(),
            key: key.into(),
            matched: a == b,
            expected: a,
            ours: b,
        });
    }
    items
}

// ---------------------------------------------------------------------------------------------
// The zone file
// ---------------------------------------------------------------------------------------------

/// Translates the corpus zone file (BIND-like: `name [ttl] [IN] TYPE rdata`, TXT data as one or
/// more quoted or unquoted character-strings, possibly inside parentheses; `;ERROR,<name>,<type>,
/// <error>` forces an error, an IP address as name meaning its reverse name) into
/// `MemoryResolver` zone text. NS records are dropped (authmilter never asks for them).
fn translate_zone(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix(";ERROR,") {
            let parts: Vec<&str> = rest.split(',').map(str::trim).collect();
            let [name, rtype, error] = parts[..] else {
                panic!("bad error line {line:?}")
            };
            let owner = match name.parse::<IpAddr>() {
                Ok(ip) => dns::reverse_name(ip),
                Err(_) => name.to_string(),
            };
            let _ = writeln!(out, "{owner} {rtype} {error}");
            continue;
        }
        if line.starts_with(';') {
            continue;
        }
        let tokens = zone_tokens(line);
        let mut it = tokens.iter().peekable();
        let name = &it.next().expect("owner").0;
        if it
            .peek()
            .is_some_and(|(t, q)| !q && t.chars().all(|c| c.is_ascii_digit()))
        {
            it.next();
        }
        if it
            .peek()
            .is_some_and(|(t, q)| !q && t.eq_ignore_ascii_case("IN"))
        {
            it.next();
        }
        let rtype = it.next().expect("type").0.to_ascii_uppercase();
        let rdata: Vec<&String> = it.map(|(t, _)| t).collect();
        match rtype.as_str() {
            "TXT" => {
                let joined: String = rdata.iter().map(|s| s.as_str()).collect();
                let escaped = joined.replace('\\', "\\\\").replace('"', "\\\"");
                let _ = writeln!(out, "{name} TXT \"{escaped}\"");
            }
            "A" | "AAAA" | "PTR" | "CNAME" => {
                let _ = writeln!(out, "{name} {rtype} {}", rdata[0]);
            }
            "MX" => {
                let _ = writeln!(out, "{name} MX {} {}", rdata[0], rdata[1]);
            }
            "NS" => {}
            other => panic!("record type {other} in the zone file"),
        }
    }
    out
}

/// Splits a zone line into (token, was quoted); parentheses outside quotes are dropped.
fn zone_tokens(line: &str) -> Vec<(String, bool)> {
    let mut tokens = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() || c == '(' || c == ')' => {
                chars.next();
            }
            '"' => {
                chars.next();
                let mut s = String::new();
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => s.extend(chars.next()),
                        c => s.push(c),
                    }
                }
                tokens.push((s, true));
            }
            _ => {
                let mut s = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || c == '(' || c == ')' || c == '"' {
                        break;
                    }
                    s.push(c);
                    chars.next();
                }
                tokens.push((s, false));
            }
        }
    }
    tokens
}
