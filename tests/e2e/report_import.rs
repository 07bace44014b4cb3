//! `authmilter report import` and `report show` as an operator runs them: the vendored
//! samples import (the malformed one is refused with a clear error), every file kind (.xml,
//! .xml.gz, .zip, .eml, mbox, stdin), idempotent by (org_name, report_id); a gzip bomb and a
//! billion-laughs file are refused within the limits, also under a 2 GB address-space limit;
//! the summary in text, JSON and CSV.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::reports_in::{DAY, Src, gzip, report, report_mail, sample, xml, zip};
use crate::support::{binary, run_cli};

struct Store {
    dir: tempfile::TempDir,
    config: String,
}

impl Store {
    fn new() -> Store {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("milter.toml");
        std::fs::write(
            &config,
            format!(
                "[reports]\nstore = \"sqlite:{}\"\n",
                dir.path().join("reports.db").display()
            ),
        )
        .expect("config");
        Store {
            config: config.display().to_string(),
            dir,
        }
    }

    fn write(&self, name: &str, data: &[u8]) -> String {
        let p = self.dir.path().join(name);
        std::fs::write(&p, data).expect("write");
        p.display().to_string()
    }

    fn import(&self, inputs: &[&str], stdin: Option<&[u8]>) -> (i32, String, String) {
        let mut args = vec!["report", "import", "--no-names", "-c", &self.config];
        args.extend_from_slice(inputs);
        run_cli(&args, stdin)
    }

    fn import_json(&self, inputs: &[&str]) -> (i32, serde_json::Value) {
        let mut args = vec![
            "report",
            "import",
            "--no-names",
            "--json",
            "-c",
            &self.config,
        ];
        args.extend_from_slice(inputs);
        let (code, out, err) = run_cli(&args, None);
        (
            code,
            serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}\n{err}")),
        )
    }

    fn show(&self, args: &[&str]) -> String {
        let mut all = vec!["report", "show", "-c", &self.config];
        all.extend_from_slice(args);
        let (code, out, err) = run_cli(&all, None);
        assert_eq!(code, 0, "{err}");
        out
    }
}

fn counts(v: &serde_json::Value) -> (u64, u64, u64) {
    (
        v["stored"].as_u64().expect("stored"),
        v["already_stored"].as_u64().expect("already_stored"),
        v["unreadable"].as_u64().expect("unreadable"),
    )
}

#[test]
fn the_vendored_samples_import_once_and_the_malformed_one_is_refused() {
    let store = Store::new();
    let dir = sample("dmarc-reports");
    let (code, out, err) = store.import(&[dir.to_str().expect("path")], None);
    assert_eq!(code, 1, "a refused file makes the exit code 1: {out}{err}");
    assert!(
        out.contains("5 input(s): 4 report(s) stored, 0 already stored, 1 unreadable"),
        "{out}"
    );
    let refused: Vec<&str> = out.lines().filter(|l| l.contains("refused")).collect();
    assert_eq!(refused.len(), 1, "{out}");
    assert!(
        refused[0].contains("bad.com!example.com")
            && refused[0].contains("invalid value \"\" in <disposition>"),
        "{out}"
    );

    // mail-auth: 5 XML files (001 and 004 share their org_name and report_id, with other
    // contents: both are kept, the second marked) and 5 mails
    let mut files: Vec<String> = std::fs::read_dir(sample("mail-auth"))
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml" || e == "eml"))
        .map(|p| p.display().to_string())
        .collect();
    files.sort();
    assert_eq!(files.len(), 10);
    let args: Vec<&str> = files.iter().map(String::as_str).collect();
    let (code, v) = store.import_json(&args);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(counts(&v), (10, 0, 0), "{v:#}");
    let reused: Vec<&serde_json::Value> = v["inputs"]
        .as_array()
        .expect("inputs")
        .iter()
        .flat_map(|i| i["stored"].as_array().expect("stored"))
        .filter(|s| s["id_reused"] == true)
        .collect();
    assert_eq!(reused.len(), 1, "{v:#}");
    assert_eq!(reused[0]["report_id"], "3v98abbp8ya9n3va8yr8oa3ya", "{v:#}");
    // everything again: nothing new
    let (code, v) = store.import_json(&args);
    assert_eq!((code, counts(&v)), (0, (0, 10, 0)), "{v:#}");

    // what was stored: example.com on 2012-05-17 (the three 2012 reports)
    let out = store.show(&[
        "--domain",
        "example.com",
        "--since",
        "2012-05-17",
        "--until",
        "2012-05-17",
        "--sources",
        "3",
    ]);
    assert!(
        out.starts_with(
            "example.com, 2012-05-17 to 2012-05-17 (UTC): 205705 messages, 99.2% pass DMARC, 820 sources, 3 reporters"
        ),
        "{out}"
    );
    assert!(out.contains("sources, failing first (3 of 820):"), "{out}");
    assert!(
        out.contains("221.224.213.66                                155      155    0.0%"),
        "{out}"
    );
    let json: serde_json::Value = serde_json::from_str(&store.show(&[
        "--json",
        "--domain",
        "example.com",
        "--since",
        "2012-05-17",
        "--until",
        "2012-05-17",
    ]))
    .expect("JSON");
    assert_eq!(json["messages"], 205_705);
    assert_eq!(json["sources_total"], 820);
    assert_eq!(json["sources"].as_array().expect("sources").len(), 50);
    assert_eq!(json["reporters"][0]["org_name"], "126.com");
    assert_eq!(json["reporters"][0]["sent"]["how"], "imported");
    let csv = store.show(&[
        "--csv",
        "--domain",
        "example.com",
        "--since",
        "2012-05-17",
        "--until",
        "2012-05-17",
        "--sources",
        "1000",
    ]);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 821, "header and one line per source");
    assert_eq!(
        lines[0],
        "source_ip,name,reporters,messages,failing,dmarc_pass,spf_aligned,dkim_aligned,spf_pass,dkim_pass"
    );
    let total: u64 = lines[1..]
        .iter()
        .map(|l| {
            // counted from the end: the reporters field (a JSON array) holds commas
            l.rsplit(',')
                .nth(6)
                .expect("messages")
                .parse::<u64>()
                .expect("n")
        })
        .sum();
    assert_eq!(total, 205_705);
    assert!(
        lines[1].contains(",\"[[\"\"") && lines[1].contains("\"\",\"\"imported\"\"]"),
        "the reporters as JSON pairs: {}",
        lines[1]
    );
    // the domain list of a period with the 2022 stalw.art reports
    let csv = store.show(&["--csv", "--since", "2022-09-01", "--until", "2022-11-30"]);
    assert_eq!(
        csv,
        "domain,messages,dmarc_pass,reports,reporters,last_day,unverified_reports,unverified_messages\nstalw.art,14,2,6,6,2022-11-27,0,0\n"
    );
}

#[test]
fn every_file_kind_imports_and_stdin_too() {
    let store = Store::new();
    let day = crate::reports_in::days_ago(3);
    let mk = |id: &str, n: u64| {
        xml(&report(
            "kinds.example",
            id,
            "kinds.example",
            day,
            &[Src::good("192.0.2.1", n, "kinds.example")],
        ))
    };
    let plain = store.write("r1.xml", &mk("r1", 1));
    let gz = store.write("r2.xml.gz", &gzip(&mk("r2", 2)));
    let zipped = store.write("r3.zip", &zip("r3.xml", &mk("r3", 4)));
    let mail = store.write(
        "r4.eml",
        &report_mail(
            "dmarc@kinds.example",
            "r4",
            &[("application/gzip", "r4.xml.gz", &gzip(&mk("r4", 8)))],
        ),
    );
    let mut mbox = Vec::new();
    for (id, n) in [("r5", 16), ("r6", 32)] {
        mbox.extend_from_slice(b"From reporter@kinds.example Sun Nov 22 12:00:00 2026\n");
        mbox.extend_from_slice(&report_mail(
            "dmarc@kinds.example",
            id,
            &[("text/xml", "r.xml", &mk(id, n))],
        ));
    }
    let mbox = store.write("mbox", &mbox);
    // a directory holding some of them
    let sub = store.dir.path().join("dir");
    std::fs::create_dir(&sub).expect("dir");
    std::fs::write(sub.join("r7.xml"), mk("r7", 64)).expect("write");
    let (code, v) =
        store.import_json(&[&plain, &gz, &zipped, &mail, &mbox, sub.to_str().expect("p")]);
    assert_eq!((code, counts(&v)), (0, (7, 0, 0)), "{v:#}");
    let (code, out, err) = store.import(&["-"], Some(&mk("r8", 128)));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(
            "-: stored: kinds.example report r8 for kinds.example (1 records, 128 messages)"
        ),
        "{out}"
    );
    let d = crate::reports_in::ymd(day);
    let v: serde_json::Value = serde_json::from_str(&store.show(&[
        "--json",
        "--domain",
        "kinds.example",
        "--since",
        &d,
        "--until",
        &d,
    ]))
    .expect("JSON");
    assert_eq!(v["messages"], 255, "every kind counted once: {v:#}");
    assert_eq!(v["reporters"][0]["reports"], 8);
}

/// A gzip stream of `gib` GiB of zeros, built from 1 MiB members (about 1 KB each).
fn gzip_bomb(gib: usize) -> Vec<u8> {
    let member = gzip(&vec![0u8; 1 << 20]);
    let mut bomb = Vec::with_capacity(member.len() * 1024 * gib);
    for _ in 0..1024 * gib {
        bomb.extend_from_slice(&member);
    }
    bomb
}

/// Runs `report import` under `ulimit -v` (2 GB of address space): a reader that inflated
/// what it was given would die of it.
fn import_limited(store: &Store, file: &str) -> (i32, String, Duration) {
    let script = format!(
        "ulimit -v 2000000 && exec '{}' report import --no-names -c '{}' '{file}'",
        binary().display(),
        store.config
    );
    let started = Instant::now();
    let out = test_support::process::run(
        Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::null()),
        Duration::from_secs(120),
    )
    .expect("run");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        started.elapsed(),
    )
}

#[test]
fn bombs_and_entity_tricks_are_refused_within_the_limits() {
    let store = Store::new();
    // 10 GiB of zeros in a 10 MB gzip file
    let bomb = store.write("bomb.xml.gz", &gzip_bomb(10));
    let (code, out, took) = import_limited(&store, &bomb);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("refused") && out.contains("decompressed report larger than 67108864 bytes"),
        "{out}"
    );
    println!("gzip bomb refused in {took:?}");
    // the same inside a zip and attached to a mail
    let zbomb = store.write(
        "bomb.eml",
        &report_mail(
            "dmarc@x.example",
            "bomb",
            &[("application/gzip", "b.xml.gz", &gzip_bomb(1))],
        ),
    );
    let (code, out, _) = import_limited(&store, &zbomb);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("larger than 67108864 bytes"), "{out}");

    // billion laughs: entities never expand, a DTD is refused outright
    let laughs = r#"<?xml version="1.0"?>
<!DOCTYPE feedback [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<feedback><report_metadata><org_name>&lol9;</org_name></report_metadata></feedback>
"#;
    let f = store.write("laughs.xml", laughs.as_bytes());
    let (code, out, _) = import_limited(&store, &f);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("refused") && out.contains("DTD"), "{out}");

    // malformed and truncated XML, and something that is no report at all
    let good = xml(&report(
        "m.example",
        "m1",
        "m.example",
        0,
        &[Src::spoofer("192.0.2.9", 1)],
    ));
    let cut = store.write("cut.xml", &good[..good.len() / 2]);
    let junk = store.write("junk.bin", b"\x00\x01\x02 not a report");
    let (code, out, _) = store.import(&[&cut, &junk], None);
    assert_eq!(code, 1);
    assert!(
        out.contains("cut.xml: refused: input: malformed XML"),
        "{out}"
    );
    assert!(
        out.contains("junk.bin: refused: input: unrecognised input: neither XML, gzip, zip, a mail message nor an mbox"),
        "{out}"
    );
    // a file over the input limit is not even read whole
    let huge = store.dir.path().join("huge.xml");
    let f = std::fs::File::create(&huge).expect("create");
    f.set_len(64 << 20).expect("sparse file");
    let (code, out, _) = store.import(&[huge.to_str().expect("p")], None);
    assert_eq!(code, 1);
    assert!(
        out.contains("larger than 33554432 bytes, not read"),
        "{out}"
    );
}

#[test]
fn nothing_is_stored_twice_when_imports_race() {
    let store = Store::new();
    let files: Vec<String> = (0..20)
        .map(|i| {
            store.write(
                &format!("r{i}.xml"),
                &xml(&report(
                    "race.example",
                    &format!("id{i}"),
                    "race.example",
                    DAY * 20_000,
                    &[Src::good("192.0.2.1", 1, "race.example")],
                )),
            )
        })
        .collect();
    let args: Vec<String> = [
        "report",
        "import",
        "--no-names",
        "--json",
        "-c",
        &store.config,
    ]
    .iter()
    .map(|s| s.to_string())
    .chain(files.iter().cloned())
    .collect();
    let children: Vec<_> = (0..3)
        .map(|_| {
            Command::new(binary())
                .args(&args)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn")
        })
        .collect();
    let mut stored = 0;
    for c in children {
        let out = c.wait_with_output().expect("wait");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        stored += v["stored"].as_u64().expect("stored");
    }
    assert_eq!(
        stored, 20,
        "each report stored by exactly one of three imports"
    );
}

/// A report whose period begins in the future, such as one from a reporter writing
/// milliseconds where RFC 9990 §3.1.1.4 says seconds, would count for a day centuries away:
/// shown for no period anyone looks at and, since retention goes by the day a report begins,
/// kept forever whatever `keep` says. It is refused with the reason; one beginning within a
/// day from now (a reporter's clock or time zone off) is stored.
#[test]
fn reports_from_the_future_are_refused() {
    let store = Store::new();
    let day = crate::reports_in::days_ago(3);
    let rows = [Src::good("192.0.2.1", 5, "future.example")];
    let millis = store.write(
        "ms.xml",
        &xml(&report(
            "ms.example",
            "ms-1",
            "future.example",
            day * 1000,
            &rows,
        )),
    );
    let (code, out, err) = store.import(&[&millis], None);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        out.contains("refused")
            && out.contains("begins in the future")
            && out.contains("RFC 9990 §3.1.1.4: seconds since the epoch)"),
        "{out}\n{err}"
    );
    let now = dkim::unix_now();
    let skewed = store.write(
        "skew.xml",
        &xml(&report(
            "skew.example",
            "skew-1",
            "future.example",
            now + 3600,
            &rows,
        )),
    );
    let (code, v) = store.import_json(&[&skewed]);
    assert_eq!((code, counts(&v)), (0, (1, 0, 0)), "{v:#}");
}

/// `report show --domain`: a source's reporters are each quoted and escaped once, and each
/// name is cut on its own, so a name cannot forge a provenance mark (`\"` read as `\\"` closed
/// the quotes early) nor hide the marks after it (the whole list was cut at 512 bytes).
#[test]
fn reporter_names_cannot_forge_or_hide_provenance_marks() {
    let store = Store::new();
    let day = crate::reports_in::days_ago(3);
    let rows = [Src::good("192.0.2.1", 5, "spoof.example")];
    let long = format!("Google LLC{}", "\u{a0}y".repeat(150));
    for (org, id) in [
        ("Yahoo\" (sent by google.com), \"Yahoo", "a-1"),
        (long.as_str(), "b-1"),
    ] {
        let file = store.write(
            &format!("{id}.xml"),
            &xml(&report(org, id, "spoof.example", day, &rows)),
        );
        let (code, out, err) = store.import(&[&file], None);
        assert_eq!(code, 0, "{out}\n{err}");
    }
    let out = store.show(&["--domain", "spoof.example"]);
    let line = out
        .lines()
        .find(|l| l.starts_with("192.0.2.1 "))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        line.contains(r#""Yahoo\" (sent by google.com), \"Yahoo" (imported)"#),
        "{line}"
    );
    assert_eq!(line.matches("(imported)").count(), 2, "{line}");
    assert!(line.len() < 1000, "{line}");
}
