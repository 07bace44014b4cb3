#!/usr/bin/env bash
# Installs what the build and the end-to-end tests need, idempotently: a C compiler and cmake
# (aws-lc-sys builds AWS-LC, the default crypto backend), OpenSSL, real Postfix, an authoritative
# nameserver (NSD), OpenDKIM (an interop oracle), postsrsd (SRS compatibility), dkimpy (with pip),
# xmllint (libxml2-utils: DMARC aggregate reports validated against the RFC schemas),
# PostgreSQL (the report store shared by several MX nodes; tests run throwaway clusters, the
# package's own cluster is never started or touched), and Chromium (the dashboard tests drive
# it headless; it is a program the tests start and stop, no service).
#
# Safe on a machine that runs real mail: it never stops, restarts or reconfigures a service.
# - Packages already installed are left alone (nothing is installed, nothing is touched).
# - Missing packages are installed with a policy-rc.d that forbids starting any daemon, so
#   the packages' own services stay down; the tests start their own instances on loopback
#   ports they choose, and stop them by PID.
# - If installing would REMOVE a package (for example another MTA that conflicts with
#   postfix), nothing is installed and the script fails: install the packages yourself, or
#   run the tests on another machine.
set -euo pipefail

# python3 (the tests and tests/package.sh run it) and python3-pip (installs the Python packages
# below): a fresh Debian 12 has neither (priority optional)
APT_PACKAGES=(gcc cmake openssl postfix nsd opendkim postsrsd libxml2-utils postgresql chromium python3 python3-pip)
# authres: dkimpy's ARC sealer (dkim.arc_sign) builds the ARC-Authentication-Results with it
PIP_PACKAGES=(dkimpy pynacl dnspython authres)

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
  echo "postfix postfix/main_mailer_type select No configuration" | sudo_if_needed debconf-set-selections
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update -qq
  # Refuse anything that would remove a package (a conflicting MTA, say).
  removals=$(sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -s -y -qq \
    "${missing[@]}" 2>/dev/null | awk '/^Remv /{print $2}' || true)
  if [ -n "$removals" ]; then
    echo "install-deps: installing ${missing[*]} would remove: $removals" >&2
    echo "install-deps: refusing to change this machine; install the test packages by hand" >&2
    exit 1
  fi
  # Keep package scripts from starting daemons (postfix, nsd, opendkim, postsrsd): exit 101
  # is "action forbidden" for invoke-rc.d and deb-systemd-invoke. An existing policy-rc.d is
  # replaced for the duration of the install and restored afterwards, byte for byte.
  policy=/usr/sbin/policy-rc.d
  saved=""
  if [ -e "$policy" ]; then
    saved=$(mktemp)
    sudo_if_needed cp -p "$policy" "$saved"
  fi
  restore_policy() {
    if [ -n "$saved" ]; then
      sudo_if_needed cp -p "$saved" "$policy"
      rm -f "$saved"
    else
      sudo_if_needed rm -f "$policy"
    fi
  }
  trap restore_policy EXIT
  printf '#!/bin/sh\n# written by authmilter tests/install-deps.sh while installing\nexit 101\n' \
    | sudo_if_needed tee "$policy" >/dev/null
  sudo_if_needed chmod 755 "$policy"
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}"
  restore_policy
  trap - EXIT
fi

# Nothing is stopped here, ever. A system postfix/nsd/opendkim/postsrsd that runs (on this
# machine before we came, or started by a package despite policy-rc.d) is no obstacle: the
# tests bind their own loopback ports, chosen free at run time.

py=python3
if ! "$py" -c 'import dkim, dns, nacl, authres' >/dev/null 2>&1; then
  echo "installing Python packages: ${PIP_PACKAGES[*]}"
  "$py" -m pip install --quiet --disable-pip-version-check "${PIP_PACKAGES[@]}" \
    || "$py" -m pip install --quiet --disable-pip-version-check --break-system-packages "${PIP_PACKAGES[@]}"
fi

# Sendmail for tests/e2e/sendmail.rs, downloaded and unpacked, NOT installed: Debian's
# sendmail-bin conflicts with postfix (both are a mail-transport-agent), so installing it would
# remove Postfix. `apt-get download` fetches the .debs (no dpkg database change, no maintainer
# script, nothing under /etc or /usr), `dpkg -x` unpacks them into a private root that the test
# harness runs from. Libraries sendmail-bin depends on that this machine lacks (usually only
# libwrap0) are unpacked there too; the check below fails loudly if the binary still cannot
# load. Idempotent: a root unpacked from the same version is kept.
SENDMAIL_ROOT=${AUTHMILTER_SENDMAIL_ROOT:-/var/cache/authmilter-test/sendmail/root}
sendmail_version=$(apt-cache policy sendmail-bin 2>/dev/null | awk '/Candidate:/{print $2}')
if [ -z "$sendmail_version" ] || [ "$sendmail_version" = "(none)" ]; then
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update -qq
  sendmail_version=$(apt-cache policy sendmail-bin 2>/dev/null | awk '/Candidate:/{print $2}')
fi
stamp="$SENDMAIL_ROOT/.unpacked-sendmail-bin"
if [ "$(cat "$stamp" 2>/dev/null)" != "$sendmail_version" ]; then
  echo "unpacking sendmail $sendmail_version into $SENDMAIL_ROOT (not installed)"
  sendmail_debs=(sendmail-bin sendmail-base sendmail-cf m4)
  # the libraries among sendmail-bin's dependencies that are not installed here
  for dep in $(apt-cache depends sendmail-bin 2>/dev/null | awk '$1=="Depends:" && $2 ~ /^lib/ {print $2}'); do
    if ! dpkg-query -W -f='${Status}' "$dep" 2>/dev/null | grep -q "install ok installed"; then
      sendmail_debs+=("$dep")
    fi
  done
  download=$(mktemp -d)
  # bounded: a stuck mirror fails the script instead of hanging it
  (cd "$download" && timeout 600 apt-get -q -o DPkg::Lock::Timeout=300 \
    -o APT::Sandbox::User=root download "${sendmail_debs[@]}")
  sudo_if_needed rm -rf "$SENDMAIL_ROOT"
  sudo_if_needed mkdir -p "$SENDMAIL_ROOT"
  for deb in "$download"/*.deb; do
    sudo_if_needed dpkg -x "$deb" "$SENDMAIL_ROOT"
  done
  rm -rf "$download"
  # The package's binary is set-group-id mail; the loader would then ignore LD_LIBRARY_PATH
  # (the unpacked libwrap). The tests run it as root, which needs no set-gid bit.
  sudo_if_needed chmod g-s "$SENDMAIL_ROOT/usr/libexec/sendmail/sendmail"
  multiarch=$(gcc -print-multiarch 2>/dev/null || echo "$(uname -m)-linux-gnu")
  unresolved=$(LD_LIBRARY_PATH="$SENDMAIL_ROOT/usr/lib/$multiarch:$SENDMAIL_ROOT/lib/$multiarch" \
    ldd "$SENDMAIL_ROOT/usr/libexec/sendmail/sendmail" | grep 'not found' || true)
  if [ -n "$unresolved" ]; then
    echo "install-deps: the unpacked sendmail cannot load: $unresolved" >&2
    exit 1
  fi
  echo "$sendmail_version" | sudo_if_needed tee "$stamp" >/dev/null
fi
