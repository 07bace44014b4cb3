#!/usr/bin/env bash
# Fails when a test script or test source controls services it did not start: the tests may
# run on a real mail server, so they never stop, restart or reload a system service
# (service/systemctl/invoke-rc.d), and never kill processes by name (pkill/killall). They stop
# what they started by its PID. Run by tests/run.sh before anything else.
set -euo pipefail
cd "$(dirname "$0")/.."

# Where test code lives: scripts and sources under tests/, the crates' tests and test
# support, benchmarks, fuzz seeds, CI.
paths=(tests crates/*/tests crates/testkit crates/dns/src/testing.rs benches fuzz .ci)
pattern='\b(pkill|killall|invoke-rc\.d)\b|\bsystemctl\b[^#]*\b(stop|restart|reload|kill|try-restart|isolate|disable|mask)\b|\bservice\b[^#]*\b(stop|restart|reload|force-reload)\b'

hits=$(grep -rnIE "$pattern" "${paths[@]}" 2>/dev/null \
  | grep -v '^tests/data/' \
  | grep -v '^tests/check-test-hygiene.sh:' \
  | grep -vE ':[0-9]+:\s*(#|//)' || true)
if [ -n "$hits" ]; then
  echo "check-test-hygiene: test code must not stop or restart services, nor kill by name:" >&2
  echo "$hits" >&2
  echo "(start your own instance on a free loopback port and stop it by PID)" >&2
  exit 1
fi
echo "check-test-hygiene: no service control in test code"
