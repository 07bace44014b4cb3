#!/usr/bin/env bash
# Load without loss: COUNT messages (default 100,000) at concurrency CONC (default 64) through
# `authmilter serve` (release build), every answer compared with the answer the same message
# got when sent alone (`authmilter bench --verify-answers`), no ERROR in the milter's log, and
# the milter's RSS and open file descriptors printed before and after.
#
# usage: bash benches/load-bench.sh   (COUNT=20000 CONC=8 bash benches/load-bench.sh for less)
# (tests/load.sh does the same check through the load_check bench; this one through
# `authmilter bench --verify-answers`.)
#
# Self-contained: DNS comes from a zone file (`serve --zone`), the corpus from
# benches/make-corpus.py, signed with keys generated here; the milter listens on a Unix socket
# in a temporary directory and is stopped by its PID. Bounded by COUNT and by 15 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${COUNT:-100000}
CONC=${CONC:-64}
cargo build --release --quiet
AM="$(pwd)/target/release/authmilter"
T=$(mktemp -d)
PID=
# shellcheck source=benches/bench-zone.sh
. benches/bench-zone.sh
trap 'bench_stop_milter; rm -rf "$T"' EXIT

D=bench.test
bench_keys_and_zone "$AM" "$T" "$D"
python3 benches/make-corpus.py "$T/raw" --count 200 --domain "$D" > /dev/null
mkdir -p "$T/corpus"
i=0
for f in "$T"/raw/*.eml; do
  sel=rsa
  [ $((i % 4)) -eq 3 ] && sel=ed
  # one message in eight is left unsigned, one in eight gets a broken body (DKIM fail)
  if [ $((i % 8)) -eq 5 ]; then
    cp "$f" "$T/corpus/$(basename "$f")"
  else
    "$AM" dkim sign --domain "$D" --selector "$sel" --key "$T/keys/$D.$sel.pem" "$f" \
      > "$T/corpus/$(basename "$f")"
    [ $((i % 8)) -eq 6 ] && printf 'appended after signing\r\n' >> "$T/corpus/$(basename "$f")"
  fi
  i=$((i + 1))
done
cat > "$T/milter.toml" <<EOF
[[server.listen]]
socket = "unix:$T/milter.sock"
role = "verify"
[authres]
authserv_id = "mx.$D"
[log]
level = "info"
EOF
"$AM" serve -c "$T/milter.toml" --zone "$T/zone" 2> "$T/milter.log" &
PID=$!
for _ in $(seq 100); do [ -S "$T/milter.sock" ] && break; sleep 0.1; done
usage() {
  printf 'RSS %s KiB, peak %s KiB, open fds %s' \
    "$(awk '/^VmRSS/ {print $2}' "/proc/$PID/status")" \
    "$(awk '/^VmHWM/ {print $2}' "/proc/$PID/status")" \
    "$(ls "/proc/$PID/fd" | wc -l)"
}
echo "before: $(usage)"
status=0
"$AM" bench --target "unix:$T/milter.sock" --corpus "$T/corpus" --count "$COUNT" \
  --concurrency "$CONC" --duration 900 --client-ip 192.0.2.10 --helo "mail.$D" \
  --verify-answers --pid "$PID" > "$T/report.txt" || status=$?
cat "$T/report.txt"
echo "after:  $(usage)"
errors=$(grep -c " ERROR " "$T/milter.log" || true)
echo "milter log: $(wc -l < "$T/milter.log") lines, $errors ERROR lines"
if [ "$errors" -gt 0 ]; then
  grep " ERROR " "$T/milter.log" | head -5
  status=1
fi
if [ "$status" -ne 0 ]; then
  echo "load.sh: FAILED (failed or mismatched answers, or errors in the log)"
else
  echo "load.sh: OK — $COUNT messages, every answer as when sent alone"
fi
exit "$status"
