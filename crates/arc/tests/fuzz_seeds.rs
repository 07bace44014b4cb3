//! Replays the committed fuzz seeds (`fuzz/seeds/arc_headers/`) through the harness the fuzz
//! target calls, so it keeps working on stable.

use std::fs;
use std::path::PathBuf;

#[test]
fn arc_headers_seeds() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/arc_headers");
    let mut seeds: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.is_file() && !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    seeds.sort();
    assert!(seeds.len() >= 10, "only {} seeds", seeds.len());
    for p in &seeds {
        println!("arc_headers seed {}", p.display());
        let data = fs::read(p).unwrap();
        arc::fuzzing::arc_headers(&data);
        // and the same with CRLF line ends, as a milter delivers them
        arc::fuzzing::arc_headers(&message::lf_to_crlf(&data));
    }
}
