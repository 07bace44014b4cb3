//! Replays the committed fuzz seeds (fuzz/seeds/auth_results) through the same calls and
//! checks as the cargo-fuzz target, on stable.

use std::path::Path;

#[test]
fn auth_results_seeds() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/auth_results");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let entry = entry.unwrap();
        if !entry.file_type().unwrap().is_file() {
            continue;
        }
        let data = std::fs::read(entry.path()).unwrap();
        // same body as fuzz/fuzz_targets/auth_results.rs
        let _ = authres::authserv_id(&data);
        let _ = authres::parse_arc(&data);
        let _ = authres::parse_lenient(&data);
        if let Ok(ar) = authres::parse(&data) {
            let text = ar.format(&authres::FormatOptions::milter());
            assert!(!text.contains('\r'));
            assert!(authres::parse(text.as_bytes()).is_ok(), "{text:?}");
        }
        n += 1;
    }
    assert!(n > 0, "no seeds in {}", dir.display());
    println!("auth_results seeds: {n} passed, 0 failed");
}
