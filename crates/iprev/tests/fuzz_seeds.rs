//! Replays the committed fuzz seeds (`fuzz/seeds/iprev/`)
//! through the same `fuzzing` harness the cargo-fuzz target calls, on stable.

use test_support::replay_fuzz_seeds;

#[test]
fn iprev_seeds() {
    replay_fuzz_seeds("iprev", iprev::fuzzing::answers);
}
