#!/usr/bin/env bash
# Installs what the end-to-end tests need, idempotently: real Postfix, an authoritative
# nameserver (NSD), OpenDKIM (an interop oracle), postsrsd (SRS compatibility), dkimpy, and
# xmllint (libxml2-utils: DMARC aggregate reports validated against the RFC schemas), and
# PostgreSQL (the report store shared by several MX nodes; tests run throwaway clusters).
# Daemons are kept from starting at install time; the tests start their own instances.
set -euo pipefail

APT_PACKAGES=(postfix nsd opendkim postsrsd libxml2-utils postgresql)
PIP_PACKAGES=(dkimpy pynacl dnspython)

sudo_if_needed() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
for p in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}"
  # keep package scripts from starting daemons (postfix, nsd, opendkim, postsrsd, the
  # postgresql package's default cluster) now
  policy=/usr/sbin/policy-rc.d
  had_policy=0
  [ -e "$policy" ] && had_policy=1
  if [ "$had_policy" -eq 0 ]; then
    printf '#!/bin/sh\nexit 101\n' | sudo_if_needed tee "$policy" >/dev/null
    sudo_if_needed chmod 755 "$policy"
  fi
  echo "postfix postfix/main_mailer_type select No configuration" | sudo_if_needed debconf-set-selections
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}"
  if [ "$had_policy" -eq 0 ]; then
    sudo_if_needed rm -f "$policy"
  fi
fi

# stop any daemon the packages managed to start anyway, so test ports are free
for d in postfix nsd opendkim postsrsd; do
  if command -v service >/dev/null 2>&1; then
    sudo_if_needed service "$d" stop >/dev/null 2>&1 || true
  fi
done

py=python3
if ! "$py" -c 'import dkim, dns, nacl' >/dev/null 2>&1; then
  echo "installing Python packages: ${PIP_PACKAGES[*]}"
  "$py" -m pip install --quiet --disable-pip-version-check "${PIP_PACKAGES[@]}" \
    || "$py" -m pip install --quiet --disable-pip-version-check --break-system-packages "${PIP_PACKAGES[@]}"
fi
