//! The ValiMail ARC test suite (`tests/data/arc-valimail`, see its SOURCE.md): every
//! validation case and every signing case, counts pinned.
//!
//! Validation: each message is validated with the scenario's key records; the chain result
//! must equal the expected `cv` (an empty `cv` means the newest seal says `cv=fail`: the
//! result is `fail`). Cases where RFC 8617 (importing RFC 6376) requires another answer than
//! the suite's are listed in [`DEVIATIONS`] with the reason, and must give that answer.
//!
//! Signing: each message is validated, then sealed as the scenario's ADMD at the fixed
//! timestamp with the fixed 1024-bit key, `h=` = `sig-headers`, in the suite's standardized
//! layout; the AAR payload is the consolidation of the message's Authentication-Results with
//! the `srv-id` authserv-id (README "AR Consolidation"). The three fields must equal the
//! expected ones byte for byte once whitespace is removed (tags compared as a set), which for
//! `b=` means our signing input is exactly theirs (RSASSA-PKCS1-v1_5 is deterministic). An
//! empty expectation means no set may be added.

mod common;

use std::collections::BTreeMap;

use arc::{AmsHeaders, ArcError, ChainStatus, FailReason, Layout, Sealer, SealerConfig, Verifier};
use authres::AuthenticationResults;
use dns::memory::MemoryResolver;
use serde_yaml::Value;

/// The suite's messages carry t=12345 (1970); any later time works.
const NOW: u64 = 1_700_000_000;

/// Cases whose expected result we do not follow, with the result we give and why.
const DEVIATIONS: &[(&str, ChainStatus, &str)] = &[
    (
        "ams_fields_h_empty",
        ChainStatus::Fail,
        "an AMS with an empty h= signs no From field: RFC 8617 §4.1.2 gives the AMS the \
         syntax and semantics of DKIM-Signature, whose h= must list From (RFC 6376 §3.5 \
         ABNF, §6.1.1 \"From field not signed\"); such an AMS cannot vouch for the author",
    ),
    (
        "ams_fields_c_na",
        ChainStatus::Fail,
        "an AMS without c= is simple/simple (RFC 6376 §3.5 c= default, imported by RFC 8617 \
         §4.1.2, which changes no default); the case was signed relaxed/relaxed (dkimpy's \
         ARC default). OpenARC also reads a missing c= as simple/simple",
    ),
];

fn documents(path: &str) -> Vec<Scenario> {
    let text = common::read(path);
    serde_yaml::Deserializer::from_str(&text)
        .filter_map(|d| {
            <Option<Scenario> as serde::Deserialize>::deserialize(d).expect("YAML document")
        })
        .collect()
}

fn text(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Null) | None => String::new(),
        Some(other) => panic!("{key}: {other:?}"),
    }
}

fn resolver(scenario: &Value) -> MemoryResolver {
    let r = MemoryResolver::new();
    if let Some(Value::Mapping(records)) = scenario.get("txt-records") {
        for (name, value) in records {
            r.add_txt(name.as_str().unwrap(), value.as_str().unwrap());
        }
    }
    r
}

/// A YAML mapping read as its entries in order, repeated keys included (the validation file
/// repeats four test ids with different messages; a `Value` mapping would reject them and
/// upstream's Python loader keeps only the last of each).
struct Entries(Vec<(String, Value)>);

impl<'de> serde::Deserialize<'de> for Entries {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Entries;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<Entries, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = m.next_entry::<String, Value>()? {
                    out.push((k, v));
                }
                Ok(Entries(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// A scenario: its top-level keys, with `tests` kept as ordered entries.
struct Scenario {
    fields: Value,
    tests: Vec<(String, Value)>,
}

impl<'de> serde::Deserialize<'de> for Scenario {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Scenario;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a scenario mapping")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<Scenario, A::Error> {
                let mut fields = serde_yaml::Mapping::new();
                let mut tests = Vec::new();
                while let Some(k) = m.next_key::<String>()? {
                    if k == "tests" {
                        tests = m.next_value::<Entries>()?.0;
                    } else {
                        fields.insert(Value::String(k), m.next_value::<Value>()?);
                    }
                }
                // label repeated ids: the second `x` becomes `x#2`
                let mut seen: BTreeMap<String, usize> = BTreeMap::new();
                for (k, _) in &mut tests {
                    let n = seen.entry(k.clone()).or_default();
                    *n += 1;
                    if *n > 1 {
                        *k = format!("{k}#{n}");
                    }
                }
                Ok(Scenario {
                    fields: Value::Mapping(fields),
                    tests,
                })
            }
        }
        d.deserialize_map(V)
    }
}

fn expected_status(cv: &str) -> ChainStatus {
    match cv.to_ascii_lowercase().as_str() {
        "pass" => ChainStatus::Pass,
        "none" => ChainStatus::None,
        // "fail", and "" for a chain whose newest seal already says cv=fail
        _ => ChainStatus::Fail,
    }
}

#[test]
fn validation_suite() {
    let verifier = Verifier::default();
    let (mut matched, mut deviated) = (0usize, 0usize);
    let mut by_result: BTreeMap<&str, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for scenario in documents("arc-valimail/arc-draft-validation-tests.yml") {
        let dns = resolver(&scenario.fields);
        for (id, case) in scenario.tests.clone() {
            let msg = text(&case, "message");
            let outcome =
                common::block_on(arc::verify_message(&verifier, &dns, msg.as_bytes(), NOW));
            let upstream = expected_status(&text(&case, "cv"));
            let deviation = DEVIATIONS.iter().find(|(d, _, _)| *d == id);
            let want = deviation.map_or(upstream, |(_, ours, _)| *ours);
            if outcome.result != want {
                failures.push(format!(
                    "{id}: got {} ({:?}), want {want}",
                    outcome.result, outcome.reason
                ));
                continue;
            }
            *by_result.entry(want.as_str()).or_default() += 1;
            if deviation.is_some() {
                deviated += 1;
            } else {
                matched += 1;
            }
            println!(
                "{id}: {} {:?}",
                outcome.result,
                outcome.reason.map(|r| r.to_string())
            );
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing:\n{}",
        failures.len(),
        failures.join("\n")
    );
    println!("by result: {by_result:?}");
    assert_eq!((matched, deviated), (173, 2));
}

/// Consolidates the Authentication-Results fields of `srv_id`, in order (README "AR
/// Consolidation").
fn consolidated(headers: &[dkim::HeaderField], srv_id: &str) -> AuthenticationResults {
    let mut out = AuthenticationResults::new(srv_id);
    for h in headers
        .iter()
        .filter(|h| h.name_is("Authentication-Results"))
    {
        if let Ok(ar) = authres::parse(&h.value)
            && ar.authserv_id == srv_id
        {
            out.results.extend(ar.results);
        }
    }
    out
}

/// A field value as a set of `;`-separated tags with all whitespace removed.
fn tag_set(v: &str) -> Vec<String> {
    let squeezed: String = v.chars().filter(|c| !c.is_whitespace()).collect();
    let mut tags: Vec<String> = squeezed
        .split(';')
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect();
    tags.sort();
    tags
}

/// How to judge a signing file's expectations.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// The three fields must equal the expected ones.
    Identical,
    /// `unused_tests.yml`: upstream does not run these because their expected signatures
    /// are wrong (dkimpy does not validate them either). The AAR must be identical, our set
    /// must validate, and the expected set must not.
    AarOnly,
}

fn run_signing_file(path: &str, expect: Expect) -> (usize, usize) {
    let verifier = Verifier::default();
    let (mut sealed, mut refused) = (0, 0);
    for scenario in documents(path) {
        let dns = resolver(&scenario.fields);
        let domain = text(&scenario.fields, "domain");
        let selector = text(&scenario.fields, "sel");
        for (id, case) in scenario.tests.clone() {
            let msg = text(&case, "message");
            let parsed = message::parse_message(msg.as_bytes());
            let names: Vec<String> = text(&case, "sig-headers")
                .split(':')
                .map(str::to_string)
                .collect();
            let mut config = SealerConfig::new(&domain, &selector);
            config.headers = AmsHeaders::Exact(names);
            config.layout = Layout::SortedOneLine;
            let sealer = Sealer::new(
                Box::new(common::TestRsaKey::from_pkcs1_pem(&text(
                    &scenario.fields,
                    "privatekey",
                ))),
                config,
            )
            .unwrap();
            let t: u64 = text(&case, "t").parse().unwrap();
            let payload = consolidated(&parsed.headers, &text(&case, "srv-id"));
            let result = common::block_on(arc::seal_message(
                &verifier,
                &sealer,
                &dns,
                msg.as_bytes(),
                |_| payload,
                t,
            ));
            let (want_as, want_ams, want_aar) =
                (text(&case, "AS"), text(&case, "AMS"), text(&case, "AAR"));
            if want_as.trim().is_empty() {
                assert!(
                    matches!(result, Err(ArcError::ChainTerminated { .. })),
                    "{id}: expected no set, got {result:?}"
                );
                refused += 1;
                println!("{id}: no set added (chain ended with cv=fail)");
                continue;
            }
            let (outcome, set) = result.unwrap_or_else(|e| panic!("{id}: {e}"));
            if expect == Expect::AarOnly {
                assert_eq!(
                    tag_set(&set.authentication_results.value("")),
                    tag_set(&want_aar),
                    "{id} AAR"
                );
                let raw = message::lf_to_crlf(msg.as_bytes()).into_owned();
                let ours = [set.to_fields("\r\n").into_bytes(), raw.clone()].concat();
                let upstream = format!(
                    "ARC-Seal: {}\nARC-Message-Signature: {}\n\
                     ARC-Authentication-Results: {}\n",
                    want_as.trim(),
                    want_ams.trim(),
                    want_aar.trim()
                )
                .replace("\n", "\r\n\t")
                .replace("\r\n\tARC-", "\r\nARC-");
                let upstream = [upstream.trim_end().as_bytes(), b"\r\n", &raw].concat();
                let check =
                    |m: &[u8]| common::block_on(arc::verify_message(&verifier, &dns, m, NOW));
                assert_eq!(check(&ours).result, ChainStatus::Pass, "{id}: our set");
                let theirs = check(&upstream);
                assert!(
                    matches!(
                        theirs.reason,
                        Some(FailReason::MessageSignature { .. } | FailReason::Seal { .. })
                    ),
                    "{id}: upstream set: {:?}",
                    theirs.reason
                );
                sealed += 1;
                println!(
                    "{id}: AAR identical, our set validates, the expected set does not ({})",
                    theirs.reason.map(|r| r.to_string()).unwrap_or_default()
                );
                continue;
            }
            for (what, got, want) in [
                ("AAR", set.authentication_results.value(""), want_aar),
                ("AMS", set.message_signature.value(""), want_ams),
                ("AS", set.seal.value(""), want_as),
            ] {
                assert_eq!(
                    tag_set(&got),
                    tag_set(&want),
                    "{id} {what} (chain {:?}):\n got {got}\nwant {want}",
                    outcome.reason
                );
            }
            sealed += 1;
            println!("{id}: i={} cv={} identical", set.instance, set.cv);
        }
    }
    (sealed, refused)
}

#[test]
fn signing_suite() {
    assert_eq!(
        run_signing_file("arc-valimail/arc-draft-sign-tests.yml", Expect::Identical),
        (16, 1)
    );
}

#[test]
fn unused_signing_cases() {
    assert_eq!(
        run_signing_file("arc-valimail/unused_tests.yml", Expect::AarOnly),
        (7, 0)
    );
}

#[test]
fn mail_auth_chains_pass() {
    // 001 is a Google chain from 2022: its keys are in the file; 002 mixes Ed25519 and RSA.
    for (file, sets) in [("mail-auth/001.txt", 1), ("mail-auth/002.txt", 2)] {
        let (dns, msg) = common::zone_and_message(&common::read(file));
        let o = common::block_on(arc::verify_message(&Verifier::default(), &dns, &msg, NOW));
        assert_eq!(o.result, ChainStatus::Pass, "{file}: {:?}", o.reason);
        assert_eq!(o.instances, sets);
        assert_eq!(o.oldest_pass, Some(0), "{file}");
    }
}
