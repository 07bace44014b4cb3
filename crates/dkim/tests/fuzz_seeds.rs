//! Replays the committed fuzz seeds (`fuzz/seeds/dkim_*`) through the same functions the
//! cargo-fuzz targets call, so the seeds keep working on stable.

use std::path::PathBuf;

fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/seeds")
        .join(target);
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no seeds in {}", dir.display());
    out
}

#[test]
fn dkim_signature_seeds() {
    for (name, data) in seeds("dkim_signature") {
        println!("dkim_signature/{name}");
        dkim::fuzz::signature(&data);
    }
}

#[test]
fn dkim_key_record_seeds() {
    for (name, data) in seeds("dkim_key_record") {
        println!("dkim_key_record/{name}");
        dkim::fuzz::key_record(&data);
    }
}

#[test]
fn dkim_canon_seeds() {
    for (name, data) in seeds("dkim_canon") {
        println!("dkim_canon/{name}");
        dkim::fuzz::canon(&data);
    }
}
