//! Replays the committed fuzz seeds (`fuzz/seeds/private_key/`)
//! through the same `fuzzing` harness the cargo-fuzz target calls, on stable.

use test_support::replay_fuzz_seeds;

#[test]
fn private_key_seeds() {
    replay_fuzz_seeds("private_key", crypto::fuzzing::private_key);
}
