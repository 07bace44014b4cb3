//! Replays the committed fuzz seeds (`fuzz/seeds/config/`)
//! through the same `fuzzing` harness the cargo-fuzz target calls, on stable.

use test_support::replay_fuzz_seeds;

#[test]
fn config_seeds() {
    replay_fuzz_seeds("config", authmilter::fuzzing::config);
}
