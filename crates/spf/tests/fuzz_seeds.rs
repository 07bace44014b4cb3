//! Replays the committed fuzz seeds (`fuzz/seeds/spf_record/`, `fuzz/seeds/spf_macro/`) through
//! the harnesses the fuzz targets call, so they keep working on stable.

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
fn spf_record_seeds() {
    let seeds = seeds("spf_record");
    assert!(seeds.len() >= 10, "only {} seeds", seeds.len());
    for (name, data) in &seeds {
        println!("spf_record seed {name}");
        spf::fuzzing::spf_record(data);
    }
}

#[test]
fn spf_macro_seeds() {
    let seeds = seeds("spf_macro");
    assert!(seeds.len() >= 10, "only {} seeds", seeds.len());
    for (name, data) in &seeds {
        println!("spf_macro seed {name}");
        spf::fuzzing::spf_macro(data);
    }
}
