#!/usr/bin/env bash
# Benchmark (not a test): MESSAGES messages through `authmilter serve` (release) with DMARC
# reports off, then on (SQLite store), driven by `authmilter bench --pid` (which measures the
# milter's CPU per message from /proc/PID/stat); off and on alternate ROUNDS times (the machine
# may be shared: compare medians). After each "on" run the store must hold exactly the messages
# sent.
#
#   bash benches/reports-load.sh [MESSAGES] [CONCURRENCY] [ROUNDS]   (default 100000 8 3)
#
# Results go to docs/PERFORMANCE.md ("DMARC reports: recording cost").
set -euo pipefail
cd "$(dirname "$0")/.."
messages=${1:-100000}
concurrency=${2:-8}
rounds=${3:-3}
cargo build --release --bin authmilter -q
bin="$(pwd)/target/release/authmilter"
work=$(mktemp -d /tmp/authmilter-reports-bench.XXXXXX)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
cat >"$work/zone" <<'EOF'
example.org TXT "v=spf1 ip4:192.0.2.0/24 -all"
_dmarc.example.org TXT "v=DMARC1; p=reject; rua=mailto:dmarc@example.org"
10.2.0.192.in-addr.arpa PTR mail.example.org
mail.example.org A 192.0.2.10
EOF
mkdir -p "$work/corpus"
{
  printf 'From: Alice <alice@example.org>\r\nTo: bob@example.net\r\nSubject: load\r\n'
  printf 'Date: Sun, 22 Nov 2026 10:00:00 +0000\r\nMessage-ID: <load@example.org>\r\n\r\n'
  for _ in $(seq 35); do printf 'The quick brown fox jumps over the lazy dog 0123456789.\r\n'; done
} >"$work/corpus/1.eml"

run() { # $1 = on|off, $2 = round
  local sock="$work/milter-$1-$2.sock"
  cat >"$work/milter.toml" <<EOF
[[server.listen]]
socket = "unix:$sock"
role = "verify"
[authres]
authserv_id = "mx.load.test"
[log]
level = "warn"
[reports]
enabled = $([ "$1" = on ] && echo true || echo false)
store = "sqlite:$work/reports-$1-$2.db"
email = "dmarc-reports@load.test"
send = false
EOF
  "$bin" serve -c "$work/milter.toml" --zone "$work/zone" 2>"$work/serve-$1.log" &
  pid=$!
  for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done
  "$bin" bench --target "unix:$sock" --corpus "$work/corpus" --count "$messages" \
    --concurrency "$concurrency" --duration 600 --client-ip 192.0.2.10 \
    --pid "$pid" >"$work/bench-$1.txt" || true
  sleep 2 # the recorder writes its last batch
  kill -TERM "$pid"
  wait "$pid" || true
  pid=
  echo "round $2 reports $1: $(grep -E '^(rate|cpu)' "$work/bench-$1.txt" | tr -s ' ' | tr '\n' ' ')"
  if [ "$1" = on ]; then
    local stored
    stored=$("$bin" report status --json -c "$work/milter.toml" |
      python3 -c 'import json,sys; d=json.load(sys.stdin); print(sum(p["messages"] for p in d["status"]["periods"]))')
    echo "round $2 reports on: the store holds $stored messages (sent $messages)"
    grep -i "results sink full" "$work/serve-on.log" || true
  fi
}
for r in $(seq "$rounds"); do
  run off "$r"
  run on "$r"
done
