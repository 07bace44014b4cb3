//! Replays the committed fuzz seeds (`fuzz/seeds/{srs_reverse,socketmap,srs_secrets}/`)
//! through the same `fuzzing` harness the cargo-fuzz target calls, on stable.

use test_support::replay_fuzz_seeds;

#[test]
fn srs_reverse_seeds() {
    replay_fuzz_seeds("srs_reverse", srs::fuzzing::srs_reverse);
}

#[test]
fn socketmap_seeds() {
    replay_fuzz_seeds("socketmap", srs::fuzzing::socketmap);
}

#[test]
fn srs_secrets_seeds() {
    replay_fuzz_seeds("srs_secrets", srs::fuzzing::secrets);
}
