//! Replays the committed fuzz seeds (`fuzz/seeds/dkim_*/`)
//! through the same `fuzzing` harness the cargo-fuzz target calls, on stable.

use test_support::replay_fuzz_seeds;

#[test]
fn dkim_signature_seeds() {
    replay_fuzz_seeds("dkim_signature", dkim::fuzzing::signature);
}

#[test]
fn dkim_key_record_seeds() {
    replay_fuzz_seeds("dkim_key_record", dkim::fuzzing::key_record);
}

#[test]
fn dkim_canon_seeds() {
    replay_fuzz_seeds("dkim_canon", dkim::fuzzing::canon);
}

#[test]
fn dkim_header_seeds() {
    replay_fuzz_seeds("dkim_header", dkim::fuzzing::header);
}

#[test]
fn dkim_verify_seeds() {
    replay_fuzz_seeds("dkim_verify", dkim::fuzzing::verify);
}
