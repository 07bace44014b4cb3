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

mod cases;
mod comparison;
mod differences;
mod observe;
mod upstream;
mod zone;

use cases::*;
use comparison::*;
use differences::*;
use observe::*;
use upstream::*;
use zone::*;

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
        let source = message::lf_to_crlf(&std::fs::read(dir.join(&case.source)).expect("source"))
            .into_owned();
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
