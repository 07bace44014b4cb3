#!/usr/bin/env bash
# Builds the Debian package and, only where that is safe, installs it on this machine, checks
# it and purges it again. Run by tests/run.sh; needs root for the install part.
#
#   1. `cargo install --path .` works (into target/cargo-install, reusing the build);
#   2. `cargo deb` builds target/debian/authmilter_*.deb with the binary, the units, the
#      conffile /etc/authmilter/milter.toml, man pages and completions;
#   3. installs it with `dpkg -i` under a policy-rc.d that forbids starting daemons, checks
#      `authmilter --version`, the authmilter user, the files, `config check` of the shipped
#      configuration and `systemd-analyze verify` of the units (if systemd-analyze exists),
#      then `dpkg --purge`s it.
# Step 3 is skipped, with a message, when an authmilter is already here: /etc/authmilter
# exists, a package named authmilter is installed, or a unit named authmilter is active.
# Nothing that was here before is stopped, overwritten or removed.
#
# PROFILE=release (the default) packages an optimised build, as for a release; tests/run.sh
# sets PROFILE=dev to package the debug build it already has (the package's layout, scripts
# and units are what is tested here, not the optimiser; a release build would double CI time).
set -euo pipefail
cd "$(dirname "$0")/.."
say() { echo "[package] $*"; }
profile="${PROFILE:-release}"
case "$profile" in
  release) profile_dir=release; install_flags=() ;;
  dev) profile_dir=debug; install_flags=(--debug) ;;
  *) echo "PROFILE must be release or dev" >&2; exit 2 ;;
esac

if ! command -v cargo-deb >/dev/null 2>&1; then
  say "installing cargo-deb"
  cargo install cargo-deb --locked --quiet
fi

say "building the $profile binary"
cargo build --profile "$profile" --locked --quiet
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
say "cargo install --path . (into target/cargo-install)"
cargo install --path . "${install_flags[@]}" --locked --quiet --force --root "$target_dir/cargo-install" --target-dir "$target_dir"
"$target_dir/cargo-install/bin/authmilter" --version

# cargo-deb reads the assets from ./target/assets (Cargo.toml), wherever CARGO_TARGET_DIR points
rm -rf target/assets
"$target_dir/$profile_dir/authmilter" generate-assets target/assets
rm -rf "$target_dir/debian"
if [ "$profile" = release ]; then
  cargo deb --no-build --strip --output "$target_dir/debian/" >/dev/null
else
  # cargo-deb packages target/release/authmilter: stage the debug binary as that in a
  # directory of its own (a real release build, if there is one, is left alone)
  staged="$target_dir/package-dev"
  rm -rf "$staged" && mkdir -p "$staged/release"
  cp "$target_dir/debug/authmilter" "$staged/release/authmilter"
  CARGO_TARGET_DIR="$staged" cargo deb --no-build --strip --output "$target_dir/debian/" >/dev/null
fi
deb=$(ls "$target_dir"/debian/authmilter_*.deb)
say "built $deb"

contents=$(dpkg-deb --contents "$deb")
for f in ./usr/bin/authmilter ./etc/authmilter/milter.toml ./usr/lib/systemd/system/authmilter.service \
  ./usr/lib/systemd/system/authmilter.socket ./usr/share/man/man1/authmilter.1.gz \
  ./usr/share/man/man1/authmilter-dkim-rotate.1.gz \
  ./usr/share/bash-completion/completions/authmilter ./usr/share/zsh/vendor-completions/_authmilter \
  ./usr/share/fish/vendor_completions.d/authmilter.fish ./usr/share/doc/authmilter/migrating.md; do
  if ! grep -q " $f\$" <<<"$contents" && ! grep -q " $f " <<<"$contents"; then
    say "FAIL: $f is not in the package"; echo "$contents"; exit 1
  fi
done
dpkg-deb --info "$deb" conffiles | grep -q '/etc/authmilter/milter.toml' \
  || { say "FAIL: /etc/authmilter/milter.toml is not a conffile"; exit 1; }
say "package contents ok"

if [ "$(id -u)" -ne 0 ]; then
  say "skipping the install test: not root"; exit 0
fi
if [ -e /etc/authmilter ] || dpkg-query -W -f='${Status}' authmilter 2>/dev/null | grep -q installed \
  || systemctl is-active --quiet authmilter 2>/dev/null; then
  say "skipping the install test: an authmilter is already installed or running here (left alone)"
  exit 0
fi

# dpkg, waiting (bounded: 5 minutes) while another package tool holds its lock
dpkg_waiting() {
  local out
  for _ in $(seq 60); do
    if out=$(dpkg "$@" 2>&1); then return 0; fi
    if ! grep -q 'lock' <<<"$out"; then echo "$out" >&2; return 1; fi
    say "dpkg is locked by another package tool; waiting"
    sleep 5
  done
  echo "$out" >&2
  return 1
}

policy=/usr/sbin/policy-rc.d
saved=""
if [ -e "$policy" ]; then saved=$(mktemp); cp -p "$policy" "$saved"; fi
cleanup() {
  dpkg_waiting --purge authmilter >/dev/null 2>&1 || true
  if [ -n "$saved" ]; then cp -p "$saved" "$policy"; rm -f "$saved"; else rm -f "$policy"; fi
}
trap cleanup EXIT
printf '#!/bin/sh\n# written by authmilter tests/package.sh while installing\nexit 101\n' > "$policy"
chmod 755 "$policy"

say "dpkg -i"
dpkg_waiting -i "$deb" >/dev/null
version=$(authmilter --version)
[ "$version" = "authmilter $(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)" ] \
  || { say "FAIL: authmilter --version says $version"; exit 1; }
getent passwd authmilter >/dev/null || { say "FAIL: no authmilter user"; exit 1; }
[ "$(stat -c %U:%a /etc/authmilter/keys)" = "authmilter:700" ] || { say "FAIL: /etc/authmilter/keys"; exit 1; }
[ "$(stat -c %U:%a /var/lib/authmilter)" = "authmilter:750" ] || { say "FAIL: /var/lib/authmilter"; exit 1; }
authmilter config check -c /etc/authmilter/milter.toml >/dev/null
if systemctl is-active --quiet authmilter 2>/dev/null; then
  say "FAIL: the package started the service"; exit 1
fi
if command -v systemd-analyze >/dev/null 2>&1; then
  man_opt=--man=no
  command -v man >/dev/null 2>&1 && man_opt=--man=yes
  out=$(systemd-analyze verify "$man_opt" /usr/lib/systemd/system/authmilter.service /usr/lib/systemd/system/authmilter.socket 2>&1)
  if [ -n "$out" ]; then say "FAIL: systemd-analyze verify:"; echo "$out"; exit 1; fi
  say "systemd-analyze verify ok ($man_opt)"
else
  say "systemd-analyze not installed: units not verified"
fi
say "dpkg --purge"
dpkg_waiting --purge authmilter >/dev/null
for gone in /usr/bin/authmilter /etc/authmilter /var/lib/authmilter; do
  [ ! -e "$gone" ] || { say "FAIL: $gone is still there after purge"; exit 1; }
done
say "ok: built, installed ($version), verified, purged"
