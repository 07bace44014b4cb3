#!/usr/bin/env bash
# Memory (issue 13) of `authmilter serve`, one or more builds side by side, each measurement on
# a fresh milter process:
#   1. 500 connections at once, each streaming a 1 MB signed message (`authmilter bench
#      --concurrency 500 --per-connection 1`): the milter's peak RSS (VmHWM);
#   2. 1,000 negotiated idle connections (OPTNEG answered, then nothing): the milter's RSS
#      before and after, and the difference per connection;
#   3. verifying CPU per message on the benches/make-corpus.py corpus (200 messages, 10,000
#      sent at concurrency 8), as `authmilter bench --pid` reads it from /proc/PID/stat, to see
#      that the memory work costs no CPU.
#
# usage: bash benches/memory-bench.sh [BINARY...]
#   default: target/release/authmilter (built first). With several binaries (e.g. the build of
#   main and of a branch), every round measures each in turn; ROUNDS (default 2) rounds.
#   CPU_ONLY=1 measures only the CPU per message (for more rounds of the noisiest figure).
# Self-contained: DNS from a zone file (`serve --zone`), keys generated here, the milter on a
# Unix socket in a temporary directory, stopped by its PID. Every run is bounded in count and
# time.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-2}
if [ "$#" -eq 0 ]; then
  cargo build --release --quiet
  set -- "$(pwd)/target/release/authmilter"
fi
ulimit -n 8192
AM="$1"
T=$(mktemp -d)
PID=
# shellcheck source=benches/bench-zone.sh
. benches/bench-zone.sh
trap 'bench_stop_milter; rm -rf "$T"' EXIT

D=bench.test
mkdir -p "$T/big"
bench_keys_and_zone "$AM" "$T" "$D"
# the corpus for the CPU figure: three in four signed RSA-2048, one in four Ed25519
bench_signed_corpus "$AM" "$T" "$D"
# one 1 MB message of 72-column prose, signed RSA-2048
python3 - "$T/big.raw" "$D" <<'EOF'
import random, sys
path, domain = sys.argv[1], sys.argv[2]
rng = random.Random(13)
words = "the of and to in is that for it as with was on be by this are from or have".split()
head = (f"From: Sender <sender@{domain}>\r\nTo: rcpt@example.net\r\n"
        f"Subject: one megabyte\r\nDate: Fri, 04 Dec 2026 12:00:00 +0000\r\n"
        f"Message-ID: <big@{domain}>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n\r\n")
lines, size = [], 0
while size < 1_000_000:
    line = " ".join(rng.choice(words) for _ in range(14))[:72]
    lines.append(line)
    size += len(line) + 2
open(path, "w", newline="").write(head + "\r\n".join(lines) + "\r\n")
EOF
"$AM" dkim sign --domain "$D" --selector rsa --key "$T/keys/$D.rsa.pem" "$T/big.raw" \
  > "$T/big/big.eml"
cat > "$T/milter.toml" <<EOF
[server]
max_connections = 2000
[[server.listen]]
socket = "unix:$T/milter.sock"
role = "verify"
[authres]
authserv_id = "mx.$D"
[log]
level = "warn"
EOF
# opens N connections, negotiates on each, prints the milter's RSS before and after (KiB)
cat > "$T/idle.py" <<'EOF'
import socket, struct, sys, time
path, n, pid = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def rss():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
def recv_exact(s, k):
    out = b""
    while len(out) < k:
        b = s.recv(k - len(out))
        if not b:
            raise SystemExit("milter closed the connection")
        out += b
    return out
time.sleep(0.5)
before = rss()
socks = []
offer = struct.pack(">IBIII", 13, ord("O"), 6, 0x1FF, 0x1FFFFF)
for _ in range(n):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(path)
    s.sendall(offer)
    (length,) = struct.unpack(">I", recv_exact(s, 4))
    recv_exact(s, length)
    socks.append(s)
time.sleep(1)
after = rss()
print(f"{before} {after}")
EOF

start_milter() {
  rm -f "$T/milter.sock"
  "$1" serve -c "$T/milter.toml" --zone "$T/zone" 2> "$T/milter.log" &
  PID=$!
  for _ in $(seq 100); do [ -S "$T/milter.sock" ] && break; sleep 0.1; done
  [ -S "$T/milter.sock" ] || { cat "$T/milter.log"; exit 1; }
}
hwm() { awk '/^VmHWM/ {print $2}' "/proc/$PID/status"; }
bench() {
  "$AM" bench --target "unix:$T/milter.sock" --client-ip 192.0.2.10 --helo "mail.$D" \
    --pid "$PID" "$@"
}

# 500 connections x 1 MB: prints the milter's peak RSS in MiB and the messages answered
measure_big() {
  trap bench_stop_milter EXIT # each runs in a $(...) subshell
  start_milter "$1"
  bench --corpus "$T/big" --concurrency 500 --per-connection 1 --count 500 \
    --duration 300 --timeout 120 > "$T/big.txt" || true
  printf '%s %s/500' "$(awk -v k="$(hwm)" 'BEGIN {printf "%.1f", k / 1024}')" \
    "$(sed -n 's/^messages *\([0-9]*\) answered.*/\1/p' "$T/big.txt")"
  bench_stop_milter
}
# 1,000 idle connections: prints KiB per connection (RSS before -> after)
measure_idle() {
  trap bench_stop_milter EXIT # each runs in a $(...) subshell
  start_milter "$1"
  read -r before after < <(python3 "$T/idle.py" "$T/milter.sock" 1000 "$PID")
  awk -v a="$after" -v b="$before" \
    'BEGIN {printf "%.1f (%.1f->%.1f MiB)", (a - b) / 1000, b / 1024, a / 1024}'
  bench_stop_milter
}
# verify CPU: prints the milter's µs per message
measure_cpu() {
  trap bench_stop_milter EXIT # each runs in a $(...) subshell
  start_milter "$1"
  bench --corpus "$T/corpus" --concurrency 8 --count 10000 --duration 120 > "$T/cpu.txt" || true
  sed -n 's/.*milter \([0-9.]*\) µs\/msg.*/\1/p' "$T/cpu.txt"
  bench_stop_milter
}

printf '%-5s %-36s %-22s %-26s %s\n' round binary "500x1MB peak MiB" "idle KiB/conn" \
  "verify µs/msg"
for round in $(seq "$ROUNDS"); do
  for bin in "$@"; do
    big=- idle=-
    if [ -z "${CPU_ONLY:-}" ]; then
      big=$(measure_big "$bin")
      idle=$(measure_idle "$bin")
    fi
    cpu=$(measure_cpu "$bin")
    printf '%-5s %-36s %-22s %-26s %s\n' "$round" "$bin" "$big" "$idle" "$cpu"
  done
done
