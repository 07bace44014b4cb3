# Sourced by benches/load-bench.sh and benches/memory-bench.sh (not run on its own):
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
