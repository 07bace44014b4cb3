//! Replays the committed fuzz seeds (`fuzz/seeds/milter_*`) through the same functions the
//! cargo-fuzz targets call, so they keep working on stable.

use std::path::PathBuf;

fn seeds(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/seeds")
        .join(target);
    let mut out: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.is_file()
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .map(|p| {
            let data = std::fs::read(&p).unwrap();
            (p, data)
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no seeds in {}", dir.display());
    out
}

#[test]
fn milter_frames_seeds() {
    for (path, data) in seeds("milter_frames") {
        eprintln!("{}", path.display());
        milter_proto::fuzzing::frames(&data);
    }
}

#[test]
fn milter_session_seeds() {
    for (path, data) in seeds("milter_session") {
        eprintln!("{}", path.display());
        milter_proto::fuzzing::session(&data);
    }
}

#[test]
fn frames_seeds_also_drive_the_session_harness() {
    for (_, data) in seeds("milter_frames") {
        milter_proto::fuzzing::session(&data);
    }
}
