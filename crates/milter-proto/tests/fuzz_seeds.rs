//! Replays the committed fuzz seeds (`fuzz/seeds/milter_*/`)
//! through the same `fuzzing` harness the cargo-fuzz target calls, on stable.

use test_support::replay_fuzz_seeds;

#[test]
fn milter_frames_seeds() {
    replay_fuzz_seeds("milter_frames", milter_proto::fuzzing::frames);
}

#[test]
fn milter_session_seeds() {
    replay_fuzz_seeds("milter_session", milter_proto::fuzzing::session);
}

#[test]
fn frames_seeds_also_drive_the_session_harness() {
    replay_fuzz_seeds("milter_frames", milter_proto::fuzzing::session);
}
