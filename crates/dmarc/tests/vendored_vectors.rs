//! Runs the vendored DMARC vectors (tests/data/*/SOURCE.md): OpenDMARC + mail-auth tables
//! (`dmarc-vectors`), ValiMail authheaders cases (`dmarc-authheaders`) and the PSL project's
//! organizational-domain tests (`psl`). Prints counts and every skipped or deviating vector
//! with its reason.

use std::sync::Arc;

use dmarc::{
    AlignmentMode, Config, DkimAuth, DkimOutcome, Dmarc, DmarcResult, FixedSampler, Mode,
    MultiFrom, SpfAuth, SpfOutcome, SpfScope, parse_from, parse_record, psl_organizational_domain,
    relaxed_aligned_psl,
};
use dns::DnsError;
use dns::memory::MemoryResolver;
use serde_yaml::Value;
use test_support::{SuiteTally, block_on};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");

fn load(path: &str) -> Value {
    let text = std::fs::read_to_string(format!("{DATA}/{path}")).unwrap();
    serde_yaml::from_str(&text).unwrap()
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

fn evaluator(mode: Mode) -> Dmarc {
    Dmarc::new(Config {
        mode,
        ..Config::default()
    })
    .with_sampler(Arc::new(FixedSampler(0)))
}

// ---------------------------------------------------------------- dmarc-vectors.yml

#[test]
fn dmarc_vectors_record_parse() {
    let doc = load("dmarc-vectors/dmarc-vectors.yml");
    let mut t = SuiteTally::new("dmarc-vectors record_parse");
    for c in doc["record_parse"].as_sequence().unwrap() {
        let record = s(&c["record"]);
        let expected = s(&c["outcome"]);
        let got = match parse_record(record.as_bytes()) {
            Err(dmarc::DmarcError::EmptyRecord) => "error_empty",
            Err(_) => "error_bad_version",
            Ok(r) if !r.problems.is_empty() => "error_bad_value",
            Ok(r) if !r.present.p => "error_no_required_p",
            Ok(_) => "okay",
        };
        if record == "v=DMARC1; p=n;" {
            // OpenDMARC accepts a prefix of "none"; RFC 9989 §4.8 dmarc-request does not.
            assert_eq!(got, "error_bad_value", "{record}");
            t.deviation(format!(
                "{record:?}: OpenDMARC says okay (prefix match), RFC grammar makes p invalid"
            ));
            t.pass();
            continue;
        }
        assert_eq!(got, expected, "record {record:?}");
        t.pass();
    }
    t.finish((19, 0));
}

#[test]
fn dmarc_vectors_from_domain() {
    let doc = load("dmarc-vectors/dmarc-vectors.yml");
    let mut t = SuiteTally::new("dmarc-vectors from_domain");
    for c in doc["from_domain"].as_sequence().unwrap() {
        let from = s(&c["from"]);
        if from.contains("<<") {
            // OpenDMARC digs joe.com out of "<<<><joe@joe.com>>>"; nested angle brackets are
            // ambiguous (readers disagree on the address), so we refuse the field instead
            assert!(parse_from(from.as_bytes()).is_err(), "{from:?}");
            t.deviation(format!(
                "{from:?}: refused as ambiguous (nested angle brackets)"
            ));
            t.pass();
            continue;
        }
        let addrs = parse_from(from.as_bytes()).unwrap_or_else(|e| panic!("{from:?}: {e}"));
        let first = addrs
            .iter()
            .find_map(|a| a.author_domain().ok())
            .unwrap_or_else(|| panic!("{from:?}: no domain in {addrs:?}"));
        assert_eq!(first, s(&c["domain"]), "{from:?}");
        t.pass();
    }
    t.finish((13, 0));
}

#[test]
fn dmarc_vectors_alignment() {
    let doc = load("dmarc-vectors/dmarc-vectors.yml");
    let mut t = SuiteTally::new("dmarc-vectors alignment");
    for c in doc["alignment"].as_sequence().unwrap() {
        let (a, b) = (s(&c["domain"]), s(&c["other"]));
        if a.starts_with('.') || a.contains("..") {
            t.skip(format!(
                "{a} vs {b}: OpenDMARC-specific tolerance of stray dots, not RFC behaviour"
            ));
            continue;
        }
        let mode = if s(&c["mode"]) == "strict" {
            AlignmentMode::Strict
        } else {
            AlignmentMode::Relaxed
        };
        let aligned = match mode {
            AlignmentMode::Strict => a.eq_ignore_ascii_case(b),
            AlignmentMode::Relaxed => relaxed_aligned_psl(a, b),
        };
        assert_eq!(
            aligned,
            c["aligned"].as_bool().unwrap(),
            "{a} vs {b} {mode}"
        );
        t.pass();
    }
    t.finish((7, 3));
}

#[test]
fn dmarc_vectors_psl_org_domain() {
    let doc = load("dmarc-vectors/dmarc-vectors.yml");
    let mut t = SuiteTally::new("dmarc-vectors psl_org_domain");
    for c in doc["psl_org_domain"].as_sequence().unwrap() {
        let (d, want) = (s(&c["domain"]), s(&c["org_domain"]));
        let got = psl_organizational_domain(d);
        if got != want {
            t.skip(format!(
                "{d}: OpenDMARC's 2013 PSL says {want}, the psl crate's list says {got}"
            ));
            continue;
        }
        t.pass();
    }
    t.finish((3, 0));
}

fn zone_from_map(map: &Value) -> MemoryResolver {
    let r = MemoryResolver::new();
    if let Some(m) = map.as_mapping() {
        for (k, v) in m {
            let key = s(k);
            if let Some(name) = key.strip_suffix(" A") {
                r.add_a(name, s(v).parse().unwrap());
            } else {
                r.add_txt(key, s(v));
            }
        }
    }
    r
}

#[test]
fn dmarc_vectors_evaluation() {
    let doc = load("dmarc-vectors/dmarc-vectors.yml");
    let mut t = SuiteTally::new("dmarc-vectors evaluation (x2 modes)");
    for c in doc["evaluation"].as_sequence().unwrap() {
        for mode in [Mode::Rfc9989, Mode::Rfc7489] {
            let r = zone_from_map(&c["dmarc_dns"]);
            let spf = SpfAuth::new(
                if s(&c["spf"]) == "pass" {
                    SpfOutcome::Pass
                } else {
                    SpfOutcome::Fail
                },
                s(&c["mail_from_domain"]),
                SpfScope::MailFrom,
            );
            let dk = &c["dkim"];
            let dkim = [DkimAuth::new(
                if s(&dk["result"]) == "pass" {
                    DkimOutcome::Pass
                } else {
                    DkimOutcome::Fail
                },
                s(&dk["d"]),
                "s",
            )];
            let from = [s(&c["from"])];
            let out = block_on(evaluator(mode).evaluate(&r, &from, Some(&spf), &dkim));
            let e = out.primary().unwrap();
            let mech = |pass: bool, authenticated: bool| {
                if pass {
                    "pass"
                } else if authenticated {
                    "fail"
                } else {
                    "none"
                }
            };
            let spf_c = e.spf.as_ref().unwrap();
            let dkim_c = &e.dkim[0];
            let name = s(&c["name"]);
            assert_eq!(
                mech(spf_c.pass, spf_c.auth.result == SpfOutcome::Pass),
                s(&c["expect"]["spf"]),
                "{name} {mode} spf"
            );
            assert_eq!(
                mech(dkim_c.pass, dkim_c.auth.result == DkimOutcome::Pass),
                s(&c["expect"]["dkim"]),
                "{name} {mode} dkim"
            );
            assert_eq!(
                e.policy.map(|p| p.to_string()).as_deref(),
                Some(s(&c["expect"]["policy"])),
                "{name} {mode} policy"
            );
            t.pass();
        }
    }
    t.finish((8, 0));
}

#[test]
fn dmarc_vectors_policy_discovery() {
    let doc = load("dmarc-vectors/dmarc-vectors.yml");
    let mut t = SuiteTally::new("dmarc-vectors policy_discovery");
    for c in doc["policy_discovery"].as_sequence().unwrap() {
        let name = s(&c["name"]);
        let bis = c["dmarcbis"].as_bool().unwrap_or(false);
        for mode in [Mode::Rfc9989, Mode::Rfc7489] {
            if bis && mode == Mode::Rfc7489 {
                t.skip(format!("{name} [rfc7489]: dmarcbis-only case"));
                continue;
            }
            let r = zone_from_map(&c["dns"]);
            let from = [s(&c["from"])];
            let spf = c["mail_from_domain"]
                .as_str()
                .map(|d| SpfAuth::new(SpfOutcome::Pass, d, SpfScope::MailFrom));
            let out = block_on(evaluator(mode).evaluate(&r, &from, spf.as_ref(), &[]));
            let exp = &c["expect"];
            if let Some(p) = exp["policy"].as_str() {
                assert_eq!(
                    out.policy().map(|p| p.to_string()).as_deref(),
                    Some(p),
                    "{name} {mode}: {}",
                    out.reason_text()
                );
            }
            if let Some(spf_exp) = exp["spf"].as_str() {
                let aligned = out.primary().unwrap().spf_aligned();
                assert_eq!(
                    if aligned { "pass" } else { "fail" },
                    spf_exp,
                    "{name} {mode}"
                );
            }
            if exp.get("record").is_some_and(Value::is_null) {
                assert_eq!(out.result, DmarcResult::None, "{name} {mode}");
                assert!(out.primary().unwrap().record.is_none());
            }
            t.pass();
        }
    }
    t.finish((12, 4));
}

// ---------------------------------------------------------------- dmarc-authheaders

/// The `From:` field values of a message file.
fn from_fields(message: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut in_from = false;
    for line in message.lines() {
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let (true, Some(last)) = (in_from, out.last_mut()) {
                last.push_str(line);
            }
            continue;
        }
        in_from = line.len() > 5 && line[..5].eq_ignore_ascii_case("from:");
        if in_from {
            out.push(line[5..].to_string());
        }
    }
    out
}

#[test]
fn authheaders_cases() {
    let doc = load("dmarc-authheaders/cases.yml");
    let mut t = SuiteTally::new("dmarc-authheaders (DMARC cases x2 modes + From extraction)");
    let build_zone = || {
        let r = MemoryResolver::new();
        for (k, v) in doc["dns"].as_mapping().unwrap() {
            let name = s(k);
            match v.as_str() {
                None => r.fail(name, DnsError::NxDomain),
                Some("") if name.starts_with("_dmarc.") => {} // no record there
                Some(text) if name.starts_with("_dmarc.") || name.contains("_domainkey") => {
                    r.add_txt(name, text)
                }
                Some(_) => r.add_a(name, "192.0.2.1".parse().unwrap()), // the name exists
            }
        }
        r
    };
    for (id, c) in doc["cases"].as_mapping().unwrap() {
        let id = s(id);
        let checks: Vec<&str> = c["checks"].as_sequence().unwrap().iter().map(s).collect();
        if !checks.contains(&"dmarc") {
            t.skip(format!("{id}: DKIM-only case (no DMARC evaluated)"));
            continue;
        }
        let expect_header = s(&c["expect"]);
        let value = expect_header.split_once(':').unwrap().1;
        let expected = authres::parse(value.as_bytes()).unwrap();
        // DKIM results: from `prev` and, for cases that verify DKIM, from the expected output
        // (verification itself is the dkim crate's job)
        let dkim: Vec<DkimAuth> = expected
            .by_method("dkim")
            .map(|m| {
                let outcome = if m.result == "pass" {
                    DkimOutcome::Pass
                } else {
                    DkimOutcome::Fail
                };
                DkimAuth::new(outcome, m.property("header", "d").unwrap_or(""), "test")
            })
            .collect();
        let want = expected.by_method("dmarc").next().unwrap();
        let message =
            std::fs::read_to_string(format!("{DATA}/dmarc-authheaders/{}", s(&c["message"])))
                .unwrap();
        let from = from_fields(&message);
        let bis = c["dmarcbis"].as_bool().unwrap_or(false);
        let needs_np = c["requires_np"].as_bool().unwrap_or(false);
        for mode in [Mode::Rfc9989, Mode::Rfc7489] {
            if bis && mode == Mode::Rfc7489 {
                t.skip(format!("{id} [rfc7489]: dmarcbis-only (psd=y tree walk)"));
                continue;
            }
            let config = Config {
                mode,
                multi_from: MultiFrom::Strictest,
                ..Config::default()
            };
            let r = build_zone();
            let out = block_on(Dmarc::new(config).evaluate(&r, &from, None, &dkim));
            let got_from = out.header_from().unwrap_or("none");
            let got_policy = out.policy().map_or("none".to_string(), |p| p.to_string());
            let mut want_result = want.result.clone();
            let mut want_policy = want
                .property("policy", "dmarc")
                .unwrap_or("none")
                .to_string();
            let _ = &got_policy;
            let tag = format!("{id} [{mode}]");
            if id == "test_authenticate_dmarc_bad" {
                // RFC 9989 §4.8 / RFC 7489 §6.3: syntax errors in the rest of the record are
                // discarded, so "v=DMARC1; p=none; reject" is a valid p=none record.
                want_result = "fail".into();
                t.deviation(format!(
                    "{tag}: authheaders says permerror; the stray \"reject\" is discarded per RFC, result fail with p=none"
                ));
            }
            if id == "test_authenticate_dmarc_psdsub" {
                // RFC 9989 §4.10.1: the PSD record applies, and example.gov is an existing
                // subdomain of gov, so "sp" (none) applies; authheaders applies p (RFC 9091).
                want_policy = "none".into();
                t.deviation(format!(
                    "{tag}: authheaders applies the PSD's p=reject (RFC 9091); RFC 9989 §4.10.1 applies sp=none to the existing subdomain example.gov"
                ));
            }
            if needs_np && mode == Mode::Rfc7489 {
                // RFC 7489 has no np: sp=quarantine applies (as the case description says)
                want_policy = "quarantine".into();
            }
            assert_eq!(
                out.result.to_string(),
                want_result,
                "{tag}: {}",
                out.reason_text()
            );
            // authheaders omits header.from and policy.dmarc for dmarc=none
            if let Some(h) = want.property("header", "from") {
                assert_eq!(got_from, h, "{tag}");
            }
            if want.property("policy", "dmarc").is_some() {
                assert_eq!(got_policy, want_policy, "{tag}");
            }
            t.pass();
        }
    }
    for c in doc["from_domain_extraction"].as_sequence().unwrap() {
        let addrs = parse_from(s(&c["from"]).as_bytes()).unwrap();
        assert_eq!(addrs.len(), 1);
        assert_eq!(addrs[0].author_domain().unwrap(), s(&c["domain"]));
        t.pass();
    }
    t.finish((25, 3));
}

// ---------------------------------------------------------------- psl

/// Lowercase A-label form, or `None` when the name is not a usable domain.
fn to_ascii(d: &str) -> Option<String> {
    if d.starts_with('.') || d.is_empty() {
        return None;
    }
    dns::name::to_ascii(d.as_bytes()).ok()
}

#[test]
fn psl_project_tests() {
    let text = std::fs::read_to_string(format!("{DATA}/psl/tests.txt")).unwrap();
    let mut t = SuiteTally::new("psl tests.txt");
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with("//") {
            continue;
        }
        let (input, expected) = line.split_once(' ').unwrap();
        if input == "null" {
            t.skip("null input: not representable (inputs are &str)");
            continue;
        }
        let Some(ascii) = to_ascii(input) else {
            // a leading dot: not a domain DMARC would ever evaluate
            assert_eq!(expected, "null", "{input}");
            t.pass();
            continue;
        };
        let org = psl_organizational_domain(&ascii);
        if expected == "null" {
            // a public suffix is its own organizational domain for DMARC purposes
            assert_eq!(org, ascii, "{input} is a public suffix");
        } else {
            assert_eq!(Some(org), to_ascii(expected), "{input}");
        }
        t.pass();
    }
    t.finish((77, 1));
}
