//! Replays the committed fuzz seeds (`fuzz/seeds/config/`)
//! through the same `fuzzing` harness the cargo-fuzz target calls, on stable.

use test_support::replay_fuzz_seeds;

#[test]
fn config_seeds() {
    replay_fuzz_seeds("config", authmilter::fuzzing::config);
}

#[test]
fn pipeline_seeds() {
    let replayed = replay_fuzz_seeds("pipeline", authmilter::fuzzing::pipeline);
    assert!(replayed >= 6, "{replayed} pipeline seeds");
}
