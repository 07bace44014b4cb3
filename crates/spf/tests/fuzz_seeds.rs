//! Replays the committed fuzz seeds (`fuzz/seeds/spf_*/`)
//! through the same `fuzzing` harness the cargo-fuzz target calls, on stable.

use test_support::replay_fuzz_seeds;

#[test]
fn spf_record_seeds() {
    replay_fuzz_seeds("spf_record", spf::fuzzing::spf_record);
}

#[test]
fn spf_macro_seeds() {
    replay_fuzz_seeds("spf_macro", spf::fuzzing::spf_macro);
}
