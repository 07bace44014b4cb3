#!/usr/bin/env bash
# Runs every fuzz target (or the ones named) for SECONDS each, one after the other:
#
#   fuzz/run.sh SECONDS [TARGET...]
#   RUNS=1000000 fuzz/run.sh SECONDS     # stop a target early once it reached RUNS executions
#
# Each target starts from its committed seeds (fuzz/seeds/<target>/, read only) plus a scratch
# corpus (fuzz/corpus-work/<target>/, git-ignored, kept between runs so later runs go deeper).
# At the end it prints the executions per target. A crash (or leak, timeout, out-of-memory) is
# copied into fuzz/seeds/<target>/ as a regression seed, which the crate's tests/fuzz_seeds.rs
# then replays on stable; fix the crash, keep the seed. Exits 1 when any target crashed.
#
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`) and a Rust toolchain that accepts
# nightly flags: on stable, RUSTC_BOOTSTRAP=1 (set here) unlocks the -Z flags cargo-fuzz passes.
set -euo pipefail

seconds="${1:?usage: fuzz/run.sh SECONDS [TARGET...]}"
shift
cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz is missing: cargo install cargo-fuzz --locked" >&2
    exit 2
fi

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

# One build of every target up front (release, debug assertions and overflow checks, ASan).
cargo fuzz build >/dev/null

mkdir -p corpus-work logs-work
summary=()
crashed=0
for target in "${targets[@]}"; do
    mkdir -p "corpus-work/$target" "seeds/$target" "artifacts/$target"
    log="logs-work/$target.log"
    echo "== $target (${seconds}s)"
    status=0
    # Scratch corpus first: libFuzzer writes new inputs to the first directory only.
    cargo fuzz run "$target" "corpus-work/$target" "seeds/$target" -- \
        -max_total_time="$seconds" -runs="${RUNS:--1}" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 \
        >"$log" 2>&1 || status=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    found=()
    for artifact in "artifacts/$target"/*; do
        [ -f "$artifact" ] || continue
        name=$(basename "$artifact")
        cp "$artifact" "seeds/$target/$name"
        rm "$artifact"
        found+=("$name")
    done
    if [ "$status" -ne 0 ] || [ "${#found[@]}" -gt 0 ]; then
        crashed=1
        grep -m 5 -E 'panicked|ERROR: |SUMMARY' "$log" || true
        summary+=("$(printf '%-18s %12s execs %8s/s  CRASH -> seeds/%s/%s (log: fuzz/%s)' \
            "$target" "${execs:-?}" "${rate:-?}" "$target" "${found[*]:-?}" "$log")")
    else
        summary+=("$(printf '%-18s %12s execs %8s/s  ok' "$target" "${execs:-?}" "${rate:-?}")")
    fi
done

echo
echo "== executions per target (${seconds}s each)"
printf '%s\n' "${summary[@]}"
exit "$crashed"
