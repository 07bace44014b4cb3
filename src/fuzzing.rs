//! Fuzz harness shared by `fuzz/fuzz_targets/config.rs` and `tests/fuzz_seeds.rs`, so a seed
//! replays exactly what the fuzzer ran. Not part of the API; a panic here is a finding.

use crate::config::Config;

/// `config`: `milter.toml` text (as `config check` and SIGHUP read it). What is accepted
/// prints as TOML (`config check`'s output) that is accepted again and prints the same.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(config) = Config::parse(text) else {
        return;
    };
    let printed = config.to_toml().expect("an accepted config prints");
    let again = Config::parse(&printed)
        .unwrap_or_else(|e| panic!("printed config is refused: {e:#}\n{printed}"));
    let reprinted = again.to_toml().expect("an accepted config prints");
    assert_eq!(printed, reprinted, "printing is not stable");
}
