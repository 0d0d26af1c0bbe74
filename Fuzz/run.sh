#!/usr/bin/env bash
# Builds the libFuzzer targets of this folder (release, -sanitize=fuzzer,address, Swift and C) and
# runs each for a bounded time, keeping corpora between runs.
#
#   Fuzz/run.sh [seconds-per-target] [target ...]      (default: 30 s, every target)
#
# Environment: FUZZ_SCRATCH  build folder (default: <repo>/.build-fuzz)
#              FUZZ_WORK     corpora and crash artifacts (default: $FUZZ_SCRATCH/work)
# Prints one line per target, "PASS fuzz-x: N execs in S s, corpus C" or "FAIL fuzz-x: why", and
# exits non-zero if any target crashed, broke an invariant or did not run.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
seconds="${1:-30}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz-decoders fuzz-completions fuzz-bring-up fuzz-emulator-commands fuzz-frames fuzz-tcp-pdu fuzz-tcp-target)
scratch="${FUZZ_SCRATCH:-$repo/.build-fuzz}"
work="${FUZZ_WORK:-$scratch/work}"
mkdir -p "$work"

if ! swift build -c release --package-path "$here" --scratch-path "$scratch" \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library \
        -Xcc -fsanitize=fuzzer-no-link,address >"$work/build.log" 2>&1; then
    for t in "${targets[@]}"; do echo "FAIL $t: the fuzz build failed (see $work/build.log)"; done
    exit 1
fi

failed=0
for t in "${targets[@]}"; do
    bin="$scratch/release/$t"
    corpus="$work/corpus/$t"
    seeds="$here/Corpus/$t"
    mkdir -p "$corpus" "$work/artifacts"
    [ -d "$seeds" ] || seeds=""
    log="$work/$t.log"
    # Whole Identify pages (4 KiB) need long inputs from the start.
    extra=()
    [ "$t" = fuzz-bring-up ] && extra=(-len_control=0 -max_len=12400)
    timeout $((seconds + 120)) "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2560 -print_final_stats=1 \
        -artifact_prefix="$work/artifacts/$t-" "${extra[@]}" "$corpus" $seeds >"$log" 2>&1
    rc=$?
    runs=$(grep -oE '^Done [0-9]+ runs in [0-9]+' "$log" | tail -1)
    if [ $rc -eq 0 ] && [ -n "$runs" ]; then
        set -- $runs
        echo "PASS $t: $2 execs in $5 s, corpus $(ls "$corpus" | wc -l)"
    else
        why=$(grep -m1 -E 'invariant violated|Fatal error|ERROR: (AddressSanitizer|libFuzzer)|SUMMARY' "$log" | cut -c1-160)
        crash=$(ls -t "$work/artifacts/$t-"* 2>/dev/null | head -1)
        echo "FAIL $t: ${why:-exit status $rc}${crash:+ (input: $crash)}"
        failed=1
    fi
done
exit $failed
