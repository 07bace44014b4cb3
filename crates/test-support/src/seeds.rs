//! The stable half of every fuzz target: replaying its committed seeds.

use std::path::PathBuf;

/// The committed seeds of a fuzz target, `fuzz/seeds/<target>/`, as (file name, bytes) sorted
/// by name (dot files skipped). Panics when the directory is missing or holds no seed: a replay
/// over nothing would pass without testing anything.
pub fn fuzz_seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/seeds")
        .join(target);
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            entry
                .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .path()
        })
        .filter(|p| p.is_file())
        .filter_map(|p| {
            let name = p.file_name()?.to_string_lossy().into_owned();
            (!name.starts_with('.')).then_some((p, name))
        })
        .map(|(p, name)| {
            let data = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (name, data)
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no seeds in {}", dir.display());
    out
}

/// Runs `harness` (the same `<crate>::fuzzing` function the cargo-fuzz target calls) on every
/// seed of `target`, printing each seed's name first so a panic names it. Returns how many
/// seeds ran (at least one).
pub fn replay_fuzz_seeds(target: &str, harness: impl Fn(&[u8])) -> usize {
    let seeds = fuzz_seeds(target);
    for (name, data) in &seeds {
        println!("{target}/{name}");
        harness(data);
    }
    println!("{target}: {} seeds replayed", seeds.len());
    seeds.len()
}
