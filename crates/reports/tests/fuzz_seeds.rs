//! Replays the committed fuzz seeds (`fuzz/seeds/report_parse/`) through the harness the
//! cargo-fuzz target calls, so it keeps working on stable.

use std::fs;
use std::path::PathBuf;

fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/seeds")
        .join(target);
    let mut out: Vec<(String, Vec<u8>)> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.is_file() && !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                fs::read(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn report_parse_seeds() {
    let seeds = seeds("report_parse");
    assert_eq!(seeds.len(), 18);
    let mut parsed = 0;
    for (name, data) in &seeds {
        println!("report_parse seed {name}");
        reports::fuzzing::report_parse(data);
        let found = reports::extract_reports(data, &reports::Limits::default());
        parsed += found.iter().filter(|f| f.report.is_ok()).count();
    }
    // one report per seed but bad_com.xml, laughs.xml and truncated_163.xml (refused); the
    // mbox has one report and one message without
    assert_eq!(parsed, 15);
}
