#!/usr/bin/env bash
# Runs the carematch fuzz targets (cargo-fuzz, libFuzzer with AddressSanitizer/LeakSanitizer).
#
#   fuzz/run.sh smoke [SECONDS]           build every target, run each for SECONDS (default 20);
#                                         non-zero exit on any crash, leak, timeout or OOM.
#   fuzz/run.sh long MINUTES [TARGET...]  run each target (default: all) until its runs have
#                                         used MINUTES of CPU time, one at a time under nice 19,
#                                         growing fuzz/corpus-generated/<t> and appending a row
#                                         per target to fuzz/RESULTS.md.
#
# Seeds are read from fuzz/corpus/<target> (checked in) and never written: new inputs go to a
# temporary directory (smoke) or fuzz/corpus-generated/<target> (long). Crash inputs are
# written to fuzz/artifacts/<target>/; minimise one with
#   cargo +nightly fuzz tmin <target> fuzz/artifacts/<target>/<file>
# and keep it under fuzz/regressions/<target>/, which every smoke run replays first.
#
# Needs cargo-fuzz (installed with `cargo install cargo-fuzz --locked` when missing) and a
# nightly toolchain, or the stable one with RUSTC_BOOTSTRAP=1 (sanitizers are nightly flags).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
FUZZ="$ROOT/fuzz"

RSS_LIMIT_MB=${RSS_LIMIT_MB:-2048}
TIMEOUT_S=${TIMEOUT_S:-10}
# One core: the library parallelises with rayon, which would otherwise use every core.
export RAYON_NUM_THREADS=${RAYON_NUM_THREADS:-1}
# As `cargo fuzz run` sets it: Rust's sanitizer build reports false ODR violations.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_odr_violation=0}

usage() {
    sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
}

all_targets() {
    local f
    for f in "$FUZZ"/fuzz_targets/*.rs; do
        basename "$f" .rs
    done
}

# The cargo command that has the nightly-only flags cargo-fuzz needs.
CARGO=(cargo)
setup_toolchain() {
    if rustup run nightly rustc --version >/dev/null 2>&1; then
        CARGO=(cargo +nightly)
    else
        echo "fuzz: no nightly toolchain; using the default one with RUSTC_BOOTSTRAP=1" >&2
        export RUSTC_BOOTSTRAP=1
        CARGO=(cargo)
    fi
    if ! cargo fuzz --version >/dev/null 2>&1; then
        echo "fuzz: installing cargo-fuzz" >&2
        cargo install cargo-fuzz --locked
    fi
}

build() {
    echo "fuzz: building every target (${CARGO[*]} fuzz build)"
    (cd "$ROOT" && "${CARGO[@]}" fuzz build)
}

bin_of() {
    echo "$FUZZ/target/x86_64-unknown-linux-gnu/release/$1"
}

dict_of() {
    case "$1" in
        csv_records | ffi_batch | ffi_index) echo "$FUZZ/dict/csv.dict" ;;
        query_json | config | model) echo "$FUZZ/dict/json.dict" ;;
        normalise) echo "$FUZZ/dict/normalise.dict" ;;
        *) echo "" ;;
    esac
}

# libFuzzer flags common to both modes.
flags_of() {
    local t=$1 dict
    dict=$(dict_of "$t")
    echo "-rss_limit_mb=$RSS_LIMIT_MB -timeout=$TIMEOUT_S -print_final_stats=1"
    echo "-artifact_prefix=$FUZZ/artifacts/$t/"
    if [ -n "$dict" ] && [ -f "$dict" ]; then
        echo "-dict=$dict"
    fi
}

# Figures from a libFuzzer log: executions and the seconds libFuzzer counted.
execs_of() {
    sed -n 's/^stat::number_of_executed_units: *//p' "$1" | tail -1
}

# Replays the saved regressions of every target; fails when one still crashes.
replay_regressions() {
    local t dir status=0
    for t in "$@"; do
        dir="$FUZZ/regressions/$t"
        [ -d "$dir" ] || continue
        if [ -z "$(ls -A "$dir")" ]; then continue; fi
        # shellcheck disable=SC2046
        if ! "$(bin_of "$t")" $(flags_of "$t" | grep -v artifact_prefix) "$dir"/* \
            >"$TMP/$t.regressions.log" 2>&1; then
            echo "FAIL $t: a saved regression still fails (fuzz/regressions/$t):"
            grep -E "panicked at|ERROR: |SUMMARY" "$TMP/$t.regressions.log" | head -5 | sed 's/^/    /'
            status=1
        fi
    done
    return $status
}

smoke() {
    local seconds=${1:-20}
    shift || true
    local targets=("$@")
    [ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(all_targets)
    setup_toolchain
    build
    TMP=$(mktemp -d)
    trap 'rm -rf "$TMP"' EXIT
    local failed=() t log status execs start end
    replay_regressions "${targets[@]}" || failed+=("regressions")
    printf '%-12s %12s %8s  %s\n' target executions seconds result
    for t in "${targets[@]}"; do
        mkdir -p "$TMP/corpus/$t" "$FUZZ/artifacts/$t"
        log="$TMP/$t.log"
        start=$(date +%s)
        status=0
        # shellcheck disable=SC2046
        "$(bin_of "$t")" $(flags_of "$t") -max_total_time="$seconds" \
            "$TMP/corpus/$t" "$FUZZ/corpus/$t" >"$log" 2>&1 || status=$?
        end=$(date +%s)
        execs=$(execs_of "$log")
        if [ $status -eq 0 ]; then
            printf '%-12s %12s %8s  %s\n' "$t" "${execs:-?}" "$((end - start))" ok
        else
            printf '%-12s %12s %8s  %s\n' "$t" "${execs:-?}" "$((end - start))" "FAILED (exit $status)"
            grep -E "panicked at|ERROR: |SUMMARY|Test unit written" "$log" | head -8 | sed 's/^/    /'
            # The whole log of a failure, for CI where the temporary directory is gone.
            mkdir -p "$FUZZ/artifacts/logs"
            cp "$log" "$FUZZ/artifacts/logs/$t.smoke.log"
            failed+=("$t")
        fi
    done
    if [ ${#failed[@]} -gt 0 ]; then
        echo "fuzz smoke: FAILED: ${failed[*]} (inputs under fuzz/artifacts/, logs in fuzz/artifacts/logs/)"
        return 1
    fi
    echo "fuzz smoke: every target ran ${seconds} s without a crash, leak or timeout"
}

# CPU seconds (user + system) of this shell's finished children, from bash's `times`.
children_cpu() {
    times | tail -1 | awk '{
        s = 0
        for (i = 1; i <= 2; i++) { split($i, p, /[ms]/); s += p[1] * 60 + p[2] }
        print s
    }'
}

long() {
    local minutes=${1:?long needs MINUTES}
    shift
    local targets=("$@")
    [ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(all_targets)
    setup_toolchain
    build
    TMP=$(mktemp -d)
    trap 'rm -rf "$TMP"' EXIT
    local seconds=$((minutes * 60)) commit t log status execs cpu before after crashes before_cpu
    commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
    if ! git -C "$ROOT" diff --quiet HEAD -- src ffi 2>/dev/null; then
        commit="$commit+dirty"
    fi
    mkdir -p "$FUZZ/logs"
    if [ ! -f "$FUZZ/RESULTS.md" ]; then
        printf '| date | commit | target | executions | CPU s | crashes |\n|---|---|---|---:|---:|---:|\n' \
            >"$FUZZ/RESULTS.md"
    fi
    for t in "${targets[@]}"; do
        mkdir -p "$FUZZ/corpus-generated/$t" "$FUZZ/artifacts/$t"
        before=$(find "$FUZZ/artifacts/$t" -type f | wc -l)
        echo "fuzz long: $t until $minutes CPU-minutes"
        status=0
        cpu=0
        execs=0
        # libFuzzer's -max_total_time is wall time, and a busy machine gives a niced fuzzer
        # less than a core: so the target is run again (on its grown corpus) until the CPU
        # time of its runs adds up to the budget.
        while [ "$status" -eq 0 ] && [ "$cpu" -lt "$seconds" ]; do
            log="$FUZZ/logs/$t.$(date +%Y%m%dT%H%M%S).log"
            # The CPU time (user + system) of the fuzzer process itself, not wall time: by
            # /usr/bin/time, or else by the shell's account of its children (`times`).
            local run=(nice -n 19 "$(bin_of "$t")")
            # shellcheck disable=SC2207
            run+=($(flags_of "$t") -max_total_time="$((seconds - cpu))" "$FUZZ/corpus-generated/$t" "$FUZZ/corpus/$t")
            local part
            if [ -x /usr/bin/time ]; then
                /usr/bin/time -f '%U %S' -o "$TMP/$t.time" "${run[@]}" >"$log" 2>&1 || status=$?
                part=$(awk 'END { printf "%.0f", $1 + $2 }' "$TMP/$t.time" 2>/dev/null || echo 0)
            else
                before_cpu=$(children_cpu)
                "${run[@]}" >"$log" 2>&1 || status=$?
                part=$(awk -v a="$before_cpu" -v b="$(children_cpu)" 'BEGIN { printf "%.0f", b - a }')
            fi
            cpu=$((cpu + part))
            local e
            e=$(execs_of "$log")
            execs=$((execs + ${e:-0}))
            echo "fuzz long: $t: $cpu of $seconds CPU s so far (log $log)"
        done
        after=$(find "$FUZZ/artifacts/$t" -type f | wc -l)
        crashes=$((after - before))
        if [ $status -ne 0 ] && [ $crashes -eq 0 ]; then
            crashes="exit $status"
        fi
        printf '| %s | %s | %s | %s | %s | %s |\n' "$(date -u +%Y-%m-%dT%H:%MZ)" "$commit" "$t" \
            "${execs:-?}" "$cpu" "$crashes" >>"$FUZZ/RESULTS.md"
        echo "fuzz long: $t: ${execs:-?} executions, ${cpu} CPU s, crashes: $crashes"
    done
}

case "${1:-}" in
    smoke) shift; smoke "$@" ;;
    long) shift; long "$@" ;;
    *) usage ;;
esac
