//! Every offline tool against `eval --json` on the seeded hostile cases of the eval
//! differential (whose parity with the milter the parent module checks): `spf` (the MAIL FROM
//! result), `dkim verify` (every signature's result), `arc verify` (result and oldest-pass) and
//! `srs forward` (the sender CHGFROM writes) must each give eval's answer for the same message,
//! envelope and configuration.

use std::process::Command;

use super::generate::{self, Case};
use super::{Files, files, seal, toml};
use crate::support::binary;

/// The number of cases: pinned, so the reach does not shrink unnoticed.
const CASES: usize = 60;
/// The generator's seed (not the parent's: other messages).
const SEED: u64 = 0x7001_5eed;

fn run(args: &[&str]) -> (bool, String) {
    let out = Command::new(binary()).args(args).output().expect("run");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn json(args: &[&str]) -> serde_json::Value {
    let (ok, out) = run(args);
    assert!(ok, "{args:?} failed");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"))
}

/// The fields of a result both sides name, as text.
fn picked(v: &serde_json::Value, keys: &[&str]) -> Vec<String> {
    keys.iter().map(|k| v[*k].to_string()).collect()
}

/// Compares each tool with eval for one case; returns what was compared, or the disagreement.
fn compare(case: &Case, f: &Files, dir: &std::path::Path) -> Result<Vec<&'static str>, String> {
    let (msg, cfg) = (dir.join("m.eml"), dir.join("milter.toml"));
    std::fs::write(&msg, &case.raw).expect("message");
    std::fs::write(&cfg, toml(case, f)).expect("config");
    let (msg, cfg) = (msg.display().to_string(), cfg.display().to_string());
    let env = &case.env;
    let mut eval = vec![
        "eval",
        &msg,
        "--ip",
        &env.ip,
        "--mail-from",
        &env.mail_from_arg,
    ];
    eval.extend([
        "--role",
        case.cfg.role,
        "--zone",
        &f.zone,
        "--json",
        "-c",
        &cfg,
    ]);
    if let Some(h) = &env.helo {
        eval.extend(["--helo", h]);
    }
    for r in &env.rcpts {
        eval.extend(["--rcpt", r]);
    }
    if let Some(a) = &env.auth {
        eval.extend(["--auth", a]);
    }
    if let Some(d) = &env.daemon_name {
        eval.extend(["--daemon-name", d]);
    }
    let eval = json(&eval);
    let mut compared = Vec::new();
    let common = ["--zone", &f.zone, "-c", &cfg, "--json"];
    if eval["spf"]["result"].is_string() {
        let mut spf = vec!["spf", "--ip", &env.ip, "--mail-from", &env.mail_from_arg];
        if let Some(h) = &env.helo {
            spf.extend(["--helo", h]);
        }
        spf.extend(common);
        let keys = ["result", "domain", "mechanism", "explanation"];
        let (tool, want) = (picked(&json(&spf), &keys), picked(&eval["spf"], &keys));
        if tool != want {
            return Err(format!("spf {tool:?}, eval {want:?}"));
        }
        compared.push("spf");
    }
    let verified = eval["dkim"].as_array().filter(|sigs| !sigs.is_empty());
    if let Some(want) = verified {
        let mut verify = vec!["dkim", "verify", &msg];
        verify.extend(common);
        let tool = json(&verify);
        let keys = ["result", "domain", "selector", "reason"];
        let list = |sigs: &[serde_json::Value]| -> Vec<Vec<String>> {
            sigs.iter().map(|s| picked(s, &keys)).collect()
        };
        let tool = list(tool["signatures"].as_array().map_or(&[][..], Vec::as_slice));
        if tool != list(want) {
            return Err(format!("dkim verify {tool:?}, eval {:?}", list(want)));
        }
        compared.push("dkim");
    }
    if eval["arc"]["result"].is_string() {
        let mut verify = vec!["arc", "verify", &msg];
        verify.extend(common);
        let keys = ["result", "oldest_pass"];
        let (tool, want) = (picked(&json(&verify), &keys), picked(&eval["arc"], &keys));
        if tool != want {
            return Err(format!("arc verify {tool:?}, eval {want:?}"));
        }
        compared.push(if want[0] == "\"pass\"" {
            "arc=pass"
        } else {
            "arc"
        });
    }
    if let Some(new_sender) = eval["new_sender"].as_str() {
        let (ok, out) = run(&["srs", "forward", "-c", &cfg, &env.mail_from_arg]);
        if !ok || out.trim() != new_sender {
            return Err(format!("srs forward {out:?}, CHGFROM {new_sender:?}"));
        }
        compared.push("srs forward");
    }
    Ok(compared)
}

#[tokio::test(flavor = "multi_thread")]
async fn every_tool_gives_evals_answer_for_random_hostile_mail() {
    let mut cases = generate::cases(SEED, CASES);
    assert_eq!(cases.len(), CASES, "the number of cases is pinned");
    let f = files();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut seen = std::collections::BTreeMap::<&str, usize>::new();
    let mut failures = Vec::new();
    for (i, case) in cases.iter_mut().enumerate() {
        if let Some((sealer, from)) = case.arc_seal.clone() {
            case.raw = seal(&case.raw, &sealer, &from).await;
        }
        match compare(case, &f, dir.path()) {
            Ok(compared) => compared
                .into_iter()
                .for_each(|c| *seen.entry(c).or_default() += 1),
            Err(e) => failures.push(format!(
                "case {i}: {e}\n  envelope {:?}\n  message {:?}",
                case.env,
                String::from_utf8_lossy(&case.raw)
            )),
        }
    }
    eprintln!("compared: {seen:?}");
    for kind in ["spf", "dkim", "arc=pass", "srs forward"] {
        assert!(seen.contains_key(kind), "no case compared {kind}: {seen:?}");
    }
    assert!(
        failures.is_empty(),
        "{} of {CASES} disagree:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
