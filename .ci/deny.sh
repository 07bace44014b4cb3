#!/usr/bin/env bash
# cargo deny check (deny.toml): advisories, licences, bans (duplicates warn), sources.
#
# The RustSec advisory database is a git repository on GitHub. Where it cannot be fetched (a
# machine that reaches only the package registries), the last fetched copy is used and its
# date printed; with no copy at all, the advisories check is skipped with a loud warning and
# the other three checks still run.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! cargo deny --version >/dev/null 2>&1; then
    cargo install cargo-deny --locked
fi
# `--offline` below needs every crate of the lock file on disk, the other platforms' ones
# too (windows-sys, ...), which a build on this machine never downloads: fetch them all
cargo fetch --locked
cargo deny fetch db >/dev/null 2>&1 || true
db=""
for d in "${CARGO_HOME:-$HOME/.cargo}"/advisory-dbs/*/; do
    [ -d "$d/crates" ] && db="$d"
done
if [ -n "$db" ]; then
    echo "cargo deny: advisory database $(git -C "$db" log -1 --format='%h of %cs' 2>/dev/null || echo "$db")"
    cargo deny --offline check
else
    echo "WARNING: cargo deny: no RustSec advisory database (github.com unreachable): advisories NOT checked" >&2
    cargo deny --offline check bans licenses sources
fi
