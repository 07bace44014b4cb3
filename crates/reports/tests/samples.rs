//! The vendored report samples (tests/data/samples, see SOURCE.md): every well-formed sample
//! parses, the malformed one is refused with a clear error, and the mail-auth samples match
//! their expected parse (the `.json` files) field by field.

use std::fs;
use std::path::{Path, PathBuf};

use reports::vocabulary::OverrideType;
use reports::{Feedback, ReportsError, extract_reports, parse_report};
use serde_json::Value;

fn data(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/samples")
        .join(dir)
}

fn files(dir: &str, ext: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs::read_dir(data(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    out.sort();
    out
}

#[test]
fn every_xml_sample_parses_except_the_malformed_one() {
    let mut parsed = Vec::new();
    let mut refused = Vec::new();
    for dir in ["dmarc-reports", "mail-auth"] {
        for path in files(dir, "xml") {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            match parse_report(&fs::read(&path).unwrap()) {
                Ok(fb) => parsed.push((name, fb.records.len(), fb.message_count())),
                Err(e) => refused.push((name, e)),
            }
        }
    }
    assert_eq!(
        (parsed.len(), refused.len()),
        (9, 1),
        "{parsed:?} {refused:?}"
    );
    let (name, err) = &refused[0];
    assert!(name.starts_with("bad.com!"), "{name}");
    // its first record already has an empty <disposition> (later ones are not even
    // well-formed: `<header_from>example.com<foo</header_from>`)
    assert_eq!(
        err,
        &ReportsError::InvalidValue {
            element: "disposition".into(),
            value: String::new()
        }
    );
    println!("bad.com refused: {err}");

    let records = |n: &str| parsed.iter().find(|p| p.0.starts_with(n)).unwrap();
    // record counts from tests/data/SOURCE.md
    assert_eq!(records("163.com!").1, 50);
    assert_eq!(records("yeah.net!").1, 254);
    assert_eq!(records("good.com!").1, 754);
    assert_eq!(records("mail-dmarc-test_dmarc").1, 1);
    assert_eq!(records("003.xml").1, 4);
    assert_eq!(records("003.xml").2, 9);
}

/// mail-auth's expected values are its enum names ("Pass", "SoftFail", "Unspecified").
fn name(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if s == "Unspecified" => None,
        Value::String(s) => Some(s.to_ascii_lowercase()),
        _ => None,
    }
}

fn text(v: &Value) -> Option<String> {
    v.as_str().filter(|s| !s.is_empty()).map(str::to_string)
}

/// Compares a parsed report with mail-auth's expected parse; returns the fields checked.
fn compare(fb: &Feedback, want: &Value, file: &str) -> usize {
    let mut checked = 0;
    let mut eq = |what: &str, got: Option<String>, expected: Option<String>| {
        assert_eq!(got, expected, "{file}: {what}");
        checked += 1;
    };
    let m = &want["report_metadata"];
    eq(
        "org_name",
        Some(fb.metadata.org_name.clone()),
        text(&m["org_name"]),
    );
    eq("email", Some(fb.metadata.email.clone()), text(&m["email"]));
    eq(
        "extra",
        fb.metadata.extra_contact_info.clone(),
        text(&m["extra_contact_info"]),
    );
    eq(
        "report_id",
        Some(fb.metadata.report_id.clone()),
        text(&m["report_id"]),
    );
    eq(
        "begin",
        Some(fb.metadata.date_range.begin.to_string()),
        Some(m["date_range"]["begin"].to_string()),
    );
    eq(
        "end",
        Some(fb.metadata.date_range.end.to_string()),
        Some(m["date_range"]["end"].to_string()),
    );
    let p = &want["policy_published"];
    eq("domain", Some(fb.policy.domain.clone()), text(&p["domain"]));
    eq("p", Some(fb.policy.p.to_string()), name(&p["p"]));
    eq("sp", fb.policy.sp.map(|d| d.to_string()), name(&p["sp"]));
    let mode = |m: Option<reports::vocabulary::AlignmentMode>| {
        m.map(|m| {
            if m.as_str() == "r" {
                "relaxed"
            } else {
                "strict"
            }
            .to_string()
        })
    };
    eq("adkim", mode(fb.policy.adkim), name(&p["adkim"]));
    eq("aspf", mode(fb.policy.aspf), name(&p["aspf"]));
    eq("fo", fb.policy.fo.clone(), text(&p["fo"]));
    let records = want["record"].as_array().unwrap();
    eq(
        "records",
        Some(fb.records.len().to_string()),
        Some(records.len().to_string()),
    );
    for (r, w) in fb.records.iter().zip(records) {
        let row = &w["row"];
        eq(
            "source_ip",
            Some(r.row.source_ip.to_string()),
            text(&row["source_ip"]),
        );
        eq(
            "count",
            Some(r.row.count.to_string()),
            Some(row["count"].to_string()),
        );
        let pe = &row["policy_evaluated"];
        let ours = &r.row.policy_evaluated;
        eq(
            "disposition",
            Some(ours.disposition.to_string()),
            name(&pe["disposition"]),
        );
        eq("pe dkim", Some(ours.dkim.to_string()), name(&pe["dkim"]));
        eq("pe spf", Some(ours.spf.to_string()), name(&pe["spf"]));
        let reasons = pe["reason"].as_array().unwrap();
        eq(
            "reasons",
            Some(ours.reasons.len().to_string()),
            Some(reasons.len().to_string()),
        );
        for (o, w) in ours.reasons.iter().zip(reasons) {
            // mail-auth knows RFC 9990 types only: RFC 7489's sampled_out is its "Other"
            let kind = match o.kind {
                OverrideType::SampledOut | OverrideType::Forwarded => "other".to_string(),
                k => k.as_str().replace('_', ""),
            };
            eq("reason type", Some(kind), name(&w["type_"]));
            eq("reason comment", o.comment.clone(), text(&w["comment"]));
        }
        let id = &w["identifiers"];
        eq(
            "header_from",
            Some(r.identifiers.header_from.clone()),
            text(&id["header_from"]),
        );
        eq(
            "envelope_from",
            r.identifiers.envelope_from.clone(),
            text(&id["envelope_from"]),
        );
        eq(
            "envelope_to",
            r.identifiers.envelope_to.clone(),
            text(&id["envelope_to"]),
        );
        let dkim = w["auth_results"]["dkim"].as_array().unwrap();
        eq(
            "dkim count",
            Some(r.auth_results.dkim.len().to_string()),
            Some(dkim.len().to_string()),
        );
        for (o, w) in r.auth_results.dkim.iter().zip(dkim) {
            eq("dkim domain", Some(o.domain.clone()), text(&w["domain"]));
            eq("dkim selector", o.selector.clone(), text(&w["selector"]));
            eq(
                "dkim result",
                Some(o.result.to_string()),
                name(&w["result"]),
            );
            eq(
                "dkim human",
                o.human_result.clone(),
                text(&w["human_result"]),
            );
        }
        let spf = w["auth_results"]["spf"].as_array().unwrap();
        eq(
            "spf count",
            Some(r.auth_results.spf.len().to_string()),
            Some(spf.len().to_string()),
        );
        for (o, w) in r.auth_results.spf.iter().zip(spf) {
            eq("spf domain", Some(o.domain.clone()), text(&w["domain"]));
            let scope = o.scope.map(|s| match s.as_str() {
                "mfrom" => "mailfrom".to_string(),
                other => other.to_string(),
            });
            eq("spf scope", scope, name(&w["scope"]));
            eq("spf result", Some(o.result.to_string()), name(&w["result"]));
        }
    }
    checked
}

#[test]
fn mail_auth_samples_match_their_expected_parse() {
    let mut compared = 0;
    let mut fields = 0;
    for path in files("mail-auth", "json") {
        let want: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        let xml = path.with_extension("xml");
        let fb = if xml.exists() {
            parse_report(&fs::read(&xml).unwrap()).unwrap()
        } else {
            let eml = fs::read(path.with_extension("eml")).unwrap();
            let mut found = extract_reports(&eml, &reports::Limits::default());
            assert_eq!(found.len(), 1, "{stem}: {found:?}");
            found.remove(0).report.unwrap()
        };
        fields += compare(&fb, &want, &stem);
        compared += 1;
    }
    assert_eq!(compared, 10);
    assert!(fields > 250, "{fields}");
    println!("{compared} samples, {fields} fields compared");
}
