//! Replays the committed fuzz seeds (`fuzz/seeds/auth_results/`)
//! through the same `fuzzing` harness the cargo-fuzz target calls, on stable.

use test_support::replay_fuzz_seeds;

#[test]
fn auth_results_seeds() {
    replay_fuzz_seeds("auth_results", authres::fuzzing::auth_results);
}
