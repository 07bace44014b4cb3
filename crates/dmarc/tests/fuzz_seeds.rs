//! Replays the committed fuzz seeds (fuzz/seeds/dmarc_record, fuzz/seeds/dmarc_from) through
//! the same calls and checks as the cargo-fuzz targets, on stable.

use std::path::Path;

fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/seeds")
        .join(target);
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no seeds for {target}");
    out
}

#[test]
fn dmarc_record_seeds() {
    let all = seeds("dmarc_record");
    for (_, data) in &all {
        // same body as fuzz/fuzz_targets/dmarc_record.rs
        if let Ok(record) = dmarc::parse_record(data) {
            let _ = record.has_valid_policy(true);
            for uri in record.rua.iter().chain(record.ruf.iter()) {
                let _ = uri.mailto_address();
                let _ = uri.to_string();
            }
            assert!(record.pct <= 100);
        }
    }
    println!("dmarc_record seeds: {} passed, 0 failed", all.len());
}

#[test]
fn dmarc_from_seeds() {
    let all = seeds("dmarc_from");
    for (_, data) in &all {
        // same body as fuzz/fuzz_targets/dmarc_from.rs
        if let Ok(addresses) = dmarc::parse_from(data) {
            for a in &addresses {
                if let Ok(d) = a.author_domain() {
                    assert!(!d.is_empty() && d.len() <= 253 && d.is_ascii());
                }
            }
        }
        let config = dmarc::Config {
            multi_from: dmarc::MultiFrom::Strictest,
            ..dmarc::Config::default()
        };
        let _ = dmarc::author_domains(&[data.as_slice(), data.as_slice()], &config);
        let _ = dmarc::author_domains(&[data.as_slice()], &dmarc::Config::default());
    }
    println!("dmarc_from seeds: {} passed, 0 failed", all.len());
}
