//! Runs the vendored Authentication-Results samples (tests/data/SOURCE.md): RFC 8601
//! Appendix B, MimeKit's must-parse / must-reject cases and real-world provider headers.

use authres::{AuthenticationResults, MethodResult, parse, parse_arc, parse_lenient};
use serde_yaml::Value;
use test_support::SuiteTally;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");

fn load(path: &str) -> Value {
    let text = std::fs::read_to_string(format!("{DATA}/{path}")).unwrap();
    serde_yaml::from_str(&text).unwrap()
}

fn opt_u32(v: &Value) -> Option<u32> {
    v.as_u64().and_then(|n| u32::try_from(n).ok())
}

/// YAML scalars as text (values like `1362471462` are numbers in YAML).
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

/// Compares one expected result (keys absent = not asserted).
fn check_result(ctx: &str, got: &MethodResult, want: &Value) {
    assert_eq!(got.method, text(&want["method"]), "{ctx}: method");
    assert_eq!(got.result, text(&want["result"]), "{ctx}: result");
    if let Some(v) = want.get("method_version") {
        assert_eq!(got.method_version, opt_u32(v), "{ctx}: method version");
    }
    if let Some(v) = want.get("reason") {
        let expected = v.as_str().map(str::to_string);
        assert_eq!(got.reason, expected, "{ctx}: reason");
    }
    if let Some(v) = want.get("result_comment") {
        assert_eq!(
            got.result_comment.as_deref(),
            v.as_str(),
            "{ctx}: result comment"
        );
    }
    if let Some(c) = want.get("comments").and_then(Value::as_sequence) {
        let first = c.first().map(text);
        assert_eq!(got.result_comment, first, "{ctx}: comment");
    }
    if let Some(v) = want.get("action") {
        let action = got
            .properties
            .iter()
            .find(|p| p.ptype.is_empty() && p.name == "action")
            .map(|p| p.value.clone());
        assert_eq!(action, Some(text(v)), "{ctx}: action");
    }
    if let Some(props) = want.get("properties").and_then(Value::as_sequence) {
        let ours: Vec<(String, String, String)> = got
            .properties
            .iter()
            .filter(|p| !p.ptype.is_empty())
            .map(|p| (p.ptype.to_string(), p.name.to_string(), p.value.clone()))
            .collect();
        let theirs: Vec<(String, String, String)> = props
            .iter()
            .map(|p| (text(&p["ptype"]), text(&p["property"]), text(&p["value"])))
            .collect();
        assert_eq!(ours, theirs, "{ctx}: properties");
    }
}

fn check_field(ctx: &str, got: &AuthenticationResults, want: &Value) {
    if let Some(id) = want.get("authserv_id") {
        assert_eq!(
            got.authserv_id,
            id.as_str().unwrap_or(""),
            "{ctx}: authserv-id"
        );
    }
    if let Some(v) = want.get("version") {
        assert_eq!(got.version, opt_u32(v), "{ctx}: version");
    }
    if let Some(results) = want.get("results").and_then(Value::as_sequence) {
        assert_eq!(
            got.results.len(),
            results.len(),
            "{ctx}: result count {got:?}"
        );
        for (i, (g, w)) in got.results.iter().zip(results).enumerate() {
            check_result(&format!("{ctx} #{i}"), g, w);
        }
    }
}

#[test]
fn rfc8601_appendix_b() {
    let doc = load("rfc8601-appendix-b.yml");
    let mut t = SuiteTally::new("rfc8601 appendix B");
    for ex in doc["examples"].as_sequence().unwrap() {
        let id = text(&ex["id"]);
        for (i, f) in ex["fields"].as_sequence().unwrap().iter().enumerate() {
            let raw = text(&f["raw"]);
            let ar = parse(raw.as_bytes()).unwrap_or_else(|e| panic!("{id} field {i}: {e}"));
            check_field(&format!("{id} field {i}"), &ar, &f["expect"]);
            // and it survives our own formatter
            assert_eq!(
                parse(ar.to_string().as_bytes()).unwrap(),
                ar,
                "{id} round trip"
            );
            t.pass();
        }
    }
    t.finish((9, 0));
}

fn parse_any(input: &str, lenient: bool) -> Result<AuthenticationResults, authres::AuthResError> {
    if input.trim_start().starts_with("i=") {
        parse_arc(input.as_bytes()).map(|(_, ar)| ar)
    } else if lenient {
        parse_lenient(input.as_bytes())
    } else {
        parse(input.as_bytes())
    }
}

#[test]
fn mimekit_must_parse() {
    let doc = load("mimekit-authres-parse.yml");
    let mut t = SuiteTally::new("mimekit must-parse");
    let (mut strict, mut lenient_only) = (0, 0);
    for c in doc["parse_ok"].as_sequence().unwrap() {
        let name = text(&c["name"]);
        let input = text(&c["input"]);
        let non_rfc = c.get("non_rfc_input").is_some();
        if non_rfc {
            assert!(
                parse_any(&input, false).is_err(),
                "{name}: strict parser accepted non-RFC input"
            );
            lenient_only += 1;
        } else {
            strict += 1;
        }
        let ar = parse_any(&input, non_rfc).unwrap_or_else(|e| panic!("{name}: {e}"));
        check_field(&name, &ar, c);
        if let Some(i) = c.get("instance") {
            let (inst, _) = parse_arc(input.as_bytes()).unwrap();
            assert_eq!(Some(inst), opt_u32(i), "{name}: instance");
        }
        t.pass();
    }
    println!(
        "{strict} by the strict parser, {lenient_only} non-RFC ones by parse_lenient and \
         rejected by parse"
    );
    t.finish((27, 0));
}

#[test]
fn mimekit_must_reject() {
    let doc = load("mimekit-authres-parse.yml");
    let mut t = SuiteTally::new("mimekit must-reject");
    let mut lenient_rejects = 0;
    for c in doc["parse_error"].as_sequence().unwrap() {
        let name = text(&c["name"]);
        let input = text(&c["input"]);
        assert!(
            parse_any(&input, false).is_err(),
            "{name}: accepted {input:?}"
        );
        if parse_any(&input, true).is_err() {
            lenient_rejects += 1;
        }
        t.pass();
    }
    println!("parse_lenient also rejects {lenient_rejects} of them");
    t.finish((61, 0));
}

#[test]
fn real_world_samples() {
    let doc = load("real-world-samples.yml");
    let mut t = SuiteTally::new("real-world samples");
    let mut strict_ok = 0;
    let mut fields = 0;
    for sample in doc["samples"].as_sequence().unwrap() {
        let file = text(&sample["file"]);
        let mut all: Vec<MethodResult> = Vec::new();
        for (i, h) in sample["headers"].as_sequence().unwrap().iter().enumerate() {
            let h = text(h);
            let value = match h.split_once(':') {
                Some((name, v)) if name.eq_ignore_ascii_case("authentication-results") => v,
                _ => h.as_str(),
            };
            fields += 1;
            if parse(value.as_bytes()).is_ok() {
                strict_ok += 1;
            }
            let ar = parse_lenient(value.as_bytes()).unwrap_or_else(|e| panic!("{file}: {e}"));
            if let (0, Some(id)) = (i, sample.get("authserv_id")) {
                assert_eq!(ar.authserv_id, text(id), "{file}");
            }
            assert_eq!(
                authres::authserv_id(value.as_bytes()).as_deref(),
                Some(ar.authserv_id.as_str()),
                "{file}: cheap authserv-id"
            );
            all.extend(ar.results);
        }
        for check in sample["checks"].as_sequence().unwrap() {
            let chain = check["match"].as_sequence().unwrap();
            let count = all
                .iter()
                .filter(|r| {
                    chain.iter().enumerate().all(|(i, m)| {
                        let (k, v) = (text(&m["key"]), text(&m["value"]));
                        if i == 0 {
                            r.method == k && r.result == v
                        } else {
                            let (ptype, prop) = k.split_once('.').unwrap_or(("", &k));
                            r.property(ptype, prop) == Some(v.as_str())
                        }
                    })
                })
                .count();
            assert_eq!(
                count as u64,
                check["count"].as_u64().unwrap(),
                "{file}: {check:?}"
            );
            t.pass();
        }
    }
    println!("{fields} fields; {strict_ok} also parse strictly");
    t.finish((24, 0));
}
