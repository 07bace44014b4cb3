#!/usr/bin/env bash
# authmilter side by side with the incumbents, in ONE run, on this machine:
#   verify: OpenDKIM alone, OpenDKIM + OpenDMARC (the usual chain), rspamd's milter proxy with
#           only its SPF, DKIM and DMARC modules, and authmilter doing all its inbound checks
#           (SPF, HELO, DKIM, iprev, DMARC, Authentication-Results);
#   sign:   RSA-2048 and Ed25519, OpenDKIM and authmilter (Ed25519 also on ~20 KB messages,
#           the size its target is stated for);
#   where the time goes: authmilter with DKIM verification alone (as OpenDKIM does), and with no
#           check at all (the milter protocol, the header store and an A-R saying "none"); and
#           the protocol floor of the libmilter milters, a libmilter filter that takes the
#           envelope, headers and body and adds one header, nothing else (benches/null-milter.c);
# at concurrency 1 and 8 (authmilter also at 64): msg/s, p99 latency, the milter's CPU µs per
# message (from /proc) and the ratio to authmilter; then the crypto floor (`openssl speed`),
# also per message of this corpus (its signatures verified, its bytes hashed).
#
# usage: bash benches/compare.sh [--count N] [--duration SECONDS] [--corpus-size N] [--rounds N]
#                                [--pin]
#
# With --rounds N (default 1) every run of the table, and `openssl speed`, is repeated N times
# in turn (round 1 of every row, then round 2 ...), and each figure of the table is the median
# of its rounds; the CPU of every round is listed after the table. A virtual machine's speed
# drifts within minutes, so single runs of two milters can differ by a third for nothing.
#
# With --pin (two CPUs or more) every milter runs on CPU 1 and the load generator on CPU 0
# (`taskset`), the layout of issue 13's first measurement: the milters and the client no
# longer compete for one CPU or migrate between the two, for every milter alike.
#
# It installs the peers from Debian packages if they are missing (with a policy-rc.d that keeps
# package scripts from starting them; it never stops anything it did not start), builds
# authmilter (release), then re-runs itself in a private network and mount namespace
# (`unshare --net --mount`): there NSD answers on 127.0.0.1:53 for the benchmark zones and
# /etc/resolv.conf is bind-mounted to point at it, so every milter uses the same DNS without
# touching the machine's configuration. Every process it starts it stops by PID. Every run is
# bounded by --count messages and --duration seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
# shellcheck source=benches/bench-zone.sh
source "$ROOT/benches/bench-zone.sh"

COUNT=3000
DURATION=20
CORPUS_SIZE=200
ROUNDS=1
PIN=0
INSIDE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --count) COUNT=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --corpus-size) CORPUS_SIZE=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --pin) PIN=1; shift ;;
    --inside) INSIDE=1; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

if [ "$INSIDE" -eq 0 ]; then
  need=()
  for p in opendkim opendmarc rspamd nsd openssl python3 libmilter-dev gcc; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
  done
  if [ "${#need[@]}" -gt 0 ]; then
    echo "installing: ${need[*]}"
    policy=/usr/sbin/policy-rc.d
    had_policy=0
    [ -e "$policy" ] && had_policy=1
    if [ "$had_policy" -eq 0 ]; then
      printf '#!/bin/sh\nexit 101\n' > "$policy"
      chmod 755 "$policy"
    fi
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${need[@]}"
    [ "$had_policy" -eq 0 ] && rm -f "$policy"
  fi
  cargo build --release --quiet
  mkdir -p target/release
  cc -O2 -Wall -o target/release/null-milter benches/null-milter.c -lmilter -lpthread
  exec unshare --net --mount --fork bash "$0" --inside --count "$COUNT" \
    --duration "$DURATION" --corpus-size "$CORPUS_SIZE" --rounds "$ROUNDS" $([ "$PIN" -eq 1 ] && echo --pin)
fi

# ---- inside the private namespace ------------------------------------------------------------
ip link set lo up
AM="$ROOT/target/release/authmilter"
T=$(mktemp -d /tmp/authmilter-compare.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
  rm -rf "$T"
}
trap cleanup EXIT
trap 'echo "compare.sh: failed at line $LINENO" >&2' ERR
echo "nameserver 127.0.0.1" > "$T/resolv.conf"
mount --bind "$T/resolv.conf" /etc/resolv.conf

wait_sock() { # socket path [tenths of a second]
  for _ in $(seq "${2:-100}"); do
    python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).connect(sys.argv[1])' "$1" \
      2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on $1" >&2
  return 1
}

# ---- keys, zones, NSD --------------------------------------------------------------------------
D=bench.test
bench_keys_and_zone "$AM" "$T" "$D"
bench_nsd "$T" "$D"

# ---- corpus: realistic messages, signed (RSA-2048 three in four, Ed25519 one in four) ----------
python3 "$ROOT/benches/make-corpus.py" "$T/raw" --count "$CORPUS_SIZE" --domain "$D"
# the Ed25519 signing target is stated for a 20 KB message: the same mix at ~20 KB each
python3 "$ROOT/benches/make-corpus.py" "$T/raw20k" --count "$CORPUS_SIZE" --domain "$D" --size 19150
mkdir -p "$T/signed"
i=0
for f in "$T"/raw/*.eml; do
  if [ $((i % 4)) -eq 3 ]; then sel=ed; else sel=rsa; fi
  "$AM" dkim sign --domain "$D" --selector "$sel" --key "$T/keys/$D.$sel.pem" "$f" > "$T/signed/$(basename "$f")"
  i=$((i + 1))
done
"$AM" dkim verify "$T/signed/0003.eml" || true

# ---- the milters, each on its own Unix socket with its own files in $T ---------------------------
# Unix sockets, as most Postfix installations use for local milters: over TCP, libmilter's
# separate small writes at end of message meet Nagle and delayed ACKs (~40 ms a message).
S="$T/s"
mkdir -p "$S"
cat > "$T/am-verify.toml" <<EOF
[[server.listen]]
socket = "unix:$S/am-verify.sock"
role = "verify"
[authres]
authserv_id = "mx.$D"
[dns]
nameservers = ["127.0.0.1:53"]
[log]
level = "warn"
EOF
cat > "$T/am-sign-rsa.toml" <<EOF
[[server.listen]]
socket = "unix:$S/am-sign-rsa.sock"
role = "sign"
[authres]
authserv_id = "mx.$D"
[dns]
nameservers = ["127.0.0.1:53"]
[log]
level = "warn"
[[dkim.key]]
domain = "$D"
selector = "rsa"
path = "$T/keys/$D.rsa.pem"
EOF
# the same listener with fewer checks, to show what each layer costs
off='[spf]\nenabled = false\n[dmarc]\nenabled = false\n[arc]\nverify = false\n[iprev]\nenabled = false\n'
{ sed 's/am-verify.sock/am-dkim.sock/' "$T/am-verify.toml"; printf '%b' "$off"; } > "$T/am-dkim.toml"
{ sed 's/am-verify.sock/am-none.sock/' "$T/am-verify.toml"; printf '%b' "$off[dkim]\nverify = false\n"; } \
  > "$T/am-none.toml"
sed -e 's/am-sign-rsa.sock/am-sign-ed.sock/' -e 's/selector = "rsa"/selector = "ed"/' -e "s#$D.rsa.pem#$D.ed.pem#" \
  "$T/am-sign-rsa.toml" > "$T/am-sign-ed.toml"

odk_conf() { # file mode socket [selector]
  {
    echo "Syslog no"
    echo "Mode $2"
    echo "Socket local:$3"
    echo "PidFile $T/$(basename "$1").pid"
    echo "Canonicalization relaxed/relaxed"
    echo "AlwaysAddARHeader yes"
    echo "AuthservID mx.$D"
    echo "UMask 007"
    if [ -n "${4:-}" ]; then
      echo "Domain $D"
      echo "Selector $4"
      echo "KeyFile $T/keys/$D.$4.pem"
      echo "RequireSafeKeys false"
      if [ "$4" = ed ]; then
        echo "SignatureAlgorithm ed25519-sha256"
      else
        echo "SignatureAlgorithm rsa-sha256"
      fi
    fi
  } > "$1"
}
odk_conf "$T/odk-verify.conf" v "$S/odk-verify.sock"
odk_conf "$T/odk-sign-rsa.conf" s "$S/odk-sign-rsa.sock" rsa
odk_conf "$T/odk-sign-ed.conf" s "$S/odk-sign-ed.sock" ed
cat > "$T/odmarc.conf" <<EOF
Socket local:$S/odmarc.sock
PidFile $T/odmarc.pid
AuthservID mx.$D
TrustedAuthservIDs mx.$D
SPFSelfValidate true
SPFIgnoreResults false
IgnoreAuthenticatedClients false
RejectFailures false
Syslog false
UMask 007
EOF
mkdir -p "$T/rspamd/db" "$T/rspamd/local"
cat > "$T/rspamd/rspamd.conf" <<EOF
# Only SPF, DKIM, DMARC and the Authentication-Results header; no rules, statistics or lists.
.include "\$CONFDIR/metrics.conf"
.include "\$CONFDIR/actions.conf"
.include "\$CONFDIR/groups.conf"
modules {
  path = "\${PLUGINSDIR}";
}
options {
  pidfile = "$T/rspamd/rspamd.pid";
  filters = "dkim"; # the C module; spf, dmarc and milter_headers are Lua plugins
  dns { nameserver = ["127.0.0.1:53"]; timeout = 1s; }
  cache_file = "$T/rspamd/db/symbols.cache";
  hs_cache_dir = "$T/rspamd/db/";
  local_addrs = [];
  task_timeout = 8s;
}
logging { type = "file"; filename = "$T/rspamd/rspamd.log"; level = "error"; }
worker "rspamd_proxy" {
  bind_socket = "$S/rspamd.sock mode=0666";
  milter = yes;
  timeout = 120s;
  count = 1;
  upstream "local" { default = yes; self_scan = yes; }
}
spf { }
dkim { }
dmarc { }
milter_headers { use = ["authentication-results"]; authenticated_headers = ["authentication-results"]; }
EOF

# --pin: the milters on CPU 1 (their children inherit it), the load generator on CPU 0
MILTER_CPU=()
CLIENT_CPU=()
if [ "$PIN" -eq 1 ]; then
  if [ "$(nproc)" -ge 2 ]; then
    MILTER_CPU=(taskset -c 1)
    CLIENT_CPU=(taskset -c 0)
  else
    echo "--pin needs two CPUs; running unpinned" >&2
  fi
fi
start() { # VAR name command... : starts it on $S/name.sock, records its PID in VAR and PIDS
  local var=$1 name=$2
  shift 2
  "${MILTER_CPU[@]}" "$@" > "$T/$name.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  printf -v "$var" %s "$pid"
  wait_sock "$S/$name.sock" "${WAIT:-100}" || { tail -20 "$T/$name.log" >&2; exit 1; }
}
start AMV am-verify "$AM" serve -c "$T/am-verify.toml"
start AMD am-dkim "$AM" serve -c "$T/am-dkim.toml"
start AMN am-none "$AM" serve -c "$T/am-none.toml"
start AMR am-sign-rsa "$AM" serve -c "$T/am-sign-rsa.toml"
start AME am-sign-ed "$AM" serve -c "$T/am-sign-ed.toml"
start ODV odk-verify /usr/sbin/opendkim -f -x "$T/odk-verify.conf"
start ODR odk-sign-rsa /usr/sbin/opendkim -f -x "$T/odk-sign-rsa.conf"
start ODE odk-sign-ed /usr/sbin/opendkim -f -x "$T/odk-sign-ed.conf"
start ODM odmarc /usr/sbin/opendmarc -f -c "$T/odmarc.conf"
start NUL null "$ROOT/target/release/null-milter" "local:$S/null.sock"
# rspamd compiles its URL and language tables at start: give it two minutes.
WAIT=1200 start RSP_MAIN rspamd /usr/bin/rspamd -f -i -u root -g root -c "$T/rspamd/rspamd.conf" \
  --var "DBDIR=$T/rspamd/db" --var "RUNDIR=$T/rspamd" --var "LOGDIR=$T/rspamd" \
  --var "LOCAL_CONFDIR=$T/rspamd/local"
# rspamd scans in its proxy worker (self_scan), a child of the main process: measure that one.
RSP=$(pgrep -P "$RSP_MAIN" -f rspamd_proxy | head -1 || true)
[ -n "$RSP" ] || RSP=$RSP_MAIN

# ---- runs ----------------------------------------------------------------------------------------
mkdir -p "$T/res"
run() { # label pid concurrency corpus [extra bench args...]; CLIENT= overrides the client IP,
  # AS= the name the result is kept under
  local label=$1 pid=$2 c=$3 corpus=$4
  local target="unix:$S/$label.sock"
  shift 4
  # warm-up: caches, connection pools, first key loads
  "${CLIENT_CPU[@]}" "$AM" bench --target "$target" --corpus "$corpus" --count 200 --concurrency "$c" \
    --client-ip "${CLIENT:-192.0.2.10}" --helo "mail.$D" --rcpt "user@example.net" "$@" \
    --json > /dev/null || true
  "${CLIENT_CPU[@]}" "$AM" bench --target "$target" --corpus "$corpus" --count "$COUNT" \
    --duration "$DURATION" --concurrency "$c" --client-ip "${CLIENT:-192.0.2.10}" --helo "mail.$D" \
    --rcpt "user@example.net" --pid "$pid" "$@" --json > "$T/res/${AS:-$label}.c$c.r$ROUND.json" || true
}
for ROUND in $(seq "$ROUNDS"); do
for c in 1 8; do
  run am-verify "$AMV" $c "$T/signed"
  run odk-verify "$ODV" $c "$T/signed"
  run am-dkim "$AMD" $c "$T/signed"
  run am-none "$AMN" $c "$T/signed"
  run null "$NUL" $c "$T/signed"
  run odmarc "$ODM" $c "$T/signed"
  run rspamd "$RSP" $c "$T/signed"
  run am-sign-rsa "$AMR" $c "$T/raw" --auth bench
  CLIENT=127.0.0.1 run odk-sign-rsa "$ODR" $c "$T/raw" --auth bench
  run am-sign-ed "$AME" $c "$T/raw" --auth bench
  CLIENT=127.0.0.1 run odk-sign-ed "$ODE" $c "$T/raw" --auth bench
  AS=am-sign-ed-20k run am-sign-ed "$AME" $c "$T/raw20k" --auth bench
  AS=odk-sign-ed-20k CLIENT=127.0.0.1 run odk-sign-ed "$ODE" $c "$T/raw20k" --auth bench
done
run am-verify "$AMV" 64 "$T/signed"
openssl speed -seconds 3 rsa2048 ed25519 > "$T/openssl-speed.r$ROUND.txt" 2>/dev/null || true
openssl speed -seconds 3 -bytes 16384 sha256 > "$T/openssl-sha.r$ROUND.txt" 2>/dev/null || true
done

# ---- the table -----------------------------------------------------------------------------------
if [ "${#MILTER_CPU[@]}" -gt 0 ]; then
  echo "pinned: every milter on CPU 1, the load generator on CPU 0"
fi
python3 - "$T/res" "$T" "$CORPUS_SIZE" "$ROUNDS" "$T/signed" <<'EOF'
import json, os, re, statistics, sys
res, tdir, corpus, rounds, signed = sys.argv[1:6]
rounds = int(rounds)
def load_round(label, c, r):
    try:
        return json.load(open(os.path.join(res, f"{label}.c{c}.r{r}.json")))
    except (OSError, ValueError):
        return None
def load(label, c):
    """The run of `label` at concurrency `c`; with several rounds, each figure the median."""
    runs = [x for x in (load_round(label, c, r) for r in range(1, rounds + 1)) if x]
    if not runs:
        return None
    med = lambda f: statistics.median(f(x) for x in runs)
    merged = dict(runs[-1])
    cpus = [x.get("milter_cpu_us_per_msg") for x in runs]
    merged["milter_cpu_us_per_msg"] = statistics.median(cpus) if all(cpus) else None
    merged["msgs_per_sec"] = med(lambda x: x["msgs_per_sec"])
    merged["latency_us"] = dict(runs[-1]["latency_us"], p99=med(lambda x: x["latency_us"]["p99"]))
    merged["failed"] = sum(x["failed"] for x in runs)
    merged["rounds_cpu"] = cpus
    return merged
def median_rate(kind, pattern):
    """openssl's per-second figures of every round, the median of each column."""
    cols = []
    for r in range(1, rounds + 1):
        path = os.path.join(tdir, f"openssl-{kind}.r{r}.txt")
        found = re.search(pattern, open(path).read() if os.path.exists(path) else "", re.M)
        if found:
            cols.append([float(g) for g in found.groups()])
    return [statistics.median(col) for col in zip(*cols)] if cols else None
rows = [
    ("verify", "authmilter: SPF+HELO, DKIM, iprev, DMARC, A-R", ["am-verify"], "am-verify"),
    ("verify", "OpenDKIM (DKIM only)", ["odk-verify"], "am-verify"),
    ("verify", "authmilter, DKIM only (SPF, iprev, DMARC, ARC off)", ["am-dkim"], "am-verify"),
    ("verify", "authmilter, no checks (protocol, headers, A-R)", ["am-none"], "am-verify"),
    ("verify", "libmilter null filter (protocol, one header added)", ["null"], "am-verify"),
    ("verify", "OpenDMARC (SPF + DMARC, no DKIM input)", ["odmarc"], "am-verify"),
    ("verify", "OpenDKIM + OpenDMARC chain (sum of both)", ["odk-verify", "odmarc"], "am-verify"),
    ("verify", "rspamd proxy (SPF, DKIM, DMARC, A-R)", ["rspamd"], "am-verify"),
    ("sign", "authmilter RSA-2048", ["am-sign-rsa"], "am-sign-rsa"),
    ("sign", "OpenDKIM RSA-2048", ["odk-sign-rsa"], "am-sign-rsa"),
    ("sign", "authmilter Ed25519", ["am-sign-ed"], "am-sign-ed"),
    ("sign", "OpenDKIM Ed25519", ["odk-sign-ed"], "am-sign-ed"),
    ("sign", "authmilter Ed25519, 20 KB messages", ["am-sign-ed-20k"], "am-sign-ed-20k"),
    ("sign", "OpenDKIM Ed25519, 20 KB messages", ["odk-sign-ed-20k"], "am-sign-ed-20k"),
]
print(f"\ncorpus: {corpus} messages; milter CPU from /proc/PID/stat (10 ms ticks)"
      + (f"; each figure the median of {rounds} rounds" if rounds > 1 else "") + "\n")
print("| task | milter | conc. | msg/s | p99 | milter CPU µs/msg | × authmilter | answers | errors |")
print("|---|---|---|---|---|---|---|---|---|")
for c in (1, 8, 64):
    for task, name, labels, base in rows:
        runs = [load(l, c) for l in labels]
        if any(r is None for r in runs):
            continue
        b = load(base, c)
        cpu = sum((r.get("milter_cpu_us_per_msg") or 0) for r in runs)
        bcpu = (b or {}).get("milter_cpu_us_per_msg") or 0
        ratio = f"{cpu / bcpu:.1f}" if bcpu else "-"
        if len(runs) == 1:
            rate = f"{runs[0]['msgs_per_sec']:.0f}"
            p99 = f"{runs[0]['latency_us']['p99'] / 1000:.2f} ms"
        else:
            rate = "-"
            p99 = f"≤ {sum(r['latency_us']['p99'] for r in runs) / 1000:.2f} ms"
        a = runs[-1]["answers"]
        ans = (f"acc {a['accept']} rej {a['reject']} tmp {a['tempfail']} "
               f"A-R {a['authentication_results_added']} sig {a['dkim_signatures_added']}")
        errs = sum(r["failed"] for r in runs)
        print(f"| {task} | {name} | {c} | {rate} | {p99} | {cpu:.0f} | {ratio} | {ans} | {errs} |")
if rounds > 1:
    print("\nmilter CPU µs/msg of each round:")
    for c in (1, 8, 64):
        for task, name, labels, base in rows:
            if len(labels) != 1:
                continue
            r = load(labels[0], c)
            if r and all(r["rounds_cpu"]):
                print(f"  {task} {name}, c={c}: " + " / ".join(f"{x:.0f}" for x in r["rounds_cpu"]))
# "... sign verify sign/s verify/s": the per-second columns keep their precision
m = median_rate("speed", r"rsa 2048 bits\s+[\d.]+s\s+[\d.]+s\s+([\d.]+)\s+([\d.]+)")
e = median_rate("speed", r"253 bits EdDSA \(Ed25519\)\s+[\d.]+s\s+[\d.]+s\s+([\d.]+)\s+([\d.]+)")
print("\ncrypto floor (openssl speed -seconds 3 rsa2048 ed25519"
      + (f", median of {rounds} rounds" if rounds > 1 else "") + "):")
if m:
    print(f"  RSA-2048 sign {1e6 / m[0]:.0f} µs, verify {1e6 / m[1]:.1f} µs")
if e:
    print(f"  Ed25519 sign {1e6 / e[0]:.1f} µs, verify {1e6 / e[1]:.1f} µs")
# The DKIM crypto floor of this corpus: each message's signature verified once (RSA-2048 or
# Ed25519, as signed) and all its bytes hashed once with SHA-256 (body and signed headers are
# at most the message), at openssl's speed on this machine.
h = median_rate("sha", r"^sha256\s+([\d.]+)k")
algs = {"rsa": 0, "ed25519": 0}
size = 0
names = sorted(os.listdir(signed)) if os.path.isdir(signed) else []
for name in names:
    data = open(os.path.join(signed, name), "rb").read()
    size += len(data)
    algs["ed25519" if b"a=ed25519-sha256" in data else "rsa"] += 1
if m and e and h and names:
    n = len(names)
    verify = (algs["rsa"] * 1e6 / m[1] + algs["ed25519"] * 1e6 / e[1]) / n
    hashing = size / n / (h[0] * 1000) * 1e6
    floor = verify + hashing
    print(f"  SHA-256 {h[0] / 1e6:.2f} GB/s (16 KB blocks)")
    print(f"  this corpus ({algs['rsa']} RSA-2048, {algs['ed25519']} Ed25519 signatures, "
          f"{size / n / 1000:.1f} KB a message): verify {verify:.1f} + hash {hashing:.1f} "
          f"= {floor:.1f} µs a message")
    for c in (1, 8):
        odk = (load("odk-verify", c) or {}).get("milter_cpu_us_per_msg")
        if not odk:
            continue
        parts = [f"floor {floor / odk:.3f}×"]
        for label, what in (("null", "libmilter null filter"), ("am-none", "authmilter no checks"),
                            ("am-dkim", "authmilter DKIM only"), ("am-verify", "authmilter all checks")):
            r = (load(label, c) or {}).get("milter_cpu_us_per_msg")
            if r:
                parts.append(f"{what} {r / odk:.3f}×")
        print(f"  c={c}, against OpenDKIM's {odk:.0f} µs: " + ", ".join(parts))
for c in (1, 8):
    r = load("am-sign-rsa", c)
    if m and r and r.get("milter_cpu_us_per_msg"):
        floor = 1e6 / m[0]
        print(f"  authmilter RSA-2048 signing at c={c}: {r['milter_cpu_us_per_msg'] / floor:.2f}× openssl's raw sign")
EOF
echo
echo "client CPU per message (authmilter bench itself):"
python3 - "$T"/res/*.json <<'EOF'
import json, os, sys
for path in sys.argv[1:]:
    r = json.load(open(path))
    rss = (r.get("milter_peak_rss_kib") or 0) / 1024
    errors = {k: v for k, v in r["errors"].items() if v}
    print(f"  {os.path.basename(path)}: client {r['client_cpu_us_per_msg']:.0f} µs/msg, "
          f"milter {r.get('milter_cpu_us_per_msg') or 0:.0f} µs/msg, milter peak RSS {rss:.1f} MiB, errors {errors or 'none'}")
EOF
