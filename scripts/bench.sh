#!/usr/bin/env bash
# The quick performance set (issue 8). Builds in release, then:
#   1. times the driver's I/O path against the null device (Benchmarks/Sources/NullNVMe), Swift and
#      the C reference (Benchmarks/Sources/CReferenceDriver), QD1 and batches of 32;
#   2. counts instructions per I/O under callgrind (repeatable: runs N and 2N I/Os and takes the
#      difference), separating the null device's instructions from the driver's, and counts the
#      calls to malloc/free and to Swift's retain/release made per I/O;
#   3. runs the ordo-one benchmarks against their static thresholds (0 mallocs, 0 retains,
#      0 releases per 1000 I/Os: Benchmarks/Thresholds);
#   4. runs `vfioctl nvme perf --device emulated` at QD1 and QD32, 1 and 2 queue pairs, each
#      completion mode, and prints a table;
# and prints, last, one line: ns_per_io=… instr_per_io=… allocs_per_io=… swift_vs_c=… sgl_instr_per_io=…
#   ns_per_io     Swift QD1 loop time per I/O (best of the repeats): the driver plus the null
#                 device's service() call (see the device's instruction share above it)
#   instr_per_io  Swift QD1 driver instructions per I/O (null device excluded)
#   allocs_per_io allocations (malloc, calloc, realloc, posix_memalign, swift_allocObject) per I/O
#                 on the Swift QD1 path
#   swift_vs_c    Swift / C driver instructions per I/O at QD1
#   sgl_instr_per_io  instr_per_io with SGLs forced (swift-qd1-sgl: one Data Block in the command)
#   perf_loop_instr_per_io  instructions per I/O of `vfioctl nvme perf`'s whole loop at QD1
#                 (NVMeWorkload: driver, random LBA, tick reads, latency histogram; null device
#                 excluded); perf_loop_vs_c: against its C twin (CReferenceDriver/ref_perf.c)
# Exit status: non-zero if an I/O failed, or if any measured Swift path allocates or retains/
# releases per I/O (callgrind), or if the ordo-one threshold check fails; the line is printed anyway.
#
# Environment: BENCH_SCRATCH (default .build-bench) for the Benchmarks package,
# BENCH_ROOT_SCRATCH (default .build-bench-root) for vfioctl, PERF_TIME (default 1s),
# BENCH_SKIP_PERF=1 / BENCH_SKIP_ORDO=1 to skip those parts.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SCRATCH=${BENCH_SCRATCH:-$ROOT/.build-bench}
ROOT_SCRATCH=${BENCH_ROOT_SCRATCH:-$ROOT/.build-bench-root}
PERF_TIME=${PERF_TIME:-1s}
WORK=$SCRATCH/bench-run
mkdir -p "$WORK"
status=0
started=$(date +%s)

say() { printf '%s\n' "$*" >&2; }

command -v valgrind >/dev/null || { say "bench.sh: valgrind is needed (apt-get install valgrind)"; exit 2; }

say "== build (release)"
swift build -c release --package-path Benchmarks --scratch-path "$SCRATCH" --product iopath-count >&2
if [[ -z "${BENCH_SKIP_ORDO:-}" ]]; then
    swift build -c release --package-path Benchmarks --scratch-path "$SCRATCH" --product IOPath >&2
fi
if [[ -z "${BENCH_SKIP_PERF:-}" ]]; then
    swift build -c release --scratch-path "$ROOT_SCRATCH" --product vfioctl >&2
fi
BIN=$SCRATCH/release/iopath-count
# valgrind 3.19 cannot read the DWARF 5 that clang emits for the C targets; callgrind needs only
# the symbol table, so it runs a copy without debug info.
objcopy --strip-debug "$BIN" "$WORK/iopath-count"
built=$(date +%s)

say ""
say "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u '+%Y-%m-%d %H:%M UTC')"

# 1. Time per I/O (wall clock, best and median of 5 runs of 1M I/Os each).
say ""
say "== time per I/O (null device, 4 KiB reads; 1M I/Os x 5, best / median)"
declare -A NS_MIN NS_MED
for path in swift-qd1 c-qd1 swift-qd1-wait swift-batch32 c-batch32 swift-nic-rx c-nic-rx swift-nic-tx c-nic-tx; do
    line=$("$BIN" "$path" 1000000 --time 5 2>/dev/null) || { say "$path: FAILED"; status=1; continue; }
    NS_MIN[$path]=$(sed -n 's/.*ns_per_io_min=\([0-9.]*\).*/\1/p' <<<"$line")
    NS_MED[$path]=$(sed -n 's/.*ns_per_io_median=\([0-9.]*\).*/\1/p' <<<"$line")
    printf '  %-16s %8s ns  %8s ns\n' "$path" "${NS_MIN[$path]}" "${NS_MED[$path]}" >&2
done

# 2. Instructions per I/O under callgrind.
say ""
say "== instructions per I/O (callgrind, N=50000 and 2N, difference / N)"
N=50000
SUMMARY=$ROOT/Benchmarks/Scripts/callgrind_summary.py
# shellcheck disable=SC2016 # a Swift symbol name, not an expansion
SWIFT_DEVICE=$(nm "$WORK/iopath-count" | awk '{print $3}' | grep -E '^\$s8NullNVMe0aB10ControllerC7serviceyyF$' || true)
[[ -n "$SWIFT_DEVICE" ]] || { say "bench.sh: NullNVMeController.service() not found in the binary"; exit 2; }
# shellcheck disable=SC2016 # a Swift symbol name, not an expansion
SWIFT_NIC_DEVICE=$(nm "$WORK/iopath-count" | awk '{print $3}' | grep -E '^\$s7NullNIC0A6E1000EC7serviceyyF$' || true)
[[ -n "$SWIFT_NIC_DEVICE" ]] || { say "bench.sh: NullE1000E.service() not found in the binary"; exit 2; }
# shellcheck disable=SC2016 # a Swift symbol name, not an expansion
# vfioctl nvme perf's per-queue loop: its specialization for the null device where the compiler
# made one (…g5), else the generic function.
PERF_LOOP=$(nm "$WORK/iopath-count" | awk '{print $3}' | grep -E '^\$s12NVMeWorkload0B6RunnerV8workLoop.*(FZ|g5)$' | sort -r | head -1 || true)
[[ -n "$PERF_LOOP" ]] || { say "bench.sh: WorkloadRunner.workLoop not found in the binary"; exit 2; }
# NIC paths count packets in batches of 32: their N is a multiple of 32.
N_NIC=51200
declare -A LOOP=([swift-qd1]=swift_iopath_qd1 [swift-qd1-sgl]=swift_iopath_qd1 [c-qd1]=ref_bench_qd1 [swift-qd1-wait]=swift_iopath_qd1_wait
                 [swift-batch32]=swift_iopath_batched [c-batch32]=ref_bench_batch
                 [swift-nic-rx]=swift_nicpath_rx [c-nic-rx]=ref_nic_bench_rx [swift-nic-tx]=swift_nicpath_tx [c-nic-tx]=ref_nic_bench_tx
                 [swift-perf-qd1]="$PERF_LOOP" [c-perf-qd1]=ref_perf_run)
declare -A DRIVER DEVICE ALLOCS RETAINS RELEASES
callgrind() { # path count -> summary line
    local path=$1 count=$2 out="$WORK/cg-$1-$2.out" device
    valgrind --tool=callgrind --callgrind-out-file="$out" --toggle-collect="${LOOP[$path]}" \
        "$WORK/iopath-count" "$path" "$count" >/dev/null 2>"$WORK/cg-$path-$count.log" || return 1
    case $path in
        swift-nic-*) device="^${SWIFT_NIC_DEVICE//\$/\\\$}\$" ;;
        c-nic-*) device='^null_nic_service$' ;;
        swift-*) device="^${SWIFT_DEVICE//\$/\\\$}\$" ;;
        *) device='^null_device_service$' ;;
    esac
    python3 "$SUMMARY" "$out" --device "$device"
}
field() { sed -n "s/.*\b$1=\([0-9]*\).*/\1/p" <<<"$2"; }
printf '  %-16s %9s %9s %9s %8s %9s %9s\n' path driver device total allocs retains releases >&2
for path in swift-qd1 swift-qd1-sgl c-qd1 swift-qd1-wait swift-batch32 c-batch32 swift-nic-rx c-nic-rx swift-nic-tx c-nic-tx swift-perf-qd1 c-perf-qd1; do
    n=$N
    [[ $path == *-nic-* ]] && n=$N_NIC
    { a=$(callgrind "$path" $n) && b=$(callgrind "$path" $((2 * n))); } || { say "  $path: callgrind run FAILED"; status=1; continue; }
    per() { echo "scale=2; ($(field "$1" "$b") - $(field "$1" "$a")) / $n" | bc; }
    total=$(per total)
    DEVICE[$path]=$(per device)
    DRIVER[$path]=$(echo "scale=2; $total - ${DEVICE[$path]}" | bc)
    allocs=0
    for f in calls.malloc calls.calloc calls.realloc calls.posix_memalign calls.swift_allocObject; do
        allocs=$(echo "scale=4; $allocs + $(per $f)" | bc)
    done
    ALLOCS[$path]=$allocs
    RETAINS[$path]=$(echo "scale=4; $(per calls.swift_retain) + $(per calls.swift_bridgeObjectRetain) + $(per calls.swift_unknownObjectRetain)" | bc)
    RELEASES[$path]=$(echo "scale=4; $(per calls.swift_release) + $(per calls.swift_bridgeObjectRelease) + $(per calls.swift_unknownObjectRelease)" | bc)
    printf '  %-16s %9s %9s %9s %8s %9s %9s\n' "$path" "${DRIVER[$path]}" "${DEVICE[$path]}" "$total" \
        "${ALLOCS[$path]}" "${RETAINS[$path]}" "${RELEASES[$path]}" >&2
    if [[ $path == swift-* ]] && { [[ $(echo "${ALLOCS[$path]} > 0" | bc) == 1 ]] || [[ $(echo "${RETAINS[$path]} + ${RELEASES[$path]} > 0" | bc) == 1 ]]; }; then
        say "  $path: allocations or reference counting on the I/O path (target: none)"
        status=1
    fi
done
RATIO=$(echo "scale=3; ${DRIVER[swift-qd1]:-0} / ${DRIVER[c-qd1]:-1}" | bc)
RATIO_BATCH=$(echo "scale=3; ${DRIVER[swift-batch32]:-0} / ${DRIVER[c-batch32]:-1}" | bc)
say "  Swift/C driver instructions: QD1 $RATIO, batch 32 $RATIO_BATCH (target <= 1.10)"
# The NIC: instructions per forwarded packet, one received and one sent (ixy's unit), batches of 32.
ratio() { [[ -n ${2:-} && $(echo "$2 > 0" | bc) == 1 ]] && echo "scale=3; $1 / $2" | bc || echo nan; }
NIC_SWIFT=$(echo "scale=2; ${DRIVER[swift-nic-rx]:-0} + ${DRIVER[swift-nic-tx]:-0}" | bc)
NIC_C=$(echo "scale=2; ${DRIVER[c-nic-rx]:-0} + ${DRIVER[c-nic-tx]:-0}" | bc)
NIC_RATIO=$(ratio "$NIC_SWIFT" "$NIC_C")
say "  NIC per packet received + sent: Swift $NIC_SWIFT, C $NIC_C, Swift/C $NIC_RATIO" \
    "(RX $(ratio "${DRIVER[swift-nic-rx]:-0}" "${DRIVER[c-nic-rx]:-}"), TX $(ratio "${DRIVER[swift-nic-tx]:-0}" "${DRIVER[c-nic-tx]:-}"); target <= 1.05)"
# The whole perf loop (NVMeWorkload: driver + LBA generation + tick reads + latency histogram).
PERF_RATIO=$(ratio "${DRIVER[swift-perf-qd1]:-0}" "${DRIVER[c-perf-qd1]:-}")
say "  vfioctl nvme perf's loop at QD1: Swift ${DRIVER[swift-perf-qd1]:-nan}, C ${DRIVER[c-perf-qd1]:-nan}, Swift/C $PERF_RATIO (target <= 1.10)"

# 3. ordo-one benchmarks against the static thresholds (0 allocations and 0 retain/release).
if [[ -z "${BENCH_SKIP_ORDO:-}" ]]; then
    say ""
    say "== ordo-one benchmarks: thresholds check (0 mallocs, retains, releases per 1000 I/Os)"
    if swift package --package-path Benchmarks --scratch-path "$SCRATCH" benchmark thresholds check \
        --path "$ROOT/Benchmarks/Thresholds" --no-progress >"$WORK/thresholds.txt" 2>&1; then
        say "  all benchmarks within their thresholds"
    else
        say "  threshold check FAILED:"
        grep -E "^(Deviations worse|│ (p90|Retains|Releases|Malloc))" "$WORK/thresholds.txt" | sed 's/^/    /' >&2 || tail -20 "$WORK/thresholds.txt" >&2
        status=1
    fi
fi

# 4. vfioctl nvme perf on the emulated controller (threaded: the controller has its own thread).
if [[ -z "${BENCH_SKIP_PERF:-}" ]]; then
    say ""
    say "== vfioctl nvme perf --device emulated (randread 4k, $PERF_TIME each; emulated controller on its own thread)"
    VFIOCTL=$ROOT_SCRATCH/release/vfioctl
    printf '  %-9s %3s %6s %10s %9s %9s %9s %10s %10s\n' mode qd queues IOPS p50_us p99_us p999_us drv_ns/io proc_ns/io >&2
    for mode in poll interrupt hybrid; do
        for qd in 1 32; do
            for queues in 1 2; do
                json=$("$VFIOCTL" nvme perf --device emulated --rw randread --bs 4k --qd $qd --queues $queues \
                    --mode $mode --time "$PERF_TIME" --json 2>"$WORK/perf.log") || { say "  $mode qd$qd q$queues: FAILED ($(tail -1 "$WORK/perf.log"))"; status=1; continue; }
                python3 - "$mode" "$qd" "$queues" "$json" >&2 <<'EOF'
import json, sys
mode, qd, queues, text = sys.argv[1:]
r = json.loads(text)
print(f"  {mode:<9} {qd:>3} {queues:>6} {r['iops']:>10.0f} {r['lat_p50_ns']/1000:>9.1f} {r['lat_p99_ns']/1000:>9.1f} "
      f"{r['lat_p999_ns']/1000:>9.1f} {r['driver_cpu_ns_per_io']:>10.0f} {r['process_cpu_ns_per_io']:>10.0f}")
EOF
            done
        done
    done
fi

finished=$(date +%s)
say ""
say "== build $((built - started)) s, quick set $((finished - built)) s"
echo "ns_per_io=${NS_MIN[swift-qd1]:-nan} instr_per_io=${DRIVER[swift-qd1]:-nan} allocs_per_io=${ALLOCS[swift-qd1]:-nan} swift_vs_c=${RATIO:-nan} sgl_instr_per_io=${DRIVER[swift-qd1-sgl]:-nan} nic_instr_per_packet=${NIC_SWIFT:-nan} nic_swift_vs_c=${NIC_RATIO:-nan} perf_loop_instr_per_io=${DRIVER[swift-perf-qd1]:-nan} perf_loop_vs_c=${PERF_RATIO:-nan}"
exit $status
