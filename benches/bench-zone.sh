# Sourced by benches/load-bench.sh, benches/memory-bench.sh, benches/cpu-bench.sh and
# benches/reports-load.sh (not run on its own):
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
