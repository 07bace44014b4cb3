//! Pinned seeded differential (tests/data/dmarc-peer/SOURCE.md): 240 generated DNS worlds whose
//! expected outcome was computed by an independent implementation of RFC 9989 (§4.7-§4.10.2)
//! and RFC 7489 (§6.6.3, PSL organizational domain). Every field of `expect` must match.

use std::sync::Arc;

use dmarc::{
    Config, DkimAuth, DkimOutcome, Dmarc, DmarcOutcome, FixedSampler, Mode, SpfAuth, SpfOutcome,
    SpfScope,
};
use dns::memory::MemoryResolver;
use serde_yaml::Value;
use test_support::block_on;

const CASES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/dmarc-peer/cases.yml"
);

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

fn spf_outcome(s: &str) -> SpfOutcome {
    match s {
        "pass" => SpfOutcome::Pass,
        "fail" => SpfOutcome::Fail,
        "softfail" => SpfOutcome::SoftFail,
        "temperror" => SpfOutcome::TempError,
        _ => SpfOutcome::None,
    }
}

fn dkim_outcome(s: &str) -> DkimOutcome {
    match s {
        "pass" => DkimOutcome::Pass,
        "fail" => DkimOutcome::Fail,
        "temperror" => DkimOutcome::TempError,
        "neutral" => DkimOutcome::Neutral,
        _ => DkimOutcome::None,
    }
}

/// The evaluation of one case.
fn run(case: &Value) -> DmarcOutcome {
    let mode = match text(&case["mode"]) {
        "rfc7489" => Mode::Rfc7489,
        _ => Mode::Rfc9989,
    };
    let resolver = MemoryResolver::from_zone(text(&case["zone"])).expect("zone");
    let roll = case["roll"].as_u64().and_then(|r| u8::try_from(r).ok());
    let dmarc = Dmarc::new(Config {
        mode,
        ..Config::default()
    })
    .with_sampler(Arc::new(FixedSampler(roll.expect("roll"))));
    let spf = case["spf"].as_mapping().map(|_| {
        SpfAuth::new(
            spf_outcome(text(&case["spf"]["r"])),
            text(&case["spf"]["d"]),
            SpfScope::MailFrom,
        )
    });
    let dkim: Vec<DkimAuth> = case["dkim"]
        .as_sequence()
        .map(|s| {
            s.iter()
                .map(|k| DkimAuth::new(dkim_outcome(text(&k["r"])), text(&k["d"]), "sel"))
                .collect()
        })
        .unwrap_or_default();
    let from = [text(&case["from"]).as_bytes()];
    block_on(dmarc.evaluate(&resolver, &from, spf.as_ref(), &dkim))
}

/// The differences between the outcome and the case's `expect`, one line each.
fn mismatches(case: &Value, out: &DmarcOutcome) -> Vec<String> {
    let want = &case["expect"];
    let mut bad = Vec::new();
    let mut check = |what: &str, got: String, expected: String| {
        if got != expected {
            bad.push(format!("{what}: got {got}, expected {expected}"));
        }
    };
    check(
        "result",
        out.result.to_string(),
        text(&want["result"]).to_string(),
    );
    let e = out.primary();
    if let Some(policy) = want.get("policy") {
        let got = e.and_then(|e| e.policy).map(|p| p.to_string());
        check(
            "policy",
            format!("{got:?}"),
            format!("{:?}", policy.as_str()),
        );
    }
    if let Some(domain) = want.get("policy_domain") {
        let got = e.and_then(|e| e.policy_domain.clone());
        check(
            "policy domain",
            format!("{got:?}"),
            format!("{:?}", domain.as_str()),
        );
    }
    if let Some(d) = want.get("disposition") {
        check("disposition", out.disposition.to_string(), text(d).into());
    }
    if let Some(a) = want.get("spf_aligned").and_then(Value::as_bool) {
        let got = e.and_then(|e| e.spf.as_ref()).map(|s| s.aligned);
        check(
            "SPF alignment",
            format!("{got:?}"),
            format!("{:?}", Some(a)),
        );
    }
    if let Some(list) = want.get("dkim_aligned").and_then(Value::as_sequence) {
        for (i, a) in list.iter().enumerate() {
            if let Some(a) = a.as_bool() {
                let got = e.and_then(|e| e.dkim.get(i)).map(|k| k.aligned);
                check(
                    &format!("DKIM {i} alignment"),
                    format!("{got:?}"),
                    format!("{:?}", Some(a)),
                );
            }
        }
    }
    bad
}

#[test]
fn generated_worlds_match_the_independent_implementation() {
    let doc: Value =
        serde_yaml::from_str(&std::fs::read_to_string(CASES).expect("read")).expect("yaml");
    let cases = doc.as_sequence().expect("a list of cases");
    assert_eq!(cases.len(), 240, "the corpus' size is pinned");
    let mut failures = Vec::new();
    for case in cases {
        let out = run(case);
        for m in mismatches(case, &out) {
            failures.push(format!(
                "{}: {m} ({})",
                text(&case["name"]),
                out.reason_text()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
