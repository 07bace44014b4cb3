# Sourced by benches/load-bench.sh, benches/memory-bench.sh, benches/cpu-bench.sh,
# benches/reports-load.sh, benches/compare.sh and benches/callgrind.sh (not run on its own):
#   bench_keys_and_zone AM DIR DOMAIN
# generates an RSA-2048 (selector `rsa`) and an Ed25519 (selector `ed`) key for DOMAIN into
# DIR/keys with `AM dkim genkey`, and writes DIR/zone for `serve --zone`: SPF for the domain
# and for mail.DOMAIN (192.0.2.10, with its PTR), DMARC p=reject and both DKIM key records.
bench_keys_and_zone() {
  local am=$1 dir=$2 d=$3
  mkdir -p "$dir/keys"
  "$am" dkim genkey --domain "$d" --selector rsa --algorithm rsa --out "$dir/keys" > "$dir/rsa.txt"
  "$am" dkim genkey --domain "$d" --selector ed --algorithm ed25519 --out "$dir/keys" > "$dir/ed.txt"
  local rsa_p ed_p
  rsa_p=$(sed -n 's/.*Value: *//p' "$dir/rsa.txt" | head -1)
  ed_p=$(sed -n 's/.*Value: *//p' "$dir/ed.txt" | head -1)
  cat > "$dir/zone" <<ZONE
$d.                   TXT "v=spf1 ip4:192.0.2.0/24 -all"
mail.$d.              A   192.0.2.10
mail.$d.              TXT "v=spf1 a -all"
_dmarc.$d.            TXT "v=DMARC1; p=reject"
rsa._domainkey.$d.    TXT "$rsa_p"
ed._domainkey.$d.     TXT "$ed_p"
10.2.0.192.in-addr.arpa. PTR mail.$d.
ZONE
}

#   bench_signed_corpus AM DIR DOMAIN
# writes DIR/corpus: 200 benches/make-corpus.py messages from DOMAIN (2-100 KB, mean 27 KB),
# three in four signed RSA-2048 and one in four Ed25519 with the keys of bench_keys_and_zone.
bench_signed_corpus() {
  local am=$1 dir=$2 d=$3 i=0 sel f
  python3 benches/make-corpus.py "$dir/raw" --count 200 --domain "$d" > /dev/null
  mkdir -p "$dir/corpus"
  for f in "$dir"/raw/*.eml; do
    sel=rsa
    [ $((i % 4)) -eq 3 ] && sel=ed
    "$am" dkim sign --domain "$d" --selector "$sel" --key "$dir/keys/$d.$sel.pem" "$f" \
      > "$dir/corpus/$(basename "$f")"
    i=$((i + 1))
  done
}

#   bench_stop_milter
# stops the milter whose PID is in $PID, if any, waits for it and clears PID (the scripts call
# it on exit and between measurements; it never touches a process they did not start).
bench_stop_milter() {
  if [ -n "${PID:-}" ]; then
    kill "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
    PID=
  fi
}

#   bench_nsd DIR DOMAIN
# serves bench_keys_and_zone's records (from DIR/rsa.txt and DIR/ed.txt) for DOMAIN and its
# PTR from NSD on 127.0.0.1:53, for the scripts that run in a private network namespace
# (`unshare --net --mount`, with /etc/resolv.conf bound to 127.0.0.1): the zones and the
# configuration go to DIR/nsd, the PID is added to the caller's PIDS array (stopped by it), and
# it returns once NSD answers (at most 5 s).
bench_nsd() {
  local dir=$1 d=$2 rsa_p ed_p
  rsa_p=$(sed -n 's/.*Value: *//p' "$dir/rsa.txt" | head -1)
  ed_p=$(sed -n 's/.*Value: *//p' "$dir/ed.txt" | head -1)
  mkdir -p "$dir/nsd"
  cat > "$dir/nsd/$d.zone" <<ZONE
\$ORIGIN $d.
\$TTL 300
@ IN SOA ns.$d. hostmaster.$d. 1 3600 900 604800 60
@ IN NS ns.$d.
ns IN A 127.0.0.1
@ IN TXT "v=spf1 ip4:192.0.2.0/24 -all"
mail IN A 192.0.2.10
mail IN TXT "v=spf1 a -all"
_dmarc IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc@$d"
rsa._domainkey IN TXT ( $(bench_txt_strings "$rsa_p") )
ed._domainkey IN TXT ( $(bench_txt_strings "$ed_p") )
ZONE
  cat > "$dir/nsd/rev.zone" <<ZONE
\$ORIGIN 2.0.192.in-addr.arpa.
\$TTL 300
@ IN SOA ns.$d. hostmaster.$d. 1 3600 900 604800 60
@ IN NS ns.$d.
10 IN PTR mail.$d.
ZONE
  cat > "$dir/nsd/nsd.conf" <<CONF
server:
  ip-address: 127.0.0.1
  port: 53
  username: ""
  chroot: ""
  zonesdir: "$dir/nsd"
  pidfile: "$dir/nsd/nsd.pid"
  database: ""
  xfrdfile: "$dir/nsd/xfrd.state"
  zonelistfile: "$dir/nsd/zone.list"
  logfile: "$dir/nsd/nsd.log"
  server-count: 1
  do-ip6: no
remote-control:
  control-enable: no
zone:
  name: $d
  zonefile: $d.zone
zone:
  name: 2.0.192.in-addr.arpa
  zonefile: rev.zone
CONF
  /usr/sbin/nsd -d -c "$dir/nsd/nsd.conf" 2> "$dir/nsd/stderr" &
  PIDS+=($!)
  local _
  for _ in $(seq 50); do
    python3 - "$d" <<'PY' && return 0
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.2)
q = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" + b"".join(bytes([len(l)]) + l.encode() for l in sys.argv[1].split(".")) + b"\x00\x00\x06\x00\x01"
try:
    s.sendto(q, ("127.0.0.1", 53)); s.recv(512)
except OSError:
    sys.exit(1)
PY
    sleep 0.1
  done
  echo "bench_nsd: NSD does not answer (see $dir/nsd/stderr)" >&2
  return 1
}

#   bench_txt_strings VALUE
# a long TXT value as quoted strings of at most 255 bytes (RFC 1035 §3.3.14), for zone files.
bench_txt_strings() {
  python3 -c 'import sys; v=sys.argv[1]; print(" ".join("\""+v[i:i+255]+"\"" for i in range(0,len(v),255)))' "$1"
}
