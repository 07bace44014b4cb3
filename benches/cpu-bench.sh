#!/usr/bin/env bash
# CPU per message of `authmilter serve`, one or more builds side by side (issue 13): for each
# mode and concurrency, every build in turn on a fresh milter process, ROUNDS rounds.
#   verify:   the benches/make-corpus.py corpus (200 messages, 2-100 KB, mean 27 KB), three in
#             four signed RSA-2048 and one in four Ed25519; every inbound check
#   sign-rsa: the same messages unsigned, an authenticated client, signed with RSA-2048
#   sign-ed:  the same, signed with Ed25519
# The figure is the milter's utime+stime per message from /proc/PID/stat, as `authmilter
# bench --pid` reads it, over COUNT messages after 200 warm-up messages; the load generator is
# the first binary's `bench`.
#
# usage: bash benches/cpu-bench.sh [BINARY...]
#   default: target/release/authmilter (built first).
#   env: ROUNDS (2), COUNT (3000), MODES ("verify sign-ed sign-rsa"), CONCS ("1 8").
# Self-contained: DNS from a zone file (`serve --zone`), keys generated here, each milter on a
# Unix socket in a temporary directory, stopped by its PID. Every run is bounded in count
# (COUNT) and time (60 s).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-2}
COUNT=${COUNT:-3000}
MODES=${MODES:-"verify sign-ed sign-rsa"}
CONCS=${CONCS:-"1 8"}
if [ "$#" -eq 0 ]; then
  cargo build --release --quiet
  set -- "$(pwd)/target/release/authmilter"
fi
AM="$1"
T=$(mktemp -d)
PID=
# shellcheck source=benches/bench-zone.sh
. benches/bench-zone.sh
trap 'bench_stop_milter; rm -rf "$T"' EXIT

D=bench.test
bench_keys_and_zone "$AM" "$T" "$D" > /dev/null
bench_signed_corpus "$AM" "$T" "$D"
for mode in verify sign-rsa sign-ed; do
  role=verify
  [ "$mode" = verify ] || role=sign
  {
    printf '[[server.listen]]\nsocket = "unix:%s/%s.sock"\nrole = "%s"\n' "$T" "$mode" "$role"
    printf '[authres]\nauthserv_id = "mx.%s"\n[log]\nlevel = "warn"\n' "$D"
    case "$mode" in
      sign-rsa) sel=rsa ;;
      sign-ed) sel=ed ;;
      *) sel= ;;
    esac
    if [ -n "$sel" ]; then
      printf '[[dkim.key]]\ndomain = "%s"\nselector = "%s"\npath = "%s/keys/%s.%s.pem"\n' \
        "$D" "$sel" "$T" "$D" "$sel"
    fi
  } > "$T/$mode.toml"
done

# one measurement: prints the milter's µs per message
measure() { # binary mode concurrency
  local bin=$1 mode=$2 c=$3 corpus=$T/corpus
  local extra=()
  if [ "$mode" != verify ]; then
    corpus=$T/raw
    extra=(--auth bench)
  fi
  trap bench_stop_milter EXIT # each runs in a $(...) subshell
  rm -f "$T/$mode.sock"
  "$bin" serve -c "$T/$mode.toml" --zone "$T/zone" 2> "$T/milter.log" &
  PID=$!
  for _ in $(seq 100); do [ -S "$T/$mode.sock" ] && break; sleep 0.1; done
  [ -S "$T/$mode.sock" ] || { cat "$T/milter.log" >&2; exit 1; }
  local args=(--target "unix:$T/$mode.sock" --corpus "$corpus" --concurrency "$c"
    --client-ip 192.0.2.10 --helo "mail.$D" --rcpt user@example.net "${extra[@]}")
  "$AM" bench "${args[@]}" --count 200 > /dev/null || true
  "$AM" bench "${args[@]}" --count "$COUNT" --duration 60 --pid "$PID" > "$T/out.txt" || true
  sed -n 's/.*milter \([0-9.]*\) µs\/msg.*/\1/p' "$T/out.txt"
  bench_stop_milter
}

for round in $(seq "$ROUNDS"); do
  for mode in $MODES; do
    for c in $CONCS; do
      line="round $round  $mode  c=$c:"
      for bin in "$@"; do
        line="$line  $(basename "$bin")=$(measure "$bin" "$mode" "$c")"
      done
      echo "$line"
    done
  done
done
