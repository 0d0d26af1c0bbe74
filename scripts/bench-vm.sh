#!/usr/bin/env bash
# Our driver against the kernel's nvme driver on the same QEMU NVMe controller (issue 8): one TCG
# VM with an emulated Intel IOMMU and one controller; in the guest, first the kernel driver
# (fio, O_DIRECT 4 KiB random reads at queue depth 1 and 32: libaio and io_uring with interrupts,
# io_uring polled on a poll queue), then the same function bound to vfio-pci and our driver
# (`vfioctl nvme perf`, poll and interrupt mode, QD1 and QD32), then the function goes back to
# nvme. Prints a table, the ratios ours/kernel and, last, one line:
#   qd1_ratio=… qd32_ratio=…
# where each ratio is our best IOPS at that depth over the kernel's best (any engine, interrupts
# or polling), so that neither side is handicapped by a mode the other does not use.
#
#   scripts/bench-vm.sh [--no-install] [--no-build] [--tcp]
#
# --tcp (issue 20): instead, our NVMe/TCP target (`vfioctl nvme serve`) against the kernel's
# nvmet-tcp, both exporting the controller's namespace on 127.0.0.1 to the guest kernel's
# initiator, fio QD1 and QD32 through it, BENCH_VM_ROUNDS rounds in ABBA order (use 3 or more),
# IOPS and target-side CPU per I/O as medians; ours once per BENCH_VM_TCP_MODES (default "poll
# interrupt"); BENCH_VM_TCP_CONNECT adds `nvme connect` options (--disable-sqflow); the last line is
# tcp_qd1_ratio=… tcp_qd32_ratio=… (our best mode/kernel). Method, CPU accounting: scripts/lib/bench-tcp.sh.
#
# TCG emulates the guest's CPUs and QEMU's NVMe model runs in the same host process on 2 shared
# cores: absolute IOPS are bound by the emulator, not by either driver. Only the ratio, measured
# in one boot on one device, means something, and it is noisy when the host is busy (run it
# twice, or set BENCH_VM_ROUNDS=2: each round runs both drivers again, the best of each is kept).
#
# Environment: BENCH_VM_IOMMU (guest iommu= setting, default pt: see below), BENCH_VM_APPEND (more
# guest kernel parameters; default "clocksource=tsc tsc=reliable", see below), BENCH_VM_TIME (seconds per run, default 8), BENCH_VM_ROUNDS (default 1),
# BENCH_VM_SCRATCH (SwiftPM scratch path for the release vfioctl, default .build-bench-root, the
# one scripts/bench.sh uses), BENCH_VM_KERNEL (guest kernel, default the newest /boot/vmlinuz-*),
# BENCH_VM_SIZE (namespace size, default 1G, sparse), BENCH_VM_CPUS (2), BENCH_VM_MEMORY (2G),
# BENCH_VM_SPIN (`--spin` values, e.g. "pause never": each adds a poll-mode run of ours with that
# spin policy, named poll-spin-VALUE, right after the default poll run; every run's IOPS is listed),
# BENCH_VM_BS (block size of every I/O, default 4k), BENCH_VM_PEER (a C peer on the same
# vfio-bound function: a command line with {bdf}, {qd} and {time}, run twice at each depth between
# two poll runs of ours, ABBA; its IOPS is the first number of the last line it prints; e.g.
# libvfn's examples/perf, built by you outside the repository: "PATH/perf -d {bdf} -N 1 -q {qd}
# -t {time} -w 1 -p randread", which reads one LBA per I/O, so give BENCH_VM_BS=512 on the
# default 512 B namespace), VM_QEMU (QEMU binary). The boot is scripts/lib/vm.sh's, as scripts/hil-test.sh's (vng,
# --disable-kvm, the emulated VT-d, results through the shared folder).
#
# Inside the VM the same script runs as `bench-vm.sh --guest DIR`; it refuses to run unless the
# kernel command line carries swift_vfio_bench=1, because it unbinds an NVMe function.
set -u

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TIME=${BENCH_VM_TIME:-8}
ROUNDS=${BENCH_VM_ROUNDS:-1}

die() { echo "bench-vm.sh: $*" >&2; exit 2; }

# --- Guest side ---------------------------------------------------------------------------

if [ "${1:-}" = --guest ]; then
    OUT=${2:?--guest DIR}
    grep -qw swift_vfio_bench=1 /proc/cmdline || die "not in a bench VM (no swift_vfio_bench=1 on the kernel command line); refusing"
    # shellcheck source=/dev/null
    . "$OUT/bench.env"
    SPIN=${SPIN:-}  # BENCH_VM_SPIN from bench.env: extra poll-mode runs, one per --spin value
    PEER=${PEER:-}  # BENCH_VM_PEER from bench.env
    LOG=$OUT/guest.log
    exec 3>>"$LOG"
    log() { echo "$*" >&3; }
    ulimit -l unlimited
    modprobe vfio-pci 2>&3
    BDF=
    for d in /sys/bus/pci/devices/*; do
        [ "$(cat "$d/class")" = 0x010802 ] && { BDF=$(basename "$d"); break; }
    done
    [ -n "$BDF" ] || { log "no NVMe function in the guest"; echo FAILED >"$OUT/status"; exit 1; }
    log "kernel $(uname -r), $(nproc) CPUs, NVMe function $BDF, nvme poll_queues=$(cat /sys/module/nvme/parameters/poll_queues 2>/dev/null || echo ?), clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource 2>/dev/null || echo ?)"

    # kernel_disk: the namespace's block device once nvme has probed the function (boot or rebind).
    kernel_disk() {
        local c n _
        for _ in $(seq 1 60); do
            for c in "/sys/bus/pci/devices/$BDF/nvme"/nvme*; do
                [ -d "$c" ] || continue
                n=$(basename "$c")n1
                [ -b "/dev/$n" ] && { echo "/dev/$n"; return 0; }
            done
            sleep 0.5
        done
        return 1
    }
    if [ "${MODE:-}" = tcp ]; then
        # shellcheck source=scripts/lib/bench-tcp.sh
        . "$REPO/scripts/lib/bench-tcp.sh"
        if bench_tcp_guest; then echo DONE >"$OUT/status"; else echo FAILED >"$OUT/status"; fi
        exit 0
    fi
    run_fio() { # NAME ENGINE QD EXTRA...
        local name=$1 engine=$2 qd=$3
        shift 3
        fio --name="$name" --filename="$DISK" --direct=1 --rw=randread --bs="$BS" --iodepth="$qd" \
            --ioengine="$engine" --time_based=1 --runtime="$TIME" --ramp_time=1 --norandommap=1 \
            --randrepeat=0 --group_reporting=1 --output-format=json "$@" \
            --output="$OUT/r$ROUND-kernel-$name-qd$qd.json" 2>&3 || log "fio $name qd$qd failed"
    }
    for ROUND in $(seq 1 "$ROUNDS"); do
        DISK=$(kernel_disk) || { log "no nvme block device for $BDF"; echo FAILED >"$OUT/status"; exit 1; }
        log "round $ROUND: kernel nvme driver on $DISK"
        for qd in 1 32; do
            run_fio libaio-irq libaio "$qd"
            run_fio io_uring-irq io_uring "$qd"
            # Polled completions need a poll queue (nvme.poll_queues) and RWF_HIPRI.
            if [ "$(cat /sys/module/nvme/parameters/poll_queues 2>/dev/null || echo 0)" -gt 0 ]; then
                run_fio io_uring-polled io_uring "$qd" --hipri=1
            fi
        done
        log "round $ROUND: our driver ($VFIOCTL bind $BDF)"
        "$VFIOCTL" bind "$BDF" >&3 2>&1 || { log "vfioctl bind failed"; echo FAILED >"$OUT/status"; exit 1; }
        ours() { # CONFIG QD: one run of ours, named CONFIG (poll, poll-b, poll-spin-V, interrupt)
            local mode=$1 qd=$2 spin=()
            [[ $mode == poll-spin-* ]] && spin=(--spin "${mode#poll-spin-}")
            "$VFIOCTL" nvme perf --device "$BDF" --rw randread --bs "$BS" --qd "$qd" --queues 1 --mode "${mode%%-*}" \
                "${spin[@]}" --time "${TIME}s" --json >"$OUT/r$ROUND-ours-$mode-qd$qd.json" 2>&3 || log "vfioctl nvme perf $mode qd$qd failed"
        }
        peer() { # QD RUN
            local command=${PEER//\{bdf\}/$BDF}
            command=${command//\{qd\}/$1}
            command=${command//\{time\}/$TIME}
            # shellcheck disable=SC2086 # the peer's command line, split into words
            timeout $((TIME + 30)) $command </dev/null >"$OUT/r$ROUND-peer-qd$1-$2.txt" 2>&3 || log "peer qd$1 run $2 failed: $command"
        }
        for qd in 1 32; do
            ours poll "$qd"
            if [ -n "$PEER" ]; then
                peer "$qd" 1
                peer "$qd" 2
                ours poll-b "$qd"
            fi
            for v in $SPIN; do ours "poll-spin-$v" "$qd"; done
            ours interrupt "$qd"
        done
        "$VFIOCTL" unbind --driver nvme "$BDF" >&3 2>&1 || log "vfioctl unbind failed"
    done
    echo DONE >"$OUT/status"
    exit 0
fi

# --- Host side ----------------------------------------------------------------------------

# shellcheck source=scripts/lib/vm.sh
. "$REPO/scripts/lib/vm.sh"
vm_tool bench-vm.sh
install=1 build=1 mode=drivers
for arg in "$@"; do
    case $arg in
    --tcp) mode=tcp ;;
    --no-install) install=0 ;;
    --no-build) build=0 ;;
    -h | --help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $arg" ;;
    esac
done
if ((install)); then vm_install --bench; else vm_install --bench --check; fi
vm_need vng qemu-system-x86_64 fio timeout truncate python3

SCRATCH=${BENCH_VM_SCRATCH:-$REPO/.build-bench-root}
if ((build)); then
    echo "== build: swift build -c release --scratch-path $SCRATCH --product vfioctl"
    vm_build "$SCRATCH" vfioctl /dev/null || die "building vfioctl failed (run the command above to see why)"
fi
VFIOCTL=$SCRATCH/release/vfioctl
[ -x "$VFIOCTL" ] || die "$VFIOCTL is not built"

vm_work bench-vm
OUT=$VM_WORK/out
VM_KERNEL=${BENCH_VM_KERNEL:-${VM_KERNEL:-}}
VM_CPUS=${BENCH_VM_CPUS:-2}
VM_MEMORY=${BENCH_VM_MEMORY:-2G}
vm_new bench "$OUT"
cat >"$OUT/bench.env" <<EOF
TIME=$TIME
ROUNDS=$ROUNDS
VFIOCTL=$VFIOCTL
SPIN="${BENCH_VM_SPIN:-}"
BS=${BENCH_VM_BS:-4k}
PEER="${BENCH_VM_PEER:-}"
MODE=$mode
MODES="${BENCH_VM_TCP_MODES:-poll interrupt}"
CONNECT="${BENCH_VM_TCP_CONNECT:-}"
EOF

# iommu=pt: the kernel driver's DMA is not translated (its fastest setting: no IOMMU map and unmap
# per I/O); VFIO still gets its own translated domain for our driver. BENCH_VM_IOMMU=nopt
# translates the kernel's DMA too, as scripts/hil-test.sh boots.
IOMMU=${BENCH_VM_IOMMU:-pt}
case $IOMMU in pt) vm_iommu intel-pt ;; nopt) vm_iommu intel ;; *) die "BENCH_VM_IOMMU=$IOMMU: use pt or nopt" ;; esac
# clocksource=tsc: under TCG the guest kernel otherwise picks the HPET, and then every
# clock_gettime is a system call plus an emulated MMIO read (fio's polled QD1 p50: 187-506 us with
# the HPET, 43 us with the TSC in one run). Both sides read the clock per I/O (fio for slat/clat, vfioctl for
# its latency histogram), fio more often, so the HPET taxes the kernel side more. With the TSC
# both read it in the vDSO. BENCH_VM_APPEND= (empty) boots with the kernel's own choice.
APPEND=${BENCH_VM_APPEND-clocksource=tsc tsc=reliable}
# shellcheck disable=SC2086 # APPEND is a list of kernel parameters
vm_append swift_vfio_bench=1 nvme.poll_queues=1 $APPEND
vm_image bench "$VM_WORK/nvme.img" "${BENCH_VM_SIZE:-1G}"
vm_device nvme,id=nv0,serial=BENCH-VM,addr=0x10,drive=bench
read -ra spins <<<"${BENCH_VM_SPIN:-}"
peer_runs=0
[ -n "${BENCH_VM_PEER:-}" ] && peer_runs=6
runs_per_round=$((10 + 2 * ${#spins[@]} + peer_runs))
limit=$((120 + ROUNDS * runs_per_round * (TIME + 20)))
# --tcp: four fio runs per round, and two target set-ups (bind, probe, connect) of up to a minute.
read -ra tcp_modes <<<"${BENCH_VM_TCP_MODES:-poll interrupt}"
[ "$mode" = tcp ] && limit=$((180 + ROUNDS * (1 + ${#tcp_modes[@]}) * (2 * (TIME + 20) + 60)))
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "== VM: $("${VM_QEMU:-qemu-system-x86_64}" --version | head -1), TCG, $VM_NCPUS vCPUs, kernel $(basename "$VM_KERNEL_PATH"), one QEMU nvme (${BENCH_VM_SIZE:-1G} sparse raw), iommu=$IOMMU${APPEND:+ $APPEND}, $TIME s per run, $ROUNDS round(s)$([ "$mode" = tcp ] && echo ", --tcp: kernel nvmet-tcp and ours (${BENCH_VM_TCP_MODES:-poll interrupt})"), at most $limit s; logs in $VM_WORK"
vm_boot "$limit" "bash $REPO/scripts/bench-vm.sh --guest $OUT"
echo "== VM ran $VM_SECONDS s (vng exit status $VM_RC)"
status=0
if [ "$(cat "$OUT/status" 2>/dev/null)" != DONE ]; then
    echo "bench-vm.sh: the guest did not finish; last lines of the logs:" >&2
    tail -n 20 "$OUT/guest.log" "$OUT/console.log" 2>/dev/null | sed 's/^/   | /' >&2
    status=1
fi
sed 's/^/   guest: /' "$OUT/guest.log" 2>/dev/null | grep -v '^   guest: *$' | head -40

if [ "$mode" = tcp ]; then
    # shellcheck source=scripts/lib/bench-tcp.sh
    . "$REPO/scripts/lib/bench-tcp.sh"
    bench_tcp_report "$OUT" || status=1
    if ((status)); then echo "== logs kept in $VM_WORK" >&2; else rm -rf "$VM_WORK"; fi
    exit $status
fi
python3 - "$OUT" "$ROUNDS" <<'EOF' || status=1
import glob, json, os, re, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
best = {}  # (driver, config, qd) -> (iops, p50 us, p99 us)
runs = {}  # (config, qd) -> IOPS of each of our runs, in order
polling = {}  # (config, qd) -> (empty polls, idle checks, pauses per I/O) of the best run
peer = {}  # qd -> IOPS of each peer run, in order
for path in sorted(glob.glob(os.path.join(out, "r*-peer-qd*-*.txt"))):
    m = re.match(r"r\d+-peer-qd(\d+)-\d+\.txt$", os.path.basename(path))
    lines = [l for l in open(path).read().replace("\r", "\n").splitlines() if re.match(r"^\s*[0-9.]+\s", l)]
    if m and lines:
        peer.setdefault(int(m.group(1)), []).append(float(lines[-1].split()[0]))
for path in sorted(glob.glob(os.path.join(out, "r*-*.json"))):
    m = re.match(r"r\d+-(kernel|ours)-(.+)-qd(\d+)\.json$", os.path.basename(path))
    if not m:
        continue
    driver, config, qd = m.group(1), m.group(2), int(m.group(3))
    try:
        text = open(path).read()
        # fio may print notes before its JSON object
        data = json.loads(text[text.index("{"):])
    except (ValueError, OSError):
        print(f"   unreadable result {os.path.basename(path)}", file=sys.stderr)
        continue
    if driver == "kernel":
        job = data["jobs"][0]["read"]
        pct = job.get("clat_ns", {}).get("percentile", {})
        row = (job["iops"], pct.get("50.000000", 0) / 1000, pct.get("99.000000", 0) / 1000)
        if job.get("io_bytes", 0) == 0 or data["jobs"][0].get("error", 0):
            continue
    else:
        if data.get("errors", 0):
            continue
        row = (data["iops"], data["lat_p50_ns"] / 1000, data["lat_p99_ns"] / 1000)
        runs.setdefault((config, qd), []).append(data["iops"])
    key = (driver, config, qd)
    if key not in best or row[0] > best[key][0]:
        best[key] = row
        if driver == "ours" and data.get("ios"):
            polling[(config, qd)] = (data.get("empty_polls", 0) / data["ios"], data.get("idle_checks", 0) / data["ios"],
                                     data.get("pauses", 0) / data["ios"])
if not best:
    print("no results")
    sys.exit(1)
print(f"   {'driver':<7} {'completion':<16} {'qd':>3} {'IOPS':>9} {'p50_us':>8} {'p99_us':>8}")
for qd in (1, 32):
    for (driver, config, q), (iops, p50, p99) in sorted(best.items()):
        if q == qd:
            extra = ""
            if driver == "ours" and (config, q) in polling:
                e, i, p = polling[(config, q)]
                extra = f"   per I/O: {e:.1f} empty polls ({p:.1f} paused), {i:.3f} idle checks"
            print(f"   {driver:<7} {config:<16} {qd:>3} {iops:>9.0f} {p50:>8.1f} {p99:>8.1f}{extra}")
if rounds > 1:
    for (config, qd), values in sorted(runs.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        print(f"   ours {config} qd{qd} runs: {' / '.join(f'{v:.0f}' for v in values)} (median {statistics.median(values):.0f})")
ratios = {}
for qd in (1, 32):
    ours = {c: v[0] for (d, c, q), v in best.items() if d == "ours" and q == qd}
    kern = {c: v[0] for (d, c, q), v in best.items() if d == "kernel" and q == qd}
    if not ours or not kern:
        ratios[qd] = float("nan")
        continue
    o, k = max(ours, key=ours.get), max(kern, key=kern.get)
    ratios[qd] = ours[o] / kern[k]
    like = []
    if "interrupt" in ours and "io_uring-irq" in kern:
        like.append(f"interrupt vs io_uring-irq {ours['interrupt'] / kern['io_uring-irq']:.2f}")
    if "poll" in ours and "io_uring-polled" in kern:
        like.append(f"poll vs io_uring-polled {ours['poll'] / kern['io_uring-polled']:.2f}")
    print(f"   QD{qd}: ours/kernel {ratios[qd]:.2f} (best: ours {o}, kernel {k}); {'; '.join(like)}")
# Against the C peer: medians of our poll runs (poll and poll-b, ABBA) and of its runs.
for qd, values in sorted(peer.items()):
    ours_poll = runs.get(("poll", qd), []) + runs.get(("poll-b", qd), [])
    if ours_poll:
        o, p = statistics.median(ours_poll), statistics.median(values)
        print(f"   QD{qd}: ours poll {' / '.join(f'{v:.0f}' for v in ours_poll)} (median {o:.0f}); "
              f"peer {' / '.join(f'{v:.0f}' for v in values)} (median {p:.0f}); ours/peer {o / p:.2f}")
print(f"qd1_ratio={ratios[1]:.2f} qd32_ratio={ratios[32]:.2f}")
EOF
if ((status)); then echo "== logs kept in $VM_WORK" >&2; else rm -rf "$VM_WORK"; fi
exit $status
