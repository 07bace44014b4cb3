#!/usr/bin/env bash
# Load without loss: 100,000 messages at concurrency 64 through `authmilter serve` (release
# build, DNS from a zone file), each answer compared with the answer the same message gets
# alone; the server log must hold no warning or error; RSS and open fds printed before/after.
# Bounded: --count and --seconds. Usage: bash tests/load.sh [COUNT] [CONCURRENCY]
set -euo pipefail
cd "$(dirname "$0")/.."
count="${1:-100000}"
concurrency="${2:-64}"
cargo build --release --bin authmilter
cargo bench --bench load_check -- --count "$count" --concurrency "$concurrency" --seconds 900
