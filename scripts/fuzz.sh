#!/usr/bin/env bash
# Run every fuzz target for a fixed time, one after the other, and print executions and
# crashes per target.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default: 60 s, every target)
#   scripts/fuzz.sh seeds                                 regenerate fuzz/seeds/ from fixtures/
#
# Setup (once): `cargo install cargo-fuzz`. No nightly toolchain is needed: cargo-fuzz
# passes nightly-only flags (-Zsanitizer=address, sancov passes), and this script sets
# RUSTC_BOOTSTRAP=1 so the stable compiler accepts them. That is what works here
# (stable 1.95, cargo-fuzz 0.13.2, libfuzzer-sys 0.4, AddressSanitizer). With a nightly
# toolchain installed, FUZZ_TOOLCHAIN=nightly uses `cargo +nightly fuzz` instead.
#
# Targets are built with `-O -a`: optimised, but with debug assertions and integer
# overflow checks on, so an overflow on hostile input is a crash, as in `cargo test`.
# They build against `wsaudit` with `default-features = false` (parsers only, no polars):
# the first build compiles the dependencies with instrumentation (a few minutes on two
# cores), later ones take seconds.
#
# Where things go (all under fuzz/, git-ignored except seeds/):
#   fuzz/seeds/<target>/       seed corpora cut from the fixtures (kept in git)
#   fuzz/corpus/<target>/      what libFuzzer found interesting (grows across runs)
#   fuzz/artifacts/<target>/   crashing inputs. Keep each as a regression test:
#                              cp it to tests/regressions/<target>-<n>.bin and run
#                              `cargo test --test regressions`.
#
# A target that crashes is restarted for the rest of its time (at most 5 crashes per
# target), so one easy crash does not hide the others. Exit status: 0 when no target
# crashed, 1 when one did, 2 when the build failed.
#
# Environment: FUZZ_DIR (the cargo-fuzz project, default fuzz/; e.g. a copy built
# against a snapshot of the crate while src/ is mid-edit), CARGO_TARGET_DIR (default
# fuzz/target), FUZZ_TOOLCHAIN (see above), FUZZ_ARGS (extra libFuzzer flags).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
FUZZ_DIR=${FUZZ_DIR:-$ROOT/fuzz}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/fuzz/target}
ALL_TARGETS=(frame_header close_payload ws_decoder http_upgrade capture pcapng reassembler conn_table pipeline
    logs_text logs_json logs_access logs_file h2 tls keylog)

if [ "${1:-}" = seeds ]; then
    exec cargo run --quiet --release --manifest-path "$FUZZ_DIR/Cargo.toml" -p wsaudit-seedgen -- \
        "$ROOT/fixtures" "$ROOT/fuzz/seeds"
fi

SECONDS_PER_TARGET=${1:-60}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=("${ALL_TARGETS[@]}")

if [ "${FUZZ_TOOLCHAIN:-}" = nightly ]; then
    FUZZ=(cargo +nightly fuzz)
else
    export RUSTC_BOOTSTRAP=1
    FUZZ=(cargo fuzz)
fi
BUILD_FLAGS=(-O -a --fuzz-dir "$FUZZ_DIR")

echo "building ${#TARGETS[@]} targets..." >&2
if ! "${FUZZ[@]}" build "${BUILD_FLAGS[@]}" >"$CARGO_TARGET_DIR.build.log" 2>&1; then
    tail -40 "$CARGO_TARGET_DIR.build.log" >&2
    echo "fuzz.sh: build failed (full log: $CARGO_TARGET_DIR.build.log)" >&2
    exit 2
fi

LOG_DIR=$(mktemp -d)
trap 'rm -rf "$LOG_DIR"' EXIT
printf '%-14s %12s %8s %8s %s\n' target executions exec/s crashes artifacts
status=0
for t in "${TARGETS[@]}"; do
    mkdir -p "$ROOT/fuzz/corpus/$t" "$ROOT/fuzz/artifacts/$t"
    seeds="$ROOT/fuzz/seeds/$t"
    [ -d "$seeds" ] || seeds=
    execs=0
    crashes=0
    found=()
    start=$(date +%s)
    while :; do
        left=$((SECONDS_PER_TARGET - ($(date +%s) - start)))
        [ "$left" -gt 0 ] && [ "$crashes" -lt 5 ] || break
        log="$LOG_DIR/$t.$crashes.log"
        before=$(ls "$ROOT/fuzz/artifacts/$t" | sort)
        # -timeout: one input taking 20 s is a hang. -rss_limit_mb: libFuzzer's default.
        set +e
        "${FUZZ[@]}" run "${BUILD_FLAGS[@]}" "$t" "$ROOT/fuzz/corpus/$t" ${seeds:+"$seeds"} -- \
            -max_total_time="$left" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
            -artifact_prefix="$ROOT/fuzz/artifacts/$t/" ${FUZZ_ARGS:-} >"$log" 2>&1
        rc=$?
        set -e
        n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
        execs=$((execs + ${n:-0}))
        new=$(comm -13 <(echo "$before") <(ls "$ROOT/fuzz/artifacts/$t" | sort))
        if [ "$rc" -ne 0 ] || [ -n "$new" ]; then
            crashes=$((crashes + 1))
            status=1
            for a in $new; do found+=("fuzz/artifacts/$t/$a"); done
            # What broke, for the summary below.
            grep -m1 -E "panicked at|broken promise|ERROR: (libFuzzer|AddressSanitizer)" "$log" \
                | sed "s|^|  $t: |" >>"$LOG_DIR/why" || true
            cp "$log" "$ROOT/fuzz/artifacts/$t/last-crash.log"
            [ -n "$new" ] || break # failed without an artifact (e.g. a build problem): stop
        fi
    done
    secs=$(( $(date +%s) - start ))
    printf '%-14s %12d %8d %8d %s\n' "$t" "$execs" $((execs / (secs > 0 ? secs : 1))) "$crashes" "${found[*]:-}"
done
if [ -s "$LOG_DIR/why" ]; then
    echo
    echo "crashes (logs in fuzz/artifacts/<target>/last-crash.log):"
    cat "$LOG_DIR/why"
fi
exit $status
