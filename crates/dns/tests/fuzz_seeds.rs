//! Replays the committed fuzz seeds (`fuzz/seeds/dns_zone/`)
//! through the same `fuzzing` harness the cargo-fuzz target calls, on stable.

use test_support::replay_fuzz_seeds;

#[test]
fn dns_zone_seeds() {
    replay_fuzz_seeds("dns_zone", dns::fuzzing::zone);
}
