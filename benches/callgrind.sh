#!/usr/bin/env bash
# Instructions per message of `authmilter serve` under callgrind (issue 13, eighth stop):
# a figure that does not depend on the machine's load, unlike the CPU time of cpu-bench.sh.
# For each binary and mode, on a fresh milter process under `valgrind --tool=callgrind`:
# WARM messages warm its caches (DNS answers, parsed keys), the counters are zeroed
# (`callgrind_control -z`), COUNT messages run at concurrency 1, the counters are dumped
# (`callgrind_control -d`); the dump's total over COUNT is printed. Modes:
#   none      verify listener with SPF, DKIM, DMARC, iprev and ARC off (protocol, headers, A-R)
#   dkim      DKIM only
#   all       every inbound check
#   sign-rsa  the corpus unsigned, an authenticated client, signed with RSA-2048
#   sign-ed   the same, signed with Ed25519
# The corpus is benches/make-corpus.py's (200 messages, 2-100 KB, mean 27 KB; three in four
# signed RSA-2048, one in four Ed25519), made once per run so every binary sees the same
# bytes. DNS is the production path (hickory and the answer cache) against NSD on 127.0.0.1
# in a private network namespace (`unshare --net --mount`, as compare.sh), so this needs root,
# valgrind and nsd. Under valgrind the crypto takes its AVX2 paths (no SHA-NI, no AVX-512), so
# SHA-256 and RSA count for more of the total than on the real machine; compare the
# differences, which are our code's.
#
# usage: bash benches/callgrind.sh [BINARY...]
#   default: target/release/authmilter (built first).
#   env: MODES ("none dkim all sign-rsa sign-ed"), WARM (200), COUNT (200), KEEP=DIR (keep the
#   callgrind dumps there, for callgrind_annotate --inclusive=yes).
# Every process it starts it stops by its PID; every run is bounded in count and time.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=benches/bench-zone.sh
source "$ROOT/benches/bench-zone.sh"
D=bench.test
if [ "${1:-}" != --inside ]; then
  if [ "$#" -eq 0 ]; then
    (cd "$ROOT" && cargo build --release --quiet)
    set -- "$ROOT/target/release/authmilter"
  fi
  bins=()
  for b in "$@"; do bins+=("$(readlink -f "$b")"); done
  T=$(mktemp -d /tmp/authmilter-callgrind.XXXXXX)
  trap 'rm -rf "$T"' EXIT
  AM=${bins[0]}
  (cd "$ROOT" && bench_keys_and_zone "$AM" "$T" "$D" && bench_signed_corpus "$AM" "$T" "$D")
  unshare --net --mount --fork bash "$0" --inside "$T" "${bins[@]}"
  exit
fi
shift
T=$1
shift
MODES=${MODES:-"none dkim all sign-rsa sign-ed"}
WARM=${WARM:-200}
COUNT=${COUNT:-200}
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
}
trap cleanup EXIT
ip link set lo up
echo "nameserver 127.0.0.1" > "$T/resolv.conf"
mount --bind "$T/resolv.conf" /etc/resolv.conf
bench_nsd "$T" "$D"
S=$T/s
mkdir -p "$S"
listener() { # socket role
  printf '[[server.listen]]\nsocket = "unix:%s"\nrole = "%s"\n[authres]\nauthserv_id = "mx.%s"\n' "$1" "$2" $D
  printf '[dns]\nnameservers = ["127.0.0.1:53"]\n[log]\nlevel = "warn"\n'
}
off='[spf]\nenabled = false\n[dmarc]\nenabled = false\n[arc]\nverify = false\n[iprev]\nenabled = false\n'
for mode in $MODES; do
  sock=$S/$mode.sock
  case $mode in
    none) { listener "$sock" verify; printf '%b' "$off[dkim]\nverify = false\n"; } ;;
    dkim) { listener "$sock" verify; printf '%b' "$off"; } ;;
    all) listener "$sock" verify ;;
    sign-rsa | sign-ed)
      {
        listener "$sock" sign
        printf '[[dkim.key]]\ndomain = "%s"\nselector = "%s"\npath = "%s/keys/%s.%s.pem"\n' \
          $D "${mode#sign-}" "$T" $D "${mode#sign-}"
      } ;;
    *) echo "unknown mode $mode" >&2; exit 2 ;;
  esac > "$T/$mode.toml"
done
n=0
for mode in $MODES; do
  line="$mode:"
  for bin in "$@"; do
    n=$((n + 1))
    sock=$S/$mode.sock
    rm -f "$sock"
    corpus=$T/corpus
    extra=()
    case $mode in sign-*) corpus=$T/raw; extra=(--auth bench) ;; esac
    out=$T/cg.$n
    valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" serve -c "$T/$mode.toml" \
      2> "$T/valgrind.$n.log" &
    vp=$!
    PIDS+=($vp)
    for _ in $(seq 600); do [ -S "$sock" ] && break; sleep 0.1; done
    args=(--target "unix:$sock" --corpus "$corpus" --concurrency 1 --timeout 60
      --client-ip 192.0.2.10 --helo "mail.$D" --rcpt user@example.net "${extra[@]}")
    "$bin" bench "${args[@]}" --count "$WARM" --duration 600 > /dev/null
    callgrind_control -z "$vp" > /dev/null
    "$bin" bench "${args[@]}" --count "$COUNT" --duration 1200 > "$T/bench.$n.txt"
    callgrind_control -d "$vp" > /dev/null
    kill "$vp"
    wait "$vp" 2> /dev/null || true
    dump=$(ls "$out".* | head -1)
    ir=$(sed -n 's/^totals: *//p; s/^summary: *//p' "$dump" | head -1 | awk '{print $1}')
    answered=$(sed -n 's/^messages *\([0-9]*\) answered.*/\1/p' "$T/bench.$n.txt")
    line="$line  $(basename "$bin")=$((ir / COUNT)) ($answered answered)"
    if [ -n "${KEEP:-}" ]; then
      mkdir -p "$KEEP"
      cp "$dump" "$KEEP/callgrind.$mode.$(basename "$bin").out"
    fi
  done
  echo "$line"
done
