#!/usr/bin/env bash
# authmilter behind a real Sendmail, on loopback (not in CI: Debian's sendmail and postfix
# packages conflict, so installing Sendmail removes Postfix). See tests/sendmail/README.md.
#
# What it does, as root on a disposable Debian machine:
#   1. notes which packages are installed and backs up /etc/postfix;
#   2. installs sendmail-bin, sendmail-cf and m4 (this removes postfix) without starting any
#      daemon;
#   3. builds the authmilter binary (or uses $AUTHMILTER_BIN), starts NSD with a test zone,
#      authmilter (role "verify", DMARC enforcing, --dns at NSD), and Sendmail in the
#      foreground (-bD) with a generated .mc/.cf: loopback, a free port, its own queue
#      directory, deferred delivery (messages stay queued, no DNS), and
#        INPUT_MAIL_FILTER(`authmilter', `S=inet:PORT@127.0.0.1, F=T, T=C:10s;S:10s;R:30s;E:5m')
#   4. talks SMTP to Sendmail (bash /dev/tcp) and checks the queued messages (qf files):
#      our Authentication-Results is there with the expected results, a forged one claiming our
#      authserv-id is gone while another host's stays, and a DMARC p=reject failure gets our
#      550 text at end of DATA;
#   5. cleans up whatever happens: stops what it started (by PID), purges the packages it
#      installed, reinstalls postfix if it was installed before, restores /etc/postfix if
#      it changed, removes its work directory.
#
# Environment: AUTHMILTER_BIN (skip the cargo build), KEEP_SENDMAIL=1 (leave Sendmail
# installed, do not reinstall Postfix), KEEP_WORK=1 (keep the work directory for a look).
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "run as root (installs packages and starts Sendmail)" >&2
  exit 2
fi

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d /tmp/authmilter-sendmail.XXXXXX)
chmod 755 "$WORK"
AUTHSERV_ID=mx.test.example
PASSED=0
FAILED=0
PIDS=()
CREATED_POLICY=0

say() { echo "[sendmail-test] $*"; }
pass() { PASSED=$((PASSED + 1)); say "PASS: $*"; }
fail() { FAILED=$((FAILED + 1)); say "FAIL: $*"; }

installed_packages() {
  dpkg-query -W -f='${db:Status-Abbrev} ${binary:Package}\n' 2>/dev/null \
    | awk '$1 ~ /^.i/ {print $2}' | sed 's/:.*//' | sort -u
}

is_installed() {
  dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null | grep -q '^.i'
}

# Stops one PID we started: TERM, up to 10 s, then KILL.
stop_pid() {
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  set +e
  say "cleaning up"
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    stop_pid "${PIDS[$i]}"
  done
  if [ "${KEEP_SENDMAIL:-0}" != 1 ] && [ -f "$WORK/packages.before" ]; then
    # Purge exactly what our apt-get install added (its "NEW packages" list), nothing else.
    new=$(sed -n '/^The following NEW packages will be installed:/,/^[^ ]/p' \
      "$WORK/install.log" 2> /dev/null | grep '^ ' | tr -s ' \n' ' ' || true)
    keep=""
    for p in $new; do
      grep -qx "$p" "$WORK/packages.before" || keep+="$p "
    done
    if [ -n "$keep" ]; then
      say "purging the packages this script installed: $keep"
      # shellcheck disable=SC2086
      DEBIAN_FRONTEND=noninteractive timeout 900 apt-get purge -y -q $keep > "$WORK/purge.log" 2>&1 \
        || say "apt-get purge failed, see $WORK/purge.log"
    fi
    if grep -qx postfix "$WORK/packages.before" && ! is_installed postfix; then
      say "reinstalling postfix"
      DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -q \
        -o Dpkg::Options::=--force-confold postfix > "$WORK/reinstall.log" 2>&1 \
        || say "reinstalling postfix failed, see $WORK/reinstall.log"
    fi
    if [ -f "$WORK/etc-postfix.sums" ]; then
      if ! (cd /etc && find postfix -type f -print0 | sort -z | xargs -0 sha256sum) \
        | cmp -s - "$WORK/etc-postfix.sums"; then
        say "/etc/postfix changed; restoring it from the backup"
        rm -rf /etc/postfix && tar -C /etc -xpf "$WORK/etc-postfix.tar"
      fi
    fi
    installed_packages > "$WORK/packages.final"
    if cmp -s "$WORK/packages.before" "$WORK/packages.final"; then
      say "package set is as it was before the test"
    else
      say "package set differs from before the test:"
      diff "$WORK/packages.before" "$WORK/packages.final" | sed 's/^/    /'
    fi
  fi
  if [ "$CREATED_POLICY" = 1 ]; then
    rm -f /usr/sbin/policy-rc.d
  fi
  if [ "${KEEP_WORK:-0}" = 1 ]; then
    say "work directory kept: $WORK"
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT

# A loopback TCP port nothing listens on right now.
free_port() {
  local p
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<> "/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

# Polls a command (at most $1 seconds).
wait_for() {
  local limit=$1 i
  shift
  for i in $(seq 1 $((limit * 10))); do
    if "$@" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  return 1
}

# ---------------------------------------------------------------------------------------
# 1. Note the machine's state.
installed_packages > "$WORK/packages.before"
if [ -d /etc/postfix ]; then
  tar -C /etc -cpf "$WORK/etc-postfix.tar" postfix
  (cd /etc && find postfix -type f -print0 | sort -z | xargs -0 sha256sum) > "$WORK/etc-postfix.sums"
fi

# 2. Install Sendmail without starting it.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  CREATED_POLICY=1
fi
say "installing sendmail-bin sendmail-cf m4 (removes postfix)"
DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -q --no-install-recommends \
  sendmail-bin sendmail-cf m4 > "$WORK/install.log" 2>&1 || {
  tail -30 "$WORK/install.log"
  fail "apt-get install sendmail-bin sendmail-cf m4"
  exit 1
}
# Debian's package may have started a daemon of its own despite policy-rc.d; ours uses other
# ports, so it does not matter, but say so.
if pgrep -x sendmail-mta > /dev/null 2>&1 || pgrep -f '^sendmail: MTA' > /dev/null 2>&1; then
  say "note: a system sendmail is running (not ours; left alone)"
fi
SENDMAIL=$(command -v sendmail-mta || command -v sendmail || echo /usr/sbin/sendmail-mta)
VERSION=$(timeout 10 "$SENDMAIL" -d0.1 -bt < /dev/null 2> /dev/null | sed -n 's/^Version //p' | head -1 || true)
say "sendmail: $SENDMAIL (version ${VERSION:-unknown})"

# 3. Build and start NSD, authmilter and Sendmail.
if [ -z "${AUTHMILTER_BIN:-}" ]; then
  say "building authmilter"
  (cd "$ROOT" && cargo build --quiet --bin authmilter)
  AUTHMILTER_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/authmilter"
fi
[ -x "$AUTHMILTER_BIN" ] || { fail "no authmilter binary at $AUTHMILTER_BIN"; exit 1; }

NSD=$(command -v nsd || echo /usr/sbin/nsd)
[ -x "$NSD" ] || { fail "nsd is not installed (apt-get install nsd)"; exit 1; }
DNS_PORT=$(free_port)
mkdir -p "$WORK/nsd"
cat > "$WORK/nsd/example.zone" << 'EOF'
$ORIGIN example.
$TTL 300
@               IN SOA ns.example. hostmaster.example. 1 3600 900 604800 60
@               IN NS  ns.example.
ns              IN A   127.0.0.1
client          IN A   127.0.0.1
client          IN TXT "v=spf1 ip4:127.0.0.1 -all"
pass            IN TXT "v=spf1 ip4:127.0.0.1 -all"
_dmarc.pass     IN TXT "v=DMARC1; p=reject"
strict          IN TXT "v=spf1 -all"
_dmarc.strict   IN TXT "v=DMARC1; p=reject"
EOF
cat > "$WORK/nsd/nsd.conf" << EOF
server:
  ip-address: 127.0.0.1@$DNS_PORT
  port: $DNS_PORT
  username: ""
  chroot: ""
  zonesdir: "$WORK/nsd"
  pidfile: "$WORK/nsd/nsd.pid"
  database: ""
  xfrdfile: "$WORK/nsd/xfrd.state"
  zonelistfile: "$WORK/nsd/zone.list"
  logfile: "$WORK/nsd/nsd.log"
  server-count: 1
  do-ip6: no
remote-control:
  control-enable: no
zone:
  name: example
  zonefile: example.zone
EOF
"$NSD" -d -c "$WORK/nsd/nsd.conf" > /dev/null 2>&1 &
PIDS+=($!)
dns_ready() {
  "$AUTHMILTER_BIN" spf --ip 127.0.0.1 --mail-from x@pass.example --dns "127.0.0.1:$DNS_PORT" \
    2>/dev/null | grep -q pass
}
wait_for 15 dns_ready || { fail "NSD does not answer"; cat "$WORK/nsd/nsd.log"; exit 1; }
say "NSD on 127.0.0.1:$DNS_PORT"

MILTER_PORT=$(free_port)
cat > "$WORK/milter.toml" << EOF
[server]
shutdown_timeout = "2s"

[[server.listen]]
# Sendmail's own socket syntax
socket = "inet:$MILTER_PORT@127.0.0.1"
role = "verify"

[log]
level = "info,authmilter=debug"

[dns]
timeout = "2s"

[authres]
authserv_id = "$AUTHSERV_ID"

[dmarc]
enforce = true
EOF
"$AUTHMILTER_BIN" serve -c "$WORK/milter.toml" --dns "127.0.0.1:$DNS_PORT" \
  > "$WORK/milter.log" 2>&1 &
PIDS+=($!)
wait_for 20 bash -c "exec 3<> /dev/tcp/127.0.0.1/$MILTER_PORT" \
  || { fail "authmilter does not listen"; cat "$WORK/milter.log"; exit 1; }
say "authmilter on inet:$MILTER_PORT@127.0.0.1"

SMTP_PORT=$(free_port)
mkdir -p "$WORK/mqueue"
chmod 700 "$WORK/mqueue"
cat > "$WORK/test.mc" << EOF
divert(-1)dnl
# authmilter end-to-end test: loopback only, deferred delivery (everything stays queued)
divert(0)dnl
include(\`/usr/share/sendmail/cf/m4/cf.m4')dnl
VERSIONID(\`authmilter end-to-end test')dnl
OSTYPE(\`linux')dnl
define(\`confDOMAIN_NAME', \`$AUTHSERV_ID')dnl
define(\`confDONT_PROBE_INTERFACES', \`True')dnl
define(\`QUEUE_DIR', \`$WORK/mqueue')dnl
define(\`confPID_FILE', \`$WORK/sendmail.pid')dnl
define(\`STATUS_FILE', \`$WORK/sendmail.st')dnl
undefine(\`ALIAS_FILE')dnl
define(\`confDELIVERY_MODE', \`deferred')dnl
define(\`confTO_IDENT', \`0s')dnl
define(\`confLOG_LEVEL', \`9')dnl
define(\`confMILTER_LOG_LEVEL', \`14')dnl
FEATURE(\`nocanonify')dnl
FEATURE(\`accept_unresolvable_domains')dnl
FEATURE(\`no_default_msa')dnl
DAEMON_OPTIONS(\`Family=inet, Name=MTA-test, Port=$SMTP_PORT, Addr=127.0.0.1')dnl
INPUT_MAIL_FILTER(\`authmilter', \`S=inet:$MILTER_PORT@127.0.0.1, F=T, T=C:10s;S:10s;R:30s;E:5m')dnl
MAILER(\`local')dnl
MAILER(\`smtp')dnl
EOF
m4 "$WORK/test.mc" > "$WORK/sendmail.cf" 2> "$WORK/m4.log" || {
  cat "$WORK/m4.log"
  fail "m4 could not build sendmail.cf"
  exit 1
}
grep -q "^Xauthmilter, S=inet:$MILTER_PORT@127.0.0.1, F=T" "$WORK/sendmail.cf" \
  && pass "the .cf has our INPUT_MAIL_FILTER (X line)" \
  || fail "no Xauthmilter line in sendmail.cf"
"$SENDMAIL" -bD -C "$WORK/sendmail.cf" > "$WORK/sendmail.out" 2>&1 &
PIDS+=($!)
greets() {
  local line
  exec 3<> "/dev/tcp/127.0.0.1/$SMTP_PORT" || return 1
  IFS= read -r -t 5 line <&3 || { exec 3>&-; return 1; }
  printf 'QUIT\r\n' >&3
  exec 3>&-
  [[ $line == 220* ]]
}
wait_for 60 greets || {
  fail "Sendmail does not greet on 127.0.0.1:$SMTP_PORT"
  cat "$WORK/sendmail.out"
  exit 1
}
say "Sendmail on 127.0.0.1:$SMTP_PORT (pid ${PIDS[-1]})"

# ---------------------------------------------------------------------------------------
# 4. SMTP over bash's /dev/tcp.
REPLY_CODE=""
REPLY_TEXT=""
smtp_read() {
  local line
  REPLY_TEXT=""
  while IFS= read -r -t 60 line <&3; do
    line=${line%$'\r'}
    REPLY_TEXT+="$line"$'\n'
    REPLY_CODE=${line:0:3}
    [ "${line:3:1}" = "-" ] || return 0
  done
  REPLY_CODE=000
  return 1
}
smtp_cmd() {
  printf '%s\r\n' "$1" >&3
  smtp_read
}
# send FROM RCPT MESSAGE_FILE -> sets END_CODE/END_TEXT (reply after the final dot)
send_message() {
  local from=$1 rcpt=$2 file=$3
  END_CODE=""
  END_TEXT=""
  exec 3<> "/dev/tcp/127.0.0.1/$SMTP_PORT"
  smtp_read || true
  smtp_cmd "EHLO client.example" || true
  smtp_cmd "MAIL FROM:<$from>" || true
  [ "$REPLY_CODE" = 250 ] || { END_CODE=$REPLY_CODE; END_TEXT=$REPLY_TEXT; exec 3>&-; return; }
  smtp_cmd "RCPT TO:<$rcpt>" || true
  [ "$REPLY_CODE" = 250 ] || { END_CODE=$REPLY_CODE; END_TEXT=$REPLY_TEXT; exec 3>&-; return; }
  smtp_cmd "DATA" || true
  [ "$REPLY_CODE" = 354 ] || { END_CODE=$REPLY_CODE; END_TEXT=$REPLY_TEXT; exec 3>&-; return; }
  # dot-stuff, CRLF line ends, final dot
  sed -e 's/^\./../' -e 's/$/\r/' "$file" >&3
  printf '.\r\n' >&3
  smtp_read || true
  END_CODE=$REPLY_CODE
  END_TEXT=$REPLY_TEXT
  smtp_cmd "QUIT" || true
  exec 3>&-
}
compose() { # from to subject message-id [extra header lines...]
  local from=$1 to=$2 subject=$3 id=$4
  shift 4
  local h
  for h in "$@"; do printf '%s\n' "$h"; done
  printf 'From: %s\nTo: %s\nSubject: %s\nDate: Sun, 22 Nov 2026 12:00:00 +0000\n' \
    "$from" "$to" "$subject"
  printf 'Message-ID: %s\nMIME-Version: 1.0\nContent-Type: text/plain\n\nHello via Sendmail.\n' "$id"
}
# The queued headers (qf H lines, in order) of the message with this Message-ID. Templates
# that only a delivering mailer with the P flag expands (Return-Path: <$g>) are left out.
queued_headers() {
  local qf
  qf=$(grep -l -F "$1" "$WORK"/mqueue/qf* 2>/dev/null | head -1)
  [ -n "$qf" ] || return 1
  # H lines, with continuation lines joined; "H??" flags stripped
  awk '/^H/ {if (h) print h; h=$0; next} /^[ \t]/ && h {sub(/^[ \t]+/, " "); h=h $0; next}
       {if (h) print h; h=""} END {if (h) print h}' "$qf" | grep -v '^H?P?' | sed -E 's/^H(\?[^?]*\?)?//'
}

# 4a. A passing message is queued with our header.
ID="<pass.$$@client.example>"
compose "alice@pass.example" "bob@remote.example" "pass" "$ID" > "$WORK/m1.eml"
send_message alice@pass.example bob@remote.example "$WORK/m1.eml"
if [ "$END_CODE" = 250 ]; then
  pass "Sendmail accepted the passing message: ${END_TEXT%$'\n'}"
  if wait_for 10 queued_headers "$ID" > /dev/null; then
    queued_headers "$ID" > "$WORK/m1.headers"
    say "queued headers (top first):"
    sed 's/^/    /' "$WORK/m1.headers"
    AR=$(grep -i "^Authentication-Results: $AUTHSERV_ID;" "$WORK/m1.headers" || true)
    if [ -n "$AR" ] && grep -q "spf=pass" <<< "$AR" && grep -q "dmarc=pass" <<< "$AR"; then
      pass "queued message carries our Authentication-Results with spf=pass and dmarc=pass"
    else
      fail "our Authentication-Results is missing or wrong: $AR"
    fi
    FIRST=$(head -1 "$WORK/m1.headers")
    case "$FIRST" in
      "Authentication-Results: $AUTHSERV_ID;"*) pass "our header is the first header" ;;
      *) say "note: the first queued header is not ours: ${FIRST:0:80}" ;;
    esac
  else
    fail "no queue file for $ID"
    ls -la "$WORK/mqueue"
  fi
else
  fail "the passing message was refused: $END_CODE $END_TEXT"
fi

# 4b. A forged Authentication-Results claiming our authserv-id is removed, another stays.
ID="<forged.$$@client.example>"
compose "alice@pass.example" "bob@remote.example" "forged" "$ID" \
  "Authentication-Results: other.example; spf=pass smtp.mailfrom=pass.example" \
  "Authentication-Results: $AUTHSERV_ID; dkim=pass header.d=pass.example" > "$WORK/m2.eml"
send_message alice@pass.example bob@remote.example "$WORK/m2.eml"
if [ "$END_CODE" = 250 ] && wait_for 10 queued_headers "$ID" > /dev/null; then
  queued_headers "$ID" > "$WORK/m2.headers"
  ours=$(grep -ci "^Authentication-Results: $AUTHSERV_ID;" "$WORK/m2.headers" || true)
  other=$(grep -c "^Authentication-Results: other.example; spf=pass" "$WORK/m2.headers" || true)
  forged=$(grep -c "dkim=pass header.d=pass.example" "$WORK/m2.headers" || true)
  if [ "$ours" = 1 ] && [ "$other" = 1 ] && [ "$forged" = 0 ]; then
    pass "forged header removed, other host's header kept"
  else
    fail "forged-header handling: ours=$ours other=$other forged=$forged"
    sed 's/^/    /' "$WORK/m2.headers"
  fi
else
  fail "the message with a forged header was not queued: $END_CODE $END_TEXT"
fi

# 4c. DMARC p=reject failure: our 550 text at end of DATA, nothing queued.
ID="<reject.$$@client.example>"
compose "ceo@strict.example" "bob@remote.example" "reject" "$ID" > "$WORK/m3.eml"
send_message bounce@strict.example bob@remote.example "$WORK/m3.eml"
if [ "$END_CODE" = 550 ] && grep -q "strict.example" <<< "$END_TEXT"; then
  pass "DMARC reject reached the client: ${END_TEXT%$'\n'}"
else
  fail "expected our 550 naming strict.example, got: $END_CODE $END_TEXT"
fi
if grep -l -F "$ID" "$WORK"/mqueue/qf* > /dev/null 2>&1; then
  fail "the rejected message was queued"
else
  pass "the rejected message was not queued"
fi

say "authmilter log (message lines):"
sed 's/\x1b\[[0-9;]*m//g' "$WORK/milter.log" | grep -E " INFO message | WARN | ERROR " \
  | sed 's/^/    /' | tail -20 || true
echo "sendmail: $PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
