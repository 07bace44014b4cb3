//! Replays the committed fuzz seeds (`fuzz/seeds/dmarc_*/`)
//! through the same `fuzzing` harness the cargo-fuzz target calls, on stable.

use test_support::replay_fuzz_seeds;

#[test]
fn dmarc_record_seeds() {
    replay_fuzz_seeds("dmarc_record", dmarc::fuzzing::record);
}

#[test]
fn dmarc_from_seeds() {
    replay_fuzz_seeds("dmarc_from", dmarc::fuzzing::from);
}

#[test]
fn dmarc_discovery_seeds() {
    replay_fuzz_seeds("dmarc_discovery", dmarc::fuzzing::discovery);
}
