//! postsrsd's blackbox suites (socketmap and milter), vendored in `tests/data/postsrsd/`.
//!
//! Every stateless case runs. Database-mode cases run when they involve no database alias
//! (`=1=`): those need postsrsd's key-value store, which this crate does not have.

use serde::Deserialize;
use srs::milter::{MilterDecision, MilterOptions, SrsMilter};
use srs::socketmap::{HandlerOptions, handle_request};
use srs::{Clock, DomainSet, Separator, Srs, SrsConfig, load_secrets};

#[derive(Debug, Deserialize)]
struct Config {
    secret: String,
    local_domains: Vec<String>,
    srs_domain: String,
    now_unix: u64,
    hash_length: usize,
    separator: String,
}

#[derive(Debug, Deserialize)]
struct Suite<T> {
    config: Config,
    stateless: Vec<T>,
    with_database: Vec<T>,
}

#[derive(Debug, Deserialize)]
struct SocketmapCase {
    comment: String,
    query: String,
    reply: String,
}

#[derive(Debug, Deserialize)]
struct MilterCase {
    comment: String,
    mail_from: String,
    rcpt_to: Vec<String>,
    action: String,
    new_mail_from: Option<String>,
    new_rcpt_to: Option<Vec<String>>,
}

fn build(config: &Config) -> (Srs, DomainSet) {
    let mut c = SrsConfig::new(
        load_secrets(&config.secret).unwrap(),
        config.srs_domain.as_str(),
    );
    c.clock = Clock::fixed_unix(config.now_unix);
    c.hash_length = config.hash_length;
    c.hash_minimum = config.hash_length;
    c.separator = config.separator.parse::<Separator>().unwrap();
    let domains = config.local_domains.iter().map(String::as_str).collect();
    (Srs::new(c).unwrap(), domains)
}

/// Why a database-mode case cannot run here, if it cannot.
fn needs_database(texts: &[&str]) -> Option<&'static str> {
    texts
        .iter()
        .any(|t| t.contains("=1="))
        .then_some("needs postsrsd's database backend (alias SRS0=HHHH=TT=1=KEY)")
}

#[test]
fn socketmap_cases() {
    let text = include_str!("data/postsrsd/postsrsd-socketmap-cases.yml");
    let suite: Suite<SocketmapCase> = serde_yaml::from_str(text).unwrap();
    let (srs, domains) = build(&suite.config);
    let is_local = |d: &str| domains.contains(d);
    let (mut run, mut skipped, mut failures) = (0, Vec::new(), Vec::new());
    let cases = suite.stateless.iter().map(|c| ("stateless", c));
    let cases = cases.chain(suite.with_database.iter().map(|c| ("with_database", c)));
    for (group, case) in cases {
        if group == "with_database"
            && let Some(why) = needs_database(&[&case.query, &case.reply])
        {
            skipped.push(format!("{group}: {}: {why}", case.comment));
            continue;
        }
        run += 1;
        let reply = handle_request(
            &srs,
            &is_local,
            &HandlerOptions::default(),
            case.query.as_bytes(),
        );
        let got = String::from_utf8_lossy(&reply.to_payload()).into_owned();
        if got != case.reply {
            failures.push(format!(
                "{group}: {}: query {:?}: want {:?}, got {:?}",
                case.comment, case.query, case.reply, got
            ));
        }
    }
    report("socketmap", run, &skipped, &failures);
    assert_eq!((run, skipped.len()), (29 + 4, 4));
}

#[test]
fn milter_cases() {
    let text = include_str!("data/postsrsd/postsrsd-milter-cases.yml");
    let suite: Suite<MilterCase> = serde_yaml::from_str(text).unwrap();
    let (srs, domains) = build(&suite.config);
    let is_local = |d: &str| domains.contains(d);
    let never = |_: &str| false;
    let milter = SrsMilter {
        srs: &srs,
        is_local: &is_local,
        is_excluded: &never,
        options: MilterOptions::default(),
    };
    let (mut run, mut skipped, mut failures) = (0, Vec::new(), Vec::new());
    let cases = suite.stateless.iter().map(|c| ("stateless", c));
    let cases = cases.chain(suite.with_database.iter().map(|c| ("with_database", c)));
    for (group, case) in cases {
        if group == "with_database" {
            let mut texts: Vec<&str> = vec![&case.mail_from];
            texts.extend(case.rcpt_to.iter().map(String::as_str));
            texts.extend(case.new_mail_from.as_deref());
            texts.extend(case.new_rcpt_to.iter().flatten().map(String::as_str));
            if let Some(why) = needs_database(&texts) {
                skipped.push(format!("{group}: {}: {why}", case.comment));
                continue;
            }
        }
        run += 1;
        let decision = milter.decide(&case.mail_from, &case.rcpt_to, None);
        let (action, new_from, new_rcpt) = match &decision {
            MilterDecision::Accept(changes) => {
                let rcpts: Vec<String> = changes.recipients.iter().map(|c| c.new.clone()).collect();
                (
                    "accept",
                    changes.new_sender.clone(),
                    (!rcpts.is_empty()).then_some(rcpts),
                )
            }
            MilterDecision::Reject(_) => ("reject", None, None),
        };
        if action != case.action || new_from != case.new_mail_from || new_rcpt != case.new_rcpt_to {
            failures.push(format!(
                "{group}: {}: want {} {:?} {:?}, got {decision:?}",
                case.comment, case.action, case.new_mail_from, case.new_rcpt_to
            ));
        }
    }
    report("milter", run, &skipped, &failures);
    assert_eq!((run, skipped.len()), (28 + 7, 4));
}

fn report(suite: &str, run: usize, skipped: &[String], failures: &[String]) {
    println!(
        "postsrsd {suite} cases: {run} run, {} passed, {} skipped",
        run - failures.len(),
        skipped.len()
    );
    for s in skipped {
        println!("  skipped: {s}");
    }
    for f in failures {
        println!("  FAILED: {f}");
    }
    assert!(
        failures.is_empty(),
        "{} {suite} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
