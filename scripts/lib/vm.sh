# shellcheck shell=bash
# Booting TCG virtual machines with QEMU's PCI devices behind an emulated Intel IOMMU: the one
# boot sequence of the hardware-in-the-loop suite (scripts/hil-test.sh), the VM benchmark
# (scripts/bench-vm.sh) and whatever boots come next. Sourced by host scripts (bash 4+); never
# run in a guest. Facts and pitfalls behind every default: /work/shared/hil.md and the header of
# scripts/hil-test.sh.
#
# A script describes one VM at a time, then boots it:
#
#   . "$REPO/scripts/lib/vm.sh"
#   vm_tool my-script.sh                 # prefix of messages; sets the INT/TERM handler
#   vm_work my-script                    # VM_WORK: a fresh folder under $TMPDIR for logs and images
#   vm_new NAME "$VM_WORK/NAME"          # start describing a VM; its folder is shared read-write
#   vm_image ID "$VM_WORK/a.img" 64M     # a sparse raw image as drive ID
#   vm_device nvme,id=nv0,serial=X,drive=ID,addr=0x10
#   vm_boot 600 "sh $REPO/scripts/my-guest.sh $VM_DIR"
#   # now: VM_RC (vng's status: 124 or 137 when the time limit killed it), VM_SECONDS,
#   # $VM_DIR/console.log (kernel console and the guest's output), VM_HOOK_RC
#
# Describing a VM (each call after vm_new; defaults in brackets):
#   vm_kernel PATH        guest kernel [VM_KERNEL, else the newest /boot/vmlinuz-*-amd64]. A
#                         self-built bzImage works if it has 9p, virtio and the modules the
#                         guest needs built in (vng boots it with the host's root filesystem).
#   vm_qemu PATH          QEMU binary [VM_QEMU, else qemu-system-x86_64 on PATH], e.g. QEMU 10.0
#                         from bookworm-backports installed to another prefix.
#   vm_iommu MODE         intel (the emulated VT-d: kernel-irqchip=split, intremap=on,
#                         caching-mode=on; guest intel_iommu=on iommu=nopt) [default];
#                         intel-pt (same, guest iommu=pt: the kernel's own DMA untranslated);
#                         none (no vIOMMU: VFIO then needs no-IOMMU mode in the guest kernel).
#   vm_cpus N, vm_memory SIZE   [VM_CPUS or 2, VM_MEMORY or 2G]
#   vm_append WORD...     guest kernel command line words
#   vm_args ARG...        raw QEMU arguments (no spaces inside one argument: vng splits them)
#   vm_device SPEC        one `-device SPEC` (nvme, nvme-ns, nvme-subsys, e1000e, ...)
#   vm_image ID FILE [SIZE]     a raw image as `-drive if=none,id=ID`; with SIZE it is created
#                         sparse (truncate), without it FILE must exist
#   vm_root_port ID [ADDR]      a hotplug-capable `pcie-root-port` (own chassis/slot number);
#                         devices behind it say bus=ID and appear at 0000:BB:00.0 in the guest
#   vm_qmp                a QMP socket at $VM_DIR/qmp.sock (VM_QMP_SOCKET) for the host
#   vm_hook COMMAND...    a host-side command started with the VM and stopped when it ends,
#                         with VM_DIR, VM_NAME and VM_QMP_SOCKET in its environment; output in
#                         $VM_DIR/hook.log, exit status in VM_HOOK_RC after vm_boot (143 when it
#                         was still running and was stopped)
#
# Host and guest talk through the shared folder (the guest sees $VM_DIR at the same path) with
# signals: files $VM_DIR/signals/NAME, written whole. Both sides use vm_signal NAME [TEXT],
# vm_wait_signal NAME SECONDS and vm_signal_text NAME from scripts/lib/signals.sh (POSIX sh; vm.sh
# sources it, a guest script sources it itself). A hook script sources vm.sh too and finds VM_DIR
# and VM_QMP_SOCKET in its environment. QMP from the host: vm_qmp_command COMMAND
# [ARGUMENTS_JSON [EVENT SECONDS]] (scripts/lib/qmp.py) prints the command's "return" as JSON and,
# with EVENT, waits for that event on the same connection (QEMU sends events only to a connected
# client). A hot-unplug check, for example: the guest binds the function behind a root port and
# opens it, then `vm_signal unplug-nv0`; the hook does `vm_wait_signal unplug-nv0 300 &&
# vm_qmp_command device_del '{"id":"nv0"}' DEVICE_DELETED 60; vm_signal unplug-nv0.done $?`; the
# guest waits for unplug-nv0.done and reads its status with vm_signal_text.
#
# Adding a boot to a suite: see "Adding a boot" in scripts/hil-test.sh. Adding a kind of VM that
# the calls above cannot express: add a vm_ function here, named after what it adds, and list it
# in this header.

# VM_* variables set here are read by the scripts that source this file.
# shellcheck disable=SC2034
VM_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VM_REPO=$(cd "$VM_LIB/../.." && pwd)
VM_TOOL=vm.sh
VM_WORK=
VM_PID=
VM_HOOK_PID=
# pip installs vng to ~/.local/bin for a user install.
export PATH=$PATH:$HOME/.local/bin

vm_die() { echo "$VM_TOOL: $*" >&2; exit 2; }

# vm_tool NAME: names the calling script in messages and takes over Ctrl-C and CI cancels.
# timeout(1) puts itself and QEMU in their own process group, out of reach of a signal aimed at
# the calling script: pass it on, or the VM runs until its time limit.
vm_tool() {
    VM_TOOL=$1
    trap vm_interrupted INT TERM
}

vm_interrupted() {
    [ -n "$VM_PID" ] && kill -TERM "$VM_PID" 2>/dev/null
    [ -n "$VM_HOOK_PID" ] && kill -TERM "$VM_HOOK_PID" 2>/dev/null
    echo "$VM_TOOL: interrupted${VM_WORK:+ (logs in $VM_WORK)}" >&2
    exit 130
}

# vm_install FLAG: installs what the VMs need (scripts/install-deps.sh FLAG: --hil or --bench),
# deciding by package (dpkg-query, pip show), never by a command on the PATH. With FLAG --check
# appended nothing is installed: missing packages are named and the status is non-zero.
vm_install() {
    "$VM_REPO/scripts/install-deps.sh" "$@" || vm_die "scripts/install-deps.sh $* failed (see above)"
    hash -r
}

# vm_need COMMAND...: each command is on the PATH, else the run stops naming it.
vm_need() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 || vm_die "$c is not on the PATH (scripts/install-deps.sh --hil installs it)"
    done
}

# vm_work PREFIX: a fresh work folder VM_WORK. QEMU parses -drive with commas, so its path must
# have none (nor spaces).
vm_work() {
    VM_WORK=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX") || vm_die "mktemp failed"
    case $VM_WORK in *,* | *' '*) vm_die "work folder $VM_WORK has a comma or space, which QEMU's -drive cannot take" ;; esac
}

# vm_build SCRATCH PRODUCT LOG: a release build of PRODUCT with SwiftPM's scratch path SCRATCH
# (the guest runs it from the read-only host filesystem). Output to LOG; status of swift build.
vm_build() {
    (cd "$VM_REPO" && swift build -c release --scratch-path "$1" --product "$2") >"$3" 2>&1
}

# vm_default_kernel: VM_KERNEL, else the newest Debian kernel in /boot.
vm_default_kernel() {
    local k
    if [ -n "${VM_KERNEL:-}" ]; then
        echo "$VM_KERNEL"
        return
    fi
    for k in /boot/vmlinuz-*-amd64 /boot/vmlinuz-*; do [ -e "$k" ] && echo "$k"; done | sort -V | tail -n 1
}

# --- Describing a VM ----------------------------------------------------------------------

vm_new() {
    VM_NAME=$1
    VM_DIR=$2
    mkdir -p "$VM_DIR" || vm_die "cannot create $VM_DIR"
    case $VM_DIR in *,* | *' '*) vm_die "VM folder $VM_DIR has a comma or space" ;; esac
    VM_KERNEL_PATH=$(vm_default_kernel)
    VM_QEMU_BINARY=${VM_QEMU:-}
    VM_IOMMU_MODE=intel
    VM_NCPUS=${VM_CPUS:-2}
    VM_MEM=${VM_MEMORY:-2G}
    VM_APPEND_WORDS=()
    VM_QEMU_ARGS=()
    VM_HOOK_COMMAND=()
    VM_QMP_SOCKET=
    VM_PORTS=0
    VM_RC=
    VM_SECONDS=
    VM_HOOK_RC=
}

vm_kernel() { VM_KERNEL_PATH=$1; }
vm_qemu() { VM_QEMU_BINARY=$1; }
vm_cpus() { VM_NCPUS=$1; }
vm_memory() { VM_MEM=$1; }
vm_append() { VM_APPEND_WORDS+=("$@"); }
vm_args() { VM_QEMU_ARGS+=("$@"); }
vm_device() { VM_QEMU_ARGS+=(-device "$1"); }
vm_hook() { VM_HOOK_COMMAND=("$@"); }

vm_iommu() {
    case $1 in
    intel | intel-pt | none) VM_IOMMU_MODE=$1 ;;
    *) vm_die "vm_iommu $1: use intel, intel-pt or none" ;;
    esac
}

vm_image() {
    if [ -n "${3:-}" ]; then
        truncate -s "$3" "$2" || vm_die "cannot create image $2"
    fi
    [ -e "$2" ] || vm_die "image $2 does not exist"
    VM_QEMU_ARGS+=(-drive "file=$2,if=none,id=$1,format=raw")
}

vm_root_port() {
    VM_PORTS=$((VM_PORTS + 1))
    VM_QEMU_ARGS+=(-device "pcie-root-port,id=$1,chassis=$VM_PORTS,slot=$VM_PORTS${2:+,addr=$2}")
}

vm_qmp() {
    VM_QMP_SOCKET=$VM_DIR/qmp.sock
    rm -f "$VM_QMP_SOCKET"
    VM_QEMU_ARGS+=(-qmp "unix:$VM_QMP_SOCKET,server=on,wait=off")
}

# --- Booting ------------------------------------------------------------------------------

# vm_boot LIMIT GUEST_COMMAND: boots the VM described since vm_new with `vng` (TCG: /dev/kvm
# exists here but nested guests hang or crash), runs GUEST_COMMAND in it as root, and waits at
# most LIMIT seconds. Sets VM_RC, VM_SECONDS, VM_HOOK_RC.
vm_boot() {
    local limit=$1 command=$2 machine=q35 append=() opts t0
    { [ -n "$VM_KERNEL_PATH" ] && [ -r "$VM_KERNEL_PATH" ]; } ||
        vm_die "no readable guest kernel '${VM_KERNEL_PATH}' (set VM_KERNEL or call vm_kernel)"
    case $VM_IOMMU_MODE in
    intel | intel-pt)
        # Interrupt remapping needs the split irqchip; VFIO maps through a vIOMMU only with
        # caching-mode=on.
        machine=q35,kernel-irqchip=split
        append=(intel_iommu=on "iommu=$([ "$VM_IOMMU_MODE" = intel ] && echo nopt || echo pt)")
        ;;
    esac
    opts="-machine $machine"
    [ "$VM_IOMMU_MODE" = none ] || opts+=" -device intel-iommu,intremap=on,caching-mode=on"
    [ ${#VM_QEMU_ARGS[@]} -eq 0 ] || opts+=" ${VM_QEMU_ARGS[*]}"
    # no_timer_check: under TCG on a loaded host the guest's early check that the timer ticks
    # through the IO-APIC can time out, and with interrupt remapping that is a panic ("timer
    # doesn't work through Interrupt-remapped IO-APIC"): seen in CI with two VMs on 2 cores.
    append+=(no_timer_check "${VM_APPEND_WORDS[@]}")
    mkdir -p "$VM_DIR/signals"
    t0=$SECONDS
    # `--qemu-opts=` with the `=`: with a space vng takes the options as its own. vng execs
    # QEMU, so timeout's signal reaches QEMU itself and no VM is orphaned.
    (cd "$VM_REPO" && exec timeout --kill-after=10 "${limit}s" vng --verbose --run "$VM_KERNEL_PATH" \
        ${VM_QEMU_BINARY:+--qemu "$VM_QEMU_BINARY"} \
        --disable-microvm --disable-kvm --memory "$VM_MEM" --cpus "$VM_NCPUS" \
        --rwdir="$VM_DIR" --append "${append[*]}" --qemu-opts="$opts" \
        --exec "$command") >"$VM_DIR/console.log" 2>&1 </dev/null &
    VM_PID=$!
    if [ ${#VM_HOOK_COMMAND[@]} -gt 0 ]; then
        (export VM_DIR VM_NAME VM_QMP_SOCKET; exec "${VM_HOOK_COMMAND[@]}") >"$VM_DIR/hook.log" 2>&1 </dev/null &
        VM_HOOK_PID=$!
    fi
    wait "$VM_PID"
    VM_RC=$?
    VM_PID=
    VM_SECONDS=$((SECONDS - t0))
    if [ -n "$VM_HOOK_PID" ]; then
        kill -TERM "$VM_HOOK_PID" 2>/dev/null
        wait "$VM_HOOK_PID"
        VM_HOOK_RC=$?
        VM_HOOK_PID=
    fi
}

# vm_timed_out: the last vm_boot ended by its time limit.
vm_timed_out() { [ "$VM_RC" = 124 ] || [ "$VM_RC" = 137 ]; }

# vm_tail FILE [LINES]: the end of a log, indented, for a failure report.
vm_tail() {
    [ -s "$1" ] || return 0
    echo "   --- last lines of $1"
    tail -n "${2:-40}" "$1" | sed 's/^/   | /'
}

# --- Host side of the shared folder and QMP -----------------------------------------------

# vm_signal, vm_wait_signal, vm_signal_text: the same functions the guest uses.
# shellcheck source=scripts/lib/signals.sh
. "$VM_LIB/signals.sh"

vm_qmp_command() {
    [ -n "$VM_QMP_SOCKET" ] || vm_die "vm_qmp_command without a QMP socket (call vm_qmp before vm_boot)"
    python3 "$VM_LIB/qmp.py" "$VM_QMP_SOCKET" "$@"
}
