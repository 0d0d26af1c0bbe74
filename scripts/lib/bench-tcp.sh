# shellcheck shell=bash
# `scripts/bench-vm.sh --tcp` (issue 20): our NVMe/TCP target (`vfioctl nvme serve`) against the
# kernel's (nvmet-tcp), each exporting the same QEMU controller's namespace on 127.0.0.1, read by
# the same initiator (the guest kernel's nvme-tcp, `nvme connect`) with the same fio jobs:
# O_DIRECT random reads of BS at QD1 and QD32 (libaio). Ours runs once per completion mode of
# BENCH_VM_TCP_MODES (`vfioctl nvme serve --mode`, default "poll interrupt"), each a target of its
# own (ours-poll, ours-interrupt). Rounds alternate the order (ABBA: kernel, ours-poll,
# ours-interrupt, then the reverse, ...), so a drift of the host's load over the boot hits all
# alike. BENCH_VM_TCP_CONNECT: more `nvme connect` options for every target (--disable-sqflow).
# Sourced by bench-vm.sh: bench_tcp_guest runs in the guest, bench_tcp_report on the host.
#
# CPU per I/O, on the target's side, two ways per run:
#   guest: the whole guest's busy CPU time (/proc/stat: everything but idle and iowait) over fio's
#          lifetime, minus fio's own (user+system of fio and its job process, bash's `time`), over
#          fio's I/Os. This is the only way to see nvmet, which runs in kernel workqueues and
#          softirqs; it also holds the initiator's receive path (nvme-tcp's io_work, TCP softirqs)
#          and the guest's background, which are the same under either target, so the difference
#          between the two is the targets'. Measured the same way for ours, for comparison.
#   serve: for ours only, the serve process's utime+stime (/proc/PID/stat) over the same window.

BENCH_TCP_NQN=nqn.2026-01.io.github.swift-vfio:bench-tcp
BENCH_TCP_HOST=nqn.2026-01.io.github.swift-vfio:bench-host
BENCH_TCP_HOSTID=5f1e2d3c-00b0-4000-8000-0000000000b0
BENCH_TCP_PORT=4420

# --- Guest side ---------------------------------------------------------------------------

# bench_tcp_block_device: the initiator's block device for the subsystem (namespace 1), whichever
# target serves it; its sysfs parent (multipath subsystem or controller) names the subsystem NQN.
bench_tcp_block_device() {
    local b p
    for b in /sys/block/nvme*n*; do
        [ -e "$b" ] || continue
        case ${b##*/} in nvme*c*n*) continue ;; esac
        p=$(cd -P "$b" && pwd -P)
        [ "$(cat "${p%/*}/subsysnqn" 2>/dev/null)" = "$BENCH_TCP_NQN" ] || continue
        echo "/dev/${b##*/}"
        return 0
    done
    return 1
}

bench_tcp_connect() {
    local _
    # shellcheck disable=SC2086 # CONNECT is a list of options
    nvme connect ${CONNECT:-} -t tcp -a 127.0.0.1 -s "$BENCH_TCP_PORT" -n "$BENCH_TCP_NQN" -q "$BENCH_TCP_HOST" -I "$BENCH_TCP_HOSTID" >&3 2>&1 ||
        { log "nvme connect to $1 failed"; return 1; }
    for _ in $(seq 1 60); do
        TCP_DISK=$(bench_tcp_block_device) && [ -b "$TCP_DISK" ] && return 0
        sleep 0.5
    done
    log "no block device through $1 30 s after nvme connect"
    return 1
}

bench_tcp_disconnect() {
    nvme disconnect -n "$BENCH_TCP_NQN" >&3 2>&1
    local _
    for _ in $(seq 1 40); do
        bench_tcp_block_device >/dev/null || return 0
        sleep 0.5
    done
    log "the initiator's block device is still there 20 s after nvme disconnect"
}

# bench_tcp_cpu_ticks: the guest's busy and total CPU ticks so far (/proc/stat, all CPUs).
bench_tcp_cpu_ticks() {
    awk '/^cpu / { busy = $2 + $3 + $4 + $7 + $8 + $9; print busy, busy + $5 + $6; exit }' /proc/stat
}

# bench_tcp_fio TARGET QD [SERVE_PID]: one fio run through TCP_DISK; the result and the CPU
# figures of its window go to r$ROUND-TARGET-qdQD.json and .cpu.
bench_tcp_fio() {
    local target=$1 qd=$2 pid=${3:-} base before after serve0=0 serve1=0 fio_cpu
    base=$OUT/r$ROUND-$target-qd$qd
    [ -n "$pid" ] && serve0=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
    before=$(bench_tcp_cpu_ticks)
    # bash's `time` reports fio's user and system time with its children's (the job process).
    fio_cpu=$( { TIMEFORMAT='%3U %3S'; time fio --name="tcp-$target" --filename="$TCP_DISK" --direct=1 --rw=randread --bs="$BS" \
        --iodepth="$qd" --ioengine=libaio --time_based=1 --runtime="$TIME" --norandommap=1 --randrepeat=0 \
        --group_reporting=1 --output-format=json --output="$base.json" >/dev/null 2>&3; } 2>&1) || log "fio $target qd$qd failed"
    after=$(bench_tcp_cpu_ticks)
    [ -n "$pid" ] && serve1=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
    # busy0 total0 busy1 total1 fio_user_s fio_sys_s serve_ticks clk_tck
    echo "$before $after $fio_cpu $((serve1 - serve0)) $(getconf CLK_TCK)" >"$base.cpu"
}

bench_tcp_kernel_round() { # the kernel's nvmet-tcp exporting the kernel nvme driver's namespace
    local disk s=/sys/kernel/config/nvmet/subsystems/$BENCH_TCP_NQN p=/sys/kernel/config/nvmet/ports/1
    disk=$(kernel_disk) || { log "no nvme block device for $BDF"; return 1; }
    log "round $ROUND: nvmet-tcp exporting $disk"
    if ! { mkdir "$s" && echo 1 >"$s/attr_allow_any_host" && mkdir "$s/namespaces/1" &&
        echo -n "$disk" >"$s/namespaces/1/device_path" && echo 1 >"$s/namespaces/1/enable" &&
        mkdir "$p" && echo tcp >"$p/addr_trtype" && echo ipv4 >"$p/addr_adrfam" &&
        echo 127.0.0.1 >"$p/addr_traddr" && echo "$BENCH_TCP_PORT" >"$p/addr_trsvcid" &&
        ln -s "$s" "$p/subsystems/$BENCH_TCP_NQN"; } 2>&3; then
        log "configuring nvmet failed"
        return 1
    fi
    if bench_tcp_connect nvmet; then
        for qd in 1 32; do bench_tcp_fio kernel "$qd"; done
        bench_tcp_disconnect
    fi
    rm -f "$p/subsystems/$BENCH_TCP_NQN"
    rmdir "$p" "$s/namespaces/1" "$s" 2>&3 || log "removing nvmet's configuration failed"
}

bench_tcp_ours_round() { # MODE: vfioctl nvme serve --mode MODE on the same function, bound to vfio-pci
    local pid _ serve_log=$OUT/r$ROUND-serve-$1.log
    log "round $ROUND: vfioctl nvme serve --mode $1 on $BDF"
    "$VFIOCTL" bind "$BDF" >&3 2>&1 || { log "vfioctl bind failed"; return 1; }
    "$VFIOCTL" nvme serve --device "$BDF" --listen "127.0.0.1:$BENCH_TCP_PORT" --nqn "$BENCH_TCP_NQN" --mode "$1" \
        </dev/null >"$serve_log" 2>&1 &
    pid=$!
    for _ in $(seq 1 120); do
        grep -q "on 127.0.0.1:$BENCH_TCP_PORT" "$serve_log" && break
        sleep 0.5
    done
    if bench_tcp_connect "vfioctl nvme serve"; then
        for qd in 1 32; do bench_tcp_fio "ours-$1" "$qd" "$pid"; done
        bench_tcp_disconnect
    fi
    kill -TERM "$pid" 2>/dev/null
    wait "$pid"
    "$VFIOCTL" unbind --driver nvme "$BDF" >&3 2>&1 || log "vfioctl unbind failed"
}

# bench_tcp_guest: the rounds (bench-vm.sh's guest side has found BDF, read bench.env: ROUNDS,
# TIME, BS, VFIOCTL, and defined log and kernel_disk).
# shellcheck disable=SC2153 # ROUNDS comes from bench.env
bench_tcp_guest() {
    ip link set lo up 2>&3
    modprobe -a nvme-tcp nvmet nvmet-tcp 2>&3
    [ -d /sys/kernel/config/nvmet ] || mount -t configfs configfs /sys/kernel/config 2>&3
    [ -d /sys/kernel/config/nvmet ] || { log "no nvmet in configfs (modprobe nvmet failed?)"; return 1; }
    local targets=(kernel) order m t
    for m in ${MODES:-poll interrupt}; do targets+=("$m"); done
    for ROUND in $(seq 1 "$ROUNDS"); do
        order=("${targets[@]}")
        if ((ROUND % 2 == 0)); then
            order=()
            for t in "${targets[@]}"; do order=("$t" "${order[@]}"); done
        fi
        for t in "${order[@]}"; do
            if [ "$t" = kernel ]; then bench_tcp_kernel_round || return 1; else bench_tcp_ours_round "$t" || return 1; fi
        done
    done
}

# --- Host side ----------------------------------------------------------------------------

# bench_tcp_report OUT: the table, and last the line tcp_qd1_ratio=… tcp_qd32_ratio=… (median IOPS
# of ours over the kernel's at each depth).
bench_tcp_report() {
    python3 - "$1" <<'EOF'
import glob, json, os, re, statistics, sys
out = sys.argv[1]
runs = {}  # (target, qd) -> [(round, iops, guest us/io, serve us/io or None, p50 us, p99 us)]
for path in sorted(glob.glob(os.path.join(out, "r*-*-qd*.json"))):
    m = re.match(r"r(\d+)-(kernel|ours-\w+)-qd(\d+)\.json$", os.path.basename(path))
    if not m:
        continue
    rnd, target, qd = int(m.group(1)), m.group(2), int(m.group(3))
    try:
        text = open(path).read()
        job = json.loads(text[text.index("{"):])["jobs"][0]
        cpu = open(path[:-5] + ".cpu").read().split()
        busy0, _, busy1, _, fio_user, fio_sys, serve, hz = (float(x) for x in cpu)
    except (ValueError, OSError, IndexError, KeyError):
        print(f"   unreadable result {os.path.basename(path)}", file=sys.stderr)
        continue
    read = job["read"]
    ios = read.get("total_ios", 0)
    if ios == 0 or job.get("error", 0):
        continue
    guest = ((busy1 - busy0) / hz - fio_user - fio_sys) / ios * 1e6
    pct = read.get("clat_ns", {}).get("percentile", {})
    runs.setdefault((target, qd), []).append(
        (rnd, read["iops"], guest, serve / hz / ios * 1e6 if target != "kernel" else None,
         pct.get("50.000000", 0) / 1000, pct.get("99.000000", 0) / 1000))
if not runs:
    print("no results")
    sys.exit(1)
med = lambda xs: statistics.median(xs) if xs else float("nan")
targets = ["kernel"] + sorted({t for t, _ in runs if t != "kernel"})
print(f"   {'target':<15} {'qd':>3} {'IOPS':>8} {'p50_us':>8} {'p99_us':>8} {'guest_cpu_us/io':>16} {'serve_cpu_us/io':>16}   IOPS per round")
for qd in (1, 32):
    for target in targets:
        rs = runs.get((target, qd), [])
        if not rs:
            continue
        serve = f"{med([r[3] for r in rs]):16.1f}" if target != "kernel" else f"{'-':>16}"
        print(f"   {target:<15} {qd:>3} {med([r[1] for r in rs]):8.0f} {med([r[4] for r in rs]):8.1f} {med([r[5] for r in rs]):8.1f} "
              f"{med([r[2] for r in rs]):16.1f} {serve}   {' / '.join(f'{r[1]:.0f}' for r in rs)}")
# Each mode of ours against the kernel; the last line takes our best mode at each depth.
ratios = {}
for qd in (1, 32):
    k = runs.get(("kernel", qd), [])
    best = None
    for target in targets[1:]:
        o = runs.get((target, qd), [])
        if not k or not o:
            continue
        r = med([x[1] for x in o]) / med([x[1] for x in k])
        print(f"   QD{qd}: {target}/kernel IOPS {r:.2f}, guest CPU per I/O {med([x[2] for x in o]) / med([x[2] for x in k]):.2f}")
        if best is None or r > best[0]:
            best = (r, target)
    ratios[qd] = best[0] if best else float("nan")
    if best:
        print(f"   QD{qd}: best of ours is {best[1]}")
print(f"tcp_qd1_ratio={ratios[1]:.2f} tcp_qd32_ratio={ratios[32]:.2f}")
EOF
}
