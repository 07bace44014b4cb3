//! The `AUTHMILTER_E2E` gate.

/// True when tests that start real programs (Postfix, NSD, OpenDKIM, dkimpy, postsrsd, the
/// authmilter binary behind an MTA) should run: `AUTHMILTER_E2E=1`, which `tests/run.sh` sets.
///
/// Such tests are marked `#[ignore = "needs AUTHMILTER_E2E=1"]` and start with
/// `if !test_support::e2e_enabled() { return; }`: run with `--include-ignored` but without the
/// variable, this prints that the test is skipped and returns false. With the variable set, a
/// missing program is the test's failure, never a skip.
pub fn e2e_enabled() -> bool {
    let enabled = std::env::var("AUTHMILTER_E2E").is_ok_and(|v| v == "1");
    if !enabled {
        println!(
            "skipped: set AUTHMILTER_E2E=1 to run (tests/run.sh does, and installs the programs)"
        );
    }
    enabled
}
