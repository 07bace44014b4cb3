#!/usr/bin/env bash
# Benchmark (not a test): the CPU cost of recording DMARC reports. Two `authmilter serve`
# processes (release) run SIDE BY SIDE, one with reports off and one with reports on (SQLite
# store); two `authmilter bench --pid` clients drive them AT THE SAME TIME with MESSAGES
# messages each, so both milters see the same machine (a shared machine's noise hits both).
# Each bench reports its milter's CPU per message (utime+stime from /proc/PID/stat during the
# run); after the run, when the recorder has written its last batch, the script also reads
# each milter's whole-life CPU (start-up and the final flush included) from /proc/PID/stat.
# The "on" store must then hold exactly the messages sent. Repeated ROUNDS times with fresh
# processes and stores.
#
#   bash benches/reports-load.sh [MESSAGES] [CONCURRENCY] [ROUNDS]   (default 100000 8 3)
#
# CORPUS=mail (default): the corpus of every other CPU figure (benches/make-corpus.py, 200
#   messages of 2-100 KB, DKIM-signed, DMARC-aligned; bench-zone.sh), the domain's DMARC record
#   with `rua=`. CORPUS=small: one 2 KB unsigned message (SPF-aligned), the worst case for a
#   relative figure: the least checking work per message for the same recording work.
# BIN=path: measure that binary instead of building target/release/authmilter.
# ORDER=side-by-side (default: both clients at once, as above) or alternate (off, then on, in
#   each round, the machine otherwise as idle as it is: no competition between the two).
#
# Results go to docs/PERFORMANCE.md ("DMARC reports: recording cost").
set -euo pipefail
cd "$(dirname "$0")/.."
messages=${1:-100000}
concurrency=${2:-8}
rounds=${3:-3}
corpus=${CORPUS:-mail}
order=${ORDER:-side-by-side}
if [ -n "${BIN:-}" ]; then
  bin=$BIN
else
  cargo build --release --bin authmilter -q
  bin="${CARGO_TARGET_DIR:-$(pwd)/target}/release/authmilter"
fi
work=$(mktemp -d /tmp/authmilter-reports-bench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
case "$corpus" in
  mail)
    domain=bench.test
    # shellcheck source=benches/bench-zone.sh
    . benches/bench-zone.sh
    bench_keys_and_zone "$bin" "$work" "$domain"
    sed -i 's/"v=DMARC1; p=reject"/"v=DMARC1; p=reject; rua=mailto:dmarc@bench.test"/' "$work/zone"
    grep -q 'rua=mailto' "$work/zone"
    bench_signed_corpus "$bin" "$work" "$domain"
    ;;
  small)
    domain=example.org
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
    ;;
  *) echo "CORPUS must be mail or small" >&2; exit 2 ;;
esac

ticks=$(getconf CLK_TCK)
# utime + stime of a process in microseconds
cpu_us() { awk -v t="$ticks" '{ sub(/^.*\) /, ""); print ($12 + $13) * 1000000 / t }' "/proc/$1/stat"; }

config() { # $1 = on|off, $2 = round
  cat >"$work/milter-$1.toml" <<EOF
[[server.listen]]
socket = "unix:$work/milter-$1-$2.sock"
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
}

for r in $(seq "$rounds"); do
  declare -A pid=()
  for mode in off on; do
    config "$mode" "$r"
    "$bin" serve -c "$work/milter-$mode.toml" --zone "$work/zone" 2>"$work/serve-$mode-$r.log" &
    pid[$mode]=$!
    pids+=("$!")
  done
  for mode in off on; do
    for _ in $(seq 100); do [ -S "$work/milter-$mode-$r.sock" ] && break; sleep 0.1; done
  done
  drive() { # $1 = off|on
    "$bin" bench --target "unix:$work/milter-$1-$r.sock" --corpus "$work/corpus" \
      --count "$messages" --concurrency "$concurrency" --duration 900 --client-ip 192.0.2.10 \
      --helo "mail.$domain" --pid "${pid[$1]}" >"$work/bench-$1-$r.txt" || true
  }
  if [ "$order" = alternate ]; then
    drive off
    drive on
  else
    drive off &
    off_bench=$!
    drive on &
    wait "$off_bench" "$!"
  fi
  sleep 3 # the recorder writes its last batch (flush_interval 1s)
  for mode in off on; do
    life=$(cpu_us "${pid[$mode]}")
    kill -TERM "${pid[$mode]}"
    wait "${pid[$mode]}" || true
    echo "round $r reports $mode: $(grep -E '^(messages|rate|cpu)' "$work/bench-$mode-$r.txt" |
      tr -s ' ' | tr '\n' ' ')| whole life $(awk -v c="$life" -v m="$messages" 'BEGIN { printf "%.1f", c / m }') µs/msg"
  done
  pids=()
  stored=$("$bin" report status --json -c "$work/milter-on.toml" |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print(sum(p["messages"] for p in d["status"]["periods"]))')
  echo "round $r reports on: the store holds $stored messages (sent $messages)"
  grep -i "results sink full\|dropped" "$work/serve-on-$r.log" || true
done
