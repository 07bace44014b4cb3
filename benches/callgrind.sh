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
  mkdir -p "$T/keys"
  "$AM" dkim genkey --domain $D --selector rsa --algorithm rsa --out "$T/keys" > "$T/rsa.txt"
  "$AM" dkim genkey --domain $D --selector ed --algorithm ed25519 --out "$T/keys" > "$T/ed.txt"
  python3 "$ROOT/benches/make-corpus.py" "$T/raw" --count 200 --domain $D > /dev/null
  mkdir -p "$T/signed"
  i=0
  for f in "$T"/raw/*.eml; do
    sel=rsa
    [ $((i % 4)) -eq 3 ] && sel=ed
    "$AM" dkim sign --domain $D --selector $sel --key "$T/keys/$D.$sel.pem" "$f" \
      > "$T/signed/$(basename "$f")"
    i=$((i + 1))
  done
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
p_of() { sed -n 's/.*Value: *//p' "$1" | head -1; }
txt_split() { # long TXT value -> quoted 255-byte strings
  python3 -c 'import sys; v=sys.argv[1]; print(" ".join("\""+v[i:i+255]+"\"" for i in range(0,len(v),255)))' "$1"
}
mkdir -p "$T/nsd"
cat > "$T/nsd/$D.zone" <<ZONE
\$ORIGIN $D.
\$TTL 3600
@ IN SOA ns.$D. hostmaster.$D. 1 3600 900 604800 60
@ IN NS ns.$D.
ns IN A 127.0.0.1
@ IN TXT "v=spf1 ip4:192.0.2.0/24 -all"
mail IN A 192.0.2.10
mail IN TXT "v=spf1 a -all"
_dmarc IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc@$D"
rsa._domainkey IN TXT ( $(txt_split "$(p_of "$T/rsa.txt")") )
ed._domainkey IN TXT ( $(txt_split "$(p_of "$T/ed.txt")") )
ZONE
cat > "$T/nsd/rev.zone" <<ZONE
\$ORIGIN 2.0.192.in-addr.arpa.
\$TTL 3600
@ IN SOA ns.$D. hostmaster.$D. 1 3600 900 604800 60
@ IN NS ns.$D.
10 IN PTR mail.$D.
ZONE
cat > "$T/nsd/nsd.conf" <<CONF
server:
  ip-address: 127.0.0.1
  port: 53
  username: ""
  chroot: ""
  zonesdir: "$T/nsd"
  pidfile: "$T/nsd/nsd.pid"
  database: ""
  xfrdfile: "$T/nsd/xfrd.state"
  zonelistfile: "$T/nsd/zone.list"
  logfile: "$T/nsd/nsd.log"
  server-count: 1
  do-ip6: no
remote-control:
  control-enable: no
zone:
  name: $D
  zonefile: $D.zone
zone:
  name: 2.0.192.in-addr.arpa
  zonefile: rev.zone
CONF
/usr/sbin/nsd -d -c "$T/nsd/nsd.conf" 2> "$T/nsd/stderr" &
PIDS+=($!)
sleep 1
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
    corpus=$T/signed
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
