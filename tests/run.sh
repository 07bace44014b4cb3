#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it (.ci/run calls this after fmt, clippy and the docs' links):
# installs what the end-to-end tests need, then runs every test of every crate, the
# end-to-end tests against real Postfix, NSD, OpenDKIM, dkimpy and postsrsd included.
#
# Tests that start real programs are `#[ignore = "needs AUTHMILTER_E2E=1"]` (a plain
# `cargo test` lists them as ignored); here AUTHMILTER_E2E=1 and `--include-ignored` run them,
# and with the variable set a missing program fails the test instead of skipping it.
set -euo pipefail
cd "$(dirname "$0")/.."
# test code never stops or restarts services it did not start (it may run on a mail server)
bash tests/check-test-hygiene.sh
bash tests/install-deps.sh
export AUTHMILTER_E2E=1
cargo test --workspace --no-fail-fast -- --include-ignored
# the Debian package (of the debug build): build, install (only where safe), verify, purge
PROFILE=dev bash tests/package.sh
# the other crypto backend (ring) must build and pass too; aws-lc-rs is the default
cargo test -p crypto -p dkim -p srs -p reports --no-default-features --features ring --no-fail-fast
