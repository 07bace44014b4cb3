#!/usr/bin/env bash
# Benchmark (not a test): N messages through `authmilter serve` (release) with DMARC reports
# off, then on (SQLite store), driven by the load generator; prints the milter's CPU time per
# message in each run and checks that the store holds exactly the messages sent.
#
#   bash benches/reports-load.sh [MESSAGES] [CONCURRENCY] [ROUNDS]   (default 100000 8 3)
#
# Off and on alternate ROUNDS times (the machine is shared: compare medians).
#
# Results go to docs/PERFORMANCE.md ("DMARC reports: recording cost").
set -euo pipefail
cd "$(dirname "$0")/.."
messages=${1:-100000}
concurrency=${2:-8}
rounds=${3:-3}
cargo build --release --bin authmilter -q
cargo bench --bench loadgen --no-run -q 2>/dev/null
bin=target/release/authmilter
work=$(mktemp -d /tmp/authmilter-reports-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
cat >"$work/zone" <<'EOF'
example.org TXT "v=spf1 ip4:192.0.2.0/24 -all"
_dmarc.example.org TXT "v=DMARC1; p=reject; rua=mailto:dmarc@example.org"
10.2.0.192.in-addr.arpa PTR mail.example.org
mail.example.org A 192.0.2.10
EOF
ticks=$(getconf CLK_TCK)

run() { # $1 = on|off, $2 = round
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  cat >"$work/milter.toml" <<EOF
[[server.listen]]
socket = "inet:127.0.0.1:$port"
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
  local pid=$!
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
  done
  local before after
  before=$(awk '{print $14+$15}' "/proc/$pid/stat")
  cargo bench --bench loadgen -q -- --target "127.0.0.1:$port" --messages "$messages" \
    --concurrency "$concurrency" --seconds 600 | tail -n 3 >"$work/load-$1.txt"
  sleep 2 # let the recorder write its last batch
  after=$(awk '{print $14+$15}' "/proc/$pid/stat")
  kill -TERM "$pid"
  wait "$pid" || true
  local cpu_us=$(( (after - before) * 1000000 / ticks / messages ))
  echo "reports $1: $(tr '\n' ' ' <"$work/load-$1.txt")"
  echo "reports $1: milter CPU ${cpu_us} µs per message"
  if [ "$1" = on ]; then
    local stored
    stored=$("$bin" report status --json -c "$work/milter.toml" |
      python3 -c 'import json,sys; d=json.load(sys.stdin); print(sum(p["messages"] for p in d["status"]["periods"]))')
    echo "reports on: store holds $stored messages (sent $messages)"
    grep -i "dropped\|results sink full" "$work/serve-on.log" || true
  fi
}
for r in $(seq "$rounds"); do
  run off "$r"
  run on "$r"
done
