#!/usr/bin/env bash
# Hardware in the loop without hardware: our driver against QEMU's NVMe controllers and e1000e
# NICs behind an emulated Intel IOMMU, through the guest kernel's real vfio-pci, in TCG virtual
# machines.
#
#   scripts/hil-test.sh [--no-install] [--no-build] [--keep] [BOOT...]
#
# Installs what is missing (scripts/install-deps.sh --hil, which decides by package; with
# --no-install it only checks, and stops naming what is missing), builds vfioctl and vfio-hil in
# release mode on the host, then boots one VM per BOOT (default: all, in HIL_BOOTS order) through
# scripts/lib/vm.sh. Inside, scripts/hil/guest.sh binds each function under test to vfio-pci (in
# the guest only; nothing on the host is ever bound), runs the checks and gives the functions back
# to the kernel's drivers. Every check prints `PASS name`, `FAIL name: reason` or
# `SKIP name: reason`; the last line is exactly `N passed, N failed` (`, N skipped` when any) and
# any failure, hung boot or boot without results makes the exit status non-zero.
#
# Boots (functions boot_NAME below): one VM per boot, several devices per VM, because each TCG
# boot costs 25-75 s here before the first check runs (udev settling is most of it).
#   formats  lba512     one namespace, 512 B blocks, at 0000:00:10.0
#            lba4k-2ns  namespace 1 with 4 KiB blocks, namespace 2 with 512 B blocks, behind a
#                       pcie-root-port (the guest finds it by its serial number); the host's QMP
#                       socket and hook answer the guest's qmp-query-pci signal, and read CC and
#                       CSTS for vfio-hil's nvme-quiet-after-giving-up (HMP xp at BAR0)
#   namespaces aer      in an nvme-subsys, namespace 2 detached=on: vfio-hil attaches and detaches
#                       it (aer-namespace-attach-detach: the AER, the rescan, verified I/O)
#   limits   mdts2      MDTS 2 (16 KiB per command with 4 KiB pages)
#            ioqpairs2  max_ioqpairs=2
#            e1000e     NIC pair: two Intel 82574L (`-device e1000e`) on one QEMU hub; ours at
#                       0000:00:18.0 goes to vfio-pci for vfio-hil's NIC checks, the peer at
#                       0000:00:19.0 stays with the kernel's e1000e and answers from the other
#                       side (ARP, ping, UDP; its /sys/class/net counters see our frames).
#                       Generator figures come back as `#` lines.
#   queues   sharedvec  msix_qsize=2, max_ioqpairs=4: four I/O queue pairs on one shared vector
#            cmb        cmb_size_mb=64: a Controller Memory Buffer in BAR2, I/O SQs placed in it
#   hotplug  hotplug-nvme   a QEMU nvme (QMP id nv0) behind a pcie-root-port, and
#            hotplug-nic    an e1000e behind another: device_del while our driver runs I/O,
#                           then device_add, once per completion mode (scripts/hil/hotplug.sh)
#   iommufd  iommufd-nvme    on the kernel scripts/lib/guest-kernel.sh builds from Debian's
#                            linux-source-6.12 (Debian's own kernels lack all of this): vfio-hil
#                            runs once through iommufd and the device cdev, once through the
#                            container that iommufd serves (CONFIG_IOMMUFD_VFIO_CONTAINER)
#            iommufd-e1000e  NIC pair as above, vfio-hil through iommufd, plus vfioctl's own
#                            net gen and net echo (which choose iommufd by themselves)
#   tcp      tcp        one controller served by `vfioctl nvme serve` on 127.0.0.1 to the guest
#                       kernel's NVMe/TCP initiator (nvme-cli, ext4, fio; scripts/hil/tcp.sh), then
#                       given back to the kernel's nvme driver, which reads what was written
#   noiommu  noiommu-nvme    the same kernel without a vIOMMU, vfio.enable_unsafe_noiommu_mode=1,
#                            128 hugepages: our buffers carry guest-physical addresses from
#                            /proc/self/pagemap and QEMU's controller DMAs to them
# A controller without a bus sits at 0000:00:1<i>.0 (addr 0x10+i on the q35 root bus), each in
# its own IOMMU group. The guest kernel builds in the background from the start of the run
# (nice 19, cached under ~/.cache/swift-vfio/guest-kernel; see scripts/lib/guest-kernel.sh), and
# its boots come last, so that a cold build overlaps the other boots.
#
# Adding a boot: write `boot_NAME() { ... }` and add NAME to HIL_BOOTS. Inside it, in any order:
#   hil_nvme NAME OPTIONS NAMESPACES [BUS]   a QEMU nvme controller: OPTIONS are nvme device
#       options (mdts=2,cmb_size_mb=64,...; `-` for none), NAMESPACES nsid:block-size:MiB[,...];
#       with BUS (a vm_root_port or an nvme-subsys id... anything `bus=` accepts) the guest finds
#       the function by serial instead of by address. Every controller gets the pattern, the
#       kernel checks, bind, vfio-hil, the vfioctl checks and the unbind of guest.sh.
#   hil_detached_namespace NAME NSID BLOCK-SIZE MIB   a detached=on namespace of the last
#       hil_nvme's controller, which OPTIONS put in an nvme-subsys (subsys=ID)
#   hil_nic_pair NAME OUR_ADDR OUR_MAC PEER_ADDR PEER_MAC   an e1000e pair on its own hub
#   hil_nvme_namespace_options OPTIONS  extra nvme-ns options for the next hil_nvme's
#       namespaces (metadata, PI: ms=8,pi=1,...), cleared by that hil_nvme
#   hil_time SECONDS   more time for this boot (a hot-unplug that waits, a slow device)
#   hil_env NAME VALUE  a variable for the guest (boot.env): HIL_BACKENDS "iommufd container"
#       runs vfio-hil once per backend (results NAME/BACKEND/...; a NIC takes the first only),
#       HIL_VFIOCTL_NET 1 adds the vfioctl net gen/echo checks, HIL_BIND_WITH sysfs
#   hil_guest_kernel   this boot runs on the self-built guest kernel (first line of the boot;
#       the boot fails without booting when that kernel could not be built)
#   and any call of scripts/lib/vm.sh: vm_kernel (a self-built kernel), vm_qemu (QEMU 10.0),
#   vm_iommu none (no vIOMMU; guest.sh is told through HIL_IOMMU), vm_device/vm_args (devices
#   guest.sh does not know: check them from a guest check), vm_root_port, vm_qmp, vm_hook
#   (a host-side script that drives QMP while the guest runs; see boot_formats and
#   scripts/hil/hook-qmp.sh), vm_append.
# The guest learns of the boot through $BOOT_DIR/boot.env (HIL_BOOT, HIL_IOMMU, HIL_QMP, ...),
# controllers and nics (formats in scripts/hil/guest.sh).
#
# Adding a check:
#   - of our driver: a Swift check in vfio-hil (Sources/vfio-hil; the NVMe scenarios shared with
#     the emulated controller's tests live in Sources/DriverScenarios); nothing to change here;
#   - at the shell level in the guest: a `ck_<what>` function in scripts/hil/checks.sh
#     (prints a reason and returns 1 to fail, 2 to skip) and one `check NAME ck_<what> ARGS`
#     line at the right phase of scripts/hil/guest.sh (NIC: scripts/hil/nic.sh);
#   - one that needs the host during the run (QMP: hot-unplug, device_add): the guest signals
#     with vm_signal (scripts/lib/signals.sh), the boot's vm_hook script acts and answers.
#
# Before boot the host writes a pattern into every namespace's raw image: HIL_PATTERN_BLOCKS
# blocks from LBA HIL_PATTERN_LBA (odd on purpose, so that a byte/block or 4 KiB rounding
# mistake reads the wrong bytes); block k holds the text "swift-vfio hil CTRL nsN lba L"
# repeated. The guest checks it with the kernel's nvme driver before binding, and again after
# giving the device back.
#
# Contract with vfio-hil (Sources/vfio-hil, the Swift checks of our drivers), run once per
# function while it is bound to vfio-pci, as root with `ulimit -l unlimited`:
#   vfio-hil --device BDF
#   environment, NVMe controller:
#     HIL_CONTROLLER      controller name (lba512, mdts2, ...)
#     HIL_BDF             same as --device
#     HIL_SERIAL          serial number QEMU reports in Identify Controller (SN)
#     HIL_MDTS            MDTS QEMU was given (7 is QEMU's default; 0 would mean no limit)
#     HIL_MAX_IOQPAIRS    I/O queue pairs QEMU allows (64 is QEMU's default)
#     HIL_NAMESPACES      space-separated nsid:block-size:block-count, e.g. "1:4096:16384 2:512:65536"
#     HIL_PATTERN_LBA, HIL_PATTERN_BLOCKS
#     HIL_PATTERN_DIR     holds pattern-ns<N>.bin: the bytes at HIL_PATTERN_LBA of namespace N.
#                         Read them, never overwrite them: the guest rereads them afterwards.
#     HIL_HANDOFF_DIR     writable. For blocks vfio-hil writes through our driver, it leaves
#                         ns<N>-lba<L>.bin (the bytes written from LBA L, whole blocks); after
#                         the kernel's nvme driver is back, the guest reads each one with dd and
#                         reports kernel-sees-driver-writes (SKIP when the folder is empty).
#     HIL_QUIET_PROBE     a command (boots with the QMP hook; empty elsewhere): `$HIL_QUIET_PROBE
#                         BDF` prints PCI_COMMAND and CC/CSTS as another process sees them
#                         (scripts/hil/quiet-probe.sh), for nvme-quiet-after-giving-up
#   environment, NIC (our function; the peer is the kernel's):
#     HIL_NIC             pair name; HIL_OUR_MAC, HIL_OUR_IP; HIL_PEER_BDF, HIL_PEER_MAC,
#                         HIL_PEER_IP, HIL_PEER_IF (the peer's interface, up with HIL_PEER_IP/24)
#   both: HIL_SCRATCH     writable scratch folder in the guest's /tmp
#         HIL_VFIO_BACKEND container or iommufd: open every device through that backend and
#                         check that it was used (unset: the automatic choice)
#         HIL_NOIOMMU     1 in a boot without an IOMMU: opt in to no-IOMMU mode and expect it
#   output: one `PASS|FAIL|SKIP name[: reason]` line per check, and `# text` lines for the results
#   file (figures); the guest prefixes names with `CONTROLLER/`. Other lines go to guest.log. A
#   run that exceeds HIL_CHECK_TIMEOUT, prints no result line, or exits non-zero without a FAIL
#   line counts as a failure. Flags are kept to --device so that a new fact never breaks an older
#   vfio-hil: add it to the environment above.
#
# Environment knobs: HIL_KERNEL (guest kernel of the Debian-kernel boots), HIL_GUEST_KERNEL (a
# bzImage for the iommufd and noiommu boots instead of building one), HIL_QEMU (QEMU binary), HIL_BOOT_TIMEOUT (seconds
# per boot; default 90 + controllers × (HIL_CHECK_TIMEOUT + 180) + NIC pairs × HIL_NIC_TIMEOUT
# (420) + hil_time), HIL_CHECK_TIMEOUT (seconds per vfio-hil run, default 120; NIC runs get
# HIL_NIC_TIMEOUT), HIL_CPUS (2), HIL_MEMORY (2G), HIL_SCRATCH_PATH (SwiftPM scratch path,
# default .build-hil-release), HIL_BIND_WITH=sysfs (bind without vfioctl even when it is built).
#
# Pitfalls (seen on Debian 12, QEMU 7.2, 2 cores; the VM ones are in scripts/lib/vm.sh):
#   - Measured on 2 shared cores: 24-74 s from kernel start to the first check, about 30 s of
#     shell checks per two controllers (each fork+exec from 9p costs 50-100 ms), 80-165 s per
#     boot in all; the release build of vfioctl and vfio-hil 5 min from cold. On the 6.12 guest
#     kernel: iommufd 136-244 s (100 results), noiommu 109 s (50 results); the kernel's cold
#     build 16 CPU-minutes (57 min of wall time on a machine loaded 10-14 by other builds).
#   - When `timeout` kills a hung guest, what the guest wrote to stdout is lost (vng relays it
#     late); what it wrote to the shared folder is not. So results go to a shared file, and
#     console.log has the kernel's console for the post-mortem.
#   - The guest sees the host's filesystem read-only (/tmp, /opt and a few others as
#     throwaway overlays): host-built Swift binaries run there unchanged.
set -u

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib/vm.sh
. "$REPO/scripts/lib/vm.sh"
vm_tool hil-test.sh

HIL_BOOTS=(formats limits queues namespaces metadata hotplug tcp iommufd noiommu)

boot_formats() {
    hil_nvme lba512 - 1:512:64
    vm_root_port hilrp1
    hil_nvme lba4k-2ns - 1:4096:64,2:512:32 hilrp1
    # The host-side hook answers the guest's QMP requests (scripts/hil/hook-qmp.sh).
    vm_qmp
    vm_hook "$REPO/scripts/hil/hook-qmp.sh"
}

boot_limits() {
    hil_nvme mdts2 mdts=2 1:512:32
    hil_nvme ioqpairs2 max_ioqpairs=2 1:4096:32
    hil_nic_pair e1000e 0x18 52:54:00:5f:00:01 0x19 52:54:00:5f:00:02
}

# Namespaces that change while the driver runs (issue 18): a controller in an NVM subsystem whose
# namespace 2 starts detached (QEMU 7.2 has Namespace Attachment, not Management); vfio-hil's
# aer-namespace-attach-detach attaches it through the driver (Namespace Attribute Changed AER,
# rescan, verified I/O) and detaches it again (AER, its I/O fails with namespaceNotAttached).
boot_namespaces() {
    # A controller in a subsystem has CMIC multi-controller set, so the kernel's nvme driver
    # would put its namespaces behind a native-multipath node under the subsystem, not the
    # controller, where guest.sh looks for them (block_device_of): one path, no multipath.
    vm_append nvme_core.multipath=N
    vm_device "nvme-subsys,id=hilsub,nqn=nqn.2026-12.io.swift-vfio:hil-aer"
    hil_nvme aer subsys=hilsub 1:512:32
    hil_detached_namespace aer 2 4096 16
}

# Where the I/O queues live and how they interrupt (issue 18): fewer MSI-X vectors than queue
# pairs (msix_qsize=2: the admin queue's and one that four I/O CQs share; vfio-hil's
# shared-vector-* scenarios), and a Controller Memory Buffer in BAR2 that I/O SQs go into
# (cmb_size_mb=64, NVMe 1.4 CMBMSC; cmb-submission-queues).
boot_queues() {
    hil_nvme sharedvec msix_qsize=2,max_ioqpairs=4 1:512:32
    hil_nvme cmb cmb_size_mb=64 1:512:32
}

# Issue 17: hot-remove and hot-add through the guest's pciehp. One NVMe controller and one e1000e,
# each behind its own pcie-root-port, unplugged with QMP device_del while our driver runs I/O on
# them and plugged back with device_add, once per completion mode (scripts/hil/hotplug.sh).
boot_hotplug() {
    local image=$VM_WORK/images/hotplug-nvme.img
    mkdir -p "$VM_WORK/images"
    truncate -s 64M "$image" || vm_die "cannot create $image"
    vm_root_port hilrp1
    vm_root_port hilrp2
    # -blockdev, not -drive: QEMU deletes a -drive along with its device on device_del, so
    # device_add could not attach it again; a -blockdev node stays.
    vm_args -blockdev "driver=raw,node-name=hpnvm,file.driver=file,file.filename=$image"
    vm_device "nvme,id=nv0,bus=hilrp1,serial=HIL-hotplug,drive=hpnvm"
    vm_args -netdev hubport,id=hpnet,hubid=0
    vm_device "e1000e,id=hpnic,bus=hilrp2,netdev=hpnet,mac=52:54:00:5f:00:21"
    vm_qmp
    vm_hook "$REPO/scripts/hil/hook-qmp.sh"
    hil_env HIL_HOTPLUG 1
    hil_env HIL_HOTPLUG_NVME_ADD '{"driver":"nvme","id":"nv0","bus":"hilrp1","serial":"HIL-hotplug","drive":"hpnvm"}'
    hil_env HIL_HOTPLUG_NIC_ADD '{"driver":"e1000e","id":"hpnic","bus":"hilrp2","netdev":"hpnet","mac":"52:54:00:5f:00:21"}'
    hil_env HIL_HOTPLUG_NIC_MAC 52:54:00:5f:00:21
    # Seven unplug/replug cycles (three per device, one NVMe reopened in process), each waiting
    # out pciehp's 5 s attention-button delay.
    hil_time 700
}

# Namespaces formatted with metadata and protection information (issue 18): one controller per
# format (nvme-ns options apply to all of a controller's namespaces). guest.sh runs controllers
# named metadata-pi<TYPE>[g64]-ms<BYTES> through scripts/hil/metadata.sh instead of the data-only checks.
boot_metadata() {
    hil_nvme_namespace_options ms=8,mset=1,pi=1
    hil_nvme metadata-pi1-ms8 - 1:512:16
    hil_nvme_namespace_options ms=16,mset=0
    hil_nvme metadata-pi0-ms16 - 1:512:16
    # 64 bytes of metadata with the tuple last: the guard covers the 56 bytes before it too.
    hil_nvme_namespace_options ms=64,pi=3
    hil_nvme metadata-pi3-ms64 - 1:4096:16
    # Type 2 with the 64-bit guard (pif=2, NVMe 2.0's CRC-64 tuple of 16 bytes, which QEMU has
    # had since 7.0), first in 16 bytes of separate metadata.
    hil_nvme_namespace_options ms=16,pi=2,pif=2,pil=1
    hil_nvme metadata-pi2g64-ms16 - 1:512:16
}

# The NVMe/TCP target (issue 20) against the guest kernel's initiator. guest.sh runs the controller
# named tcp through scripts/hil/tcp.sh. On Debian's kernel, whose nvme-tcp and ext4 are modules:
# the 6.12 kernel of scripts/lib/guest-kernel.sh has nvme-tcp built in but no ext4, and adding it
# would cost every run a cold kernel build. 64 MiB: ext4 in the first 32, fio at 40.
boot_tcp() {
    hil_nvme tcp - 1:512:64
}

# The two VFIO generations Debian's kernels lack, on the kernel scripts/lib/guest-kernel.sh builds
# from Debian's linux-source-6.12 (iommufd, the VFIO device cdev, no-IOMMU mode, iommufd's
# container compatibility). Names start with the boot's, so that their results read iommufd-*
# and noiommu-*.
boot_iommufd() {
    hil_guest_kernel || return 1
    # vfio-hil runs twice per controller: through the cdev and the IOAS, then through the
    # container, which this kernel serves from iommufd (CONFIG_IOMMUFD_VFIO_CONTAINER).
    hil_env HIL_BACKENDS "iommufd container"
    # The tool's own traffic commands too (net gen, net echo), which pick iommufd by themselves.
    hil_env HIL_VFIOCTL_NET 1
    hil_time $((HIL_CHECK_TIMEOUT + 180))
    # MDTS 5 (128 KiB): under a translated IOMMU domain 6.12's nvme driver also caps its transfer
    # size at the DMA layer's optimal mapping size, 128 KiB (dma_opt_mapping_size), which Debian's
    # 6.1 does not; at 128 KiB kernel-mdts checks one limit both agree on.
    hil_nvme iommufd-nvme mdts=5 1:512:32
    hil_nic_pair iommufd-e1000e 0x18 52:54:00:5f:00:11 0x19 52:54:00:5f:00:12
}

boot_noiommu() {
    hil_guest_kernel || return 1
    # No vIOMMU: vfio-pci takes the function only in no-IOMMU mode, and our buffers carry
    # guest-physical addresses (QEMU's controller DMAs to those). Hugepages make every buffer
    # one physical run.
    vm_iommu none
    vm_append vfio.enable_unsafe_noiommu_mode=1 hugepages=128
    # vfioctl bind refuses a function without an IOMMU group (here it gets a no-IOMMU one only
    # from vfio-pci): bind through sysfs.
    hil_env HIL_BIND_WITH sysfs
    hil_nvme noiommu-nvme - 1:512:32
}

# Boots on the kernel of scripts/lib/guest-kernel.sh (HIL_GUEST_KERNEL: a bzImage to use instead).
HIL_GUEST_KERNEL_BOOTS=(iommufd noiommu)
# Seconds a boot's time limit grows by per NIC pair (bring-ups and runs in three modes under TCG).
HIL_NIC_TIMEOUT=${HIL_NIC_TIMEOUT:-420}
HIL_PATTERN_LBA=1001
HIL_PATTERN_BLOCKS=16
HIL_CHECK_TIMEOUT=${HIL_CHECK_TIMEOUT:-120}
HIL_SCRATCH_PATH=${HIL_SCRATCH_PATH:-$REPO/.build-hil-release}
VM_KERNEL=${HIL_KERNEL:-${VM_KERNEL:-}}
VM_QEMU=${HIL_QEMU:-${VM_QEMU:-}}
VM_CPUS=${HIL_CPUS:-2}
VM_MEMORY=${HIL_MEMORY:-2G}
# QEMU 7.2's defaults (hw/nvme/ctrl.c), reported to vfio-hil when a controller does not set them.
QEMU_DEFAULT_MDTS=7
QEMU_DEFAULT_MAX_IOQPAIRS=64

install=1 build=1 keep=0
boots=()
for arg in "$@"; do
    case $arg in
    --no-install) install=0 ;;
    --no-build) build=0 ;;
    --keep) keep=1 ;;
    -h | --help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "hil-test.sh: unknown option $arg" >&2; exit 2 ;;
    *) boots+=("$arg") ;;
    esac
done

passed=0 failed=0 skipped=0
failures=()

# record LINE: count and print a result line (PASS/FAIL/SKIP); print other lines indented.
record() {
    case $1 in
    'PASS '*) passed=$((passed + 1)); echo "$1" ;;
    'FAIL '*) failed=$((failed + 1)); failures+=("$1"); echo "$1" ;;
    'SKIP '*) skipped=$((skipped + 1)); echo "$1" ;;
    'HIL-DONE') ;;
    *) echo "    $1" ;;
    esac
}

for boot in "${boots[@]}"; do
    [[ " ${HIL_BOOTS[*]} " == *" $boot "* ]] || vm_die "no boot named $boot (have: ${HIL_BOOTS[*]})"
done
((${#boots[@]})) || boots=("${HIL_BOOTS[@]}")

if ((install)); then vm_install --hil; else vm_install --hil --check; fi
vm_need vng qemu-system-x86_64 timeout truncate dd python3
vm_work hil-test
kernel=$(vm_default_kernel)
{ [ -n "$kernel" ] && [ -r "$kernel" ]; } || vm_die "no readable guest kernel in /boot (set HIL_KERNEL)"

run_start=$SECONDS
echo "== hil: kernel $kernel, $("${VM_QEMU:-qemu-system-x86_64}" --version | head -n 1), TCG, logs in $VM_WORK"

# --- Guest kernel -------------------------------------------------------------------------

# The boots on the self-built kernel come last, so that its build (nice 19: it takes what the
# Swift build and the TCG boots before leave idle) overlaps them instead of adding to the run.
guest_kernel=${HIL_GUEST_KERNEL:-} guest_kernel_pid='' guest_kernel_t0=$SECONDS
guest_kernel_flags=()
((install)) || guest_kernel_flags=(--no-install)
for boot in "${boots[@]}"; do
    [[ " ${HIL_GUEST_KERNEL_BOOTS[*]} " == *" $boot "* ]] || continue
    if [ -z "$guest_kernel" ]; then
        echo "== guest kernel: scripts/lib/guest-kernel.sh in the background, nice 19 (log: $VM_WORK/guest-kernel.log)"
        # Its own session, so that an interrupt stops make and the compilers with it.
        setsid "$REPO/scripts/lib/guest-kernel.sh" "${guest_kernel_flags[@]}" \
            >"$VM_WORK/guest-kernel.out" 2>"$VM_WORK/guest-kernel.log" </dev/null &
        guest_kernel_pid=$!
    fi
    break
done

stop_guest_kernel_build() {
    [ -n "$guest_kernel_pid" ] && kill -TERM -- "-$guest_kernel_pid" 2>/dev/null
    guest_kernel_pid=
}
trap 'stop_guest_kernel_build; vm_interrupted' INT TERM
trap stop_guest_kernel_build EXIT

# guest_kernel_wait: the self-built kernel is ready (waits for the background build the first
# time and records build/guest-kernel), else status 1.
guest_kernel_wait() {
    if [ -n "$guest_kernel_pid" ]; then
        echo "   waiting for the guest kernel build (started $((SECONDS - guest_kernel_t0)) s ago)"
        wait "$guest_kernel_pid"
        local rc=$?
        guest_kernel_pid=
        if [ "$rc" -eq 0 ] && guest_kernel=$(tail -n 1 "$VM_WORK/guest-kernel.out") && [ -r "$guest_kernel" ]; then
            record "PASS build/guest-kernel"
            echo "    $(grep -m1 'guest-kernel: \(built\|cached\)' "$VM_WORK/guest-kernel.log" | sed 's/^guest-kernel: //'); ready $((SECONDS - guest_kernel_t0)) s after the run started"
        else
            guest_kernel=
            record "FAIL build/guest-kernel: scripts/lib/guest-kernel.sh exit status $rc (log: $VM_WORK/guest-kernel.log)"
            vm_tail "$VM_WORK/guest-kernel.log" 30
        fi
    fi
    [ -n "$guest_kernel" ] && [ -r "$guest_kernel" ]
}

# --- Build --------------------------------------------------------------------------------

# The guest runs the host's binaries from the read-only host filesystem, through links in
# $VM_WORK/bin to what this run built (or, with --no-build, to what is there), so that a stale
# binary from an older build is never taken for a product that was skipped or failed.
HIL_BIN=$VM_WORK/bin
mkdir -p "$HIL_BIN"
link_product() {
    [ -x "$HIL_SCRATCH_PATH/release/$1" ] && ln -sf "$HIL_SCRATCH_PATH/release/$1" "$HIL_BIN/$1"
}
if ((build)); then
    echo "== build: swift build -c release --scratch-path $HIL_SCRATCH_PATH"
    for product in vfioctl vfio-hil; do
        t0=$SECONDS
        if vm_build "$HIL_SCRATCH_PATH" "$product" "$VM_WORK/build-$product.log"; then
            record "PASS build/$product"
            echo "    $product built in $((SECONDS - t0)) s"
            link_product "$product"
        else
            record "FAIL build/$product: swift build failed (log: $VM_WORK/build-$product.log)"
            tail -n 30 "$VM_WORK/build-$product.log" | sed 's/^/    | /'
        fi
    done
else
    echo "== build: skipped (--no-build); using what is in $HIL_SCRATCH_PATH/release"
    for product in vfioctl vfio-hil; do link_product "$product"; done
fi

# --- Describing a boot's devices ----------------------------------------------------------

# pattern_block CTRL NSID LBA BLOCK_SIZE: the bytes the host puts at LBA.
pattern_block() {
    yes "swift-vfio hil $1 ns$2 lba $3 " 2>/dev/null | head -c "$4"
}

hil_namespace_options=
hil_nvme_namespace_options() { hil_namespace_options=$1; }
# hil_env NAME VALUE: a variable for the guest's boot.env (HIL_BACKENDS, HIL_VFIOCTL_NET, ...).
hil_env() { printf "%s='%s'\n" "$1" "$2" >>"$VM_DIR/boot.extra"; }

# hil_guest_kernel: this boot runs on the guest kernel that scripts/lib/guest-kernel.sh builds
# (started in the background at the beginning of the run; waited for here).
hil_guest_kernel() {
    guest_kernel_wait || return 1
    vm_kernel "$guest_kernel"
}
hil_time() { boot_extra=$((boot_extra + $1)); }

# hil_nvme NAME OPTIONS NAMESPACES [BUS]: see "Adding a boot" in the header.
hil_nvme() {
    local name=$1 opts=$2 namespaces=$3 bus=${4:-} ctrl_id=nv$n_ctrl bdf facts ns nsid bs mib drive k
    local mdts=$QEMU_DEFAULT_MDTS ioqpairs=$QEMU_DEFAULT_MAX_IOQPAIRS dev=$VM_DIR/$1
    [ "$opts" = - ] && opts=
    for k in ${opts//,/ }; do
        case $k in mdts=*) mdts=${k#mdts=} ;; max_ioqpairs=*) ioqpairs=${k#max_ioqpairs=} ;; esac
    done
    if [ -n "$bus" ]; then
        bdf=serial
        vm_device "nvme,id=$ctrl_id,serial=HIL-$name,bus=$bus${opts:+,$opts}"
    else
        bdf=$(printf '0000:00:%02x.0' $((0x10 + n_ctrl)))
        vm_device "nvme,id=$ctrl_id,serial=HIL-$name,addr=0x$(printf %x $((0x10 + n_ctrl)))${opts:+,$opts}"
    fi
    mkdir -p "$dev"
    facts=
    for ns in ${namespaces//,/ }; do
        IFS=: read -r nsid bs mib <<<"$ns"
        drive=$VM_WORK/images/$name-ns$nsid.img
        mkdir -p "$VM_WORK/images"
        vm_image "$name-ns$nsid" "$drive" "${mib}M"
        : >"$dev/pattern-ns$nsid.bin"
        for ((k = 0; k < HIL_PATTERN_BLOCKS; k++)); do
            pattern_block "$name" "$nsid" $((HIL_PATTERN_LBA + k)) "$bs" >>"$dev/pattern-ns$nsid.bin"
        done
        dd if="$dev/pattern-ns$nsid.bin" of="$drive" bs="$bs" seek="$HIL_PATTERN_LBA" \
            conv=notrunc status=none || vm_die "writing the pattern into $drive failed"
        vm_device "nvme-ns,drive=$name-ns$nsid,bus=$ctrl_id,nsid=$nsid,logical_block_size=$bs,physical_block_size=$bs${hil_namespace_options:+,$hil_namespace_options}"
        facts+="${facts:+,}$nsid:$bs:$((mib * 1024 * 1024 / bs))"
    done
    hil_namespace_options=
    echo "$name $bdf HIL-$name $mdts $ioqpairs $facts" >>"$VM_DIR/controllers"
    echo "   $name at ${bus:+$bus, }$bdf: namespaces $facts (nsid:block size:blocks), mdts $mdts, max_ioqpairs $ioqpairs${opts:+, options $opts}"
    n_ctrl=$((n_ctrl + 1))
}

# hil_detached_namespace NAME NSID BLOCK-SIZE MIB: a namespace of the last hil_nvme's controller
# (which must be in an nvme-subsys) that starts detached (detached=on): not in its facts, so the
# guest's kernel checks leave it alone; the aer-* scenario attaches it and detaches it again.
hil_detached_namespace() {
    local drive=$VM_WORK/images/$1-ns$2.img
    mkdir -p "$VM_WORK/images"
    vm_image "$1-ns$2" "$drive" "$4M"
    vm_device "nvme-ns,drive=$1-ns$2,bus=nv$((n_ctrl - 1)),nsid=$2,logical_block_size=$3,physical_block_size=$3,detached=on"
    echo "   $1: namespace $2 ($3 B blocks, $4 MiB) starts detached"
}

# hil_nic_pair NAME OUR_ADDR OUR_MAC PEER_ADDR PEER_MAC: both netdevs are ports of one QEMU hub
# (hubid = the pair's index), so each function sees what the other sends.
hil_nic_pair() {
    local ours peer
    ours=$(printf '0000:00:%02x.0' "$2")
    peer=$(printf '0000:00:%02x.0' "$4")
    vm_args -netdev "hubport,id=$1-ours,hubid=$n_nic" -netdev "hubport,id=$1-peer,hubid=$n_nic"
    vm_device "e1000e,netdev=$1-ours,addr=$2,mac=$3"
    vm_device "e1000e,netdev=$1-peer,addr=$4,mac=$5"
    echo "$1 $ours $3 $peer $5" >>"$VM_DIR/nics"
    echo "   $1: e1000e at $ours ($3) for our driver, kernel peer at $peer ($5), hub $n_nic"
    n_nic=$((n_nic + 1))
}

# --- Boots --------------------------------------------------------------------------------

boot_times=()
for boot in "${boots[@]}"; do
    echo "== boot $boot"
    vm_new "$boot" "$VM_WORK/$boot"
    n_ctrl=0 n_nic=0 boot_extra=0
    : >"$VM_DIR/controllers"
    : >"$VM_DIR/nics"
    : >"$VM_DIR/boot.extra"
    if ! "boot_$boot"; then
        record "FAIL $boot: not booted (its guest kernel is missing; see build/guest-kernel)"
        continue
    fi
    cat >"$VM_DIR/boot.env" <<EOF
HIL_BOOT=$boot
HIL_BIN=$HIL_BIN
HIL_PATTERN_LBA=$HIL_PATTERN_LBA
HIL_PATTERN_BLOCKS=$HIL_PATTERN_BLOCKS
HIL_CHECK_TIMEOUT=${HIL_CHECK_TIMEOUT}s
HIL_NIC_TIMEOUT=${HIL_NIC_TIMEOUT}s
HIL_BIND_WITH=${HIL_BIND_WITH:-auto}
HIL_IOMMU=$VM_IOMMU_MODE
HIL_QMP=$([ -n "$VM_QMP_SOCKET" ] && echo 1 || echo 0)
HIL_SRC=$REPO
EOF
    cat "$VM_DIR/boot.extra" >>"$VM_DIR/boot.env"
    vm_append swift_vfio_hil=1
    limit=${HIL_BOOT_TIMEOUT:-$((90 + n_ctrl * (HIL_CHECK_TIMEOUT + 180) + n_nic * HIL_NIC_TIMEOUT + boot_extra))}
    echo "   booting (TCG, $VM_NCPUS CPUs, $VM_MEM, kernel $(basename "$VM_KERNEL_PATH"), at most $limit s)"
    vm_boot "$limit" "sh $REPO/scripts/hil/guest.sh $VM_DIR"
    dir=$VM_DIR
    boot_times+=("$boot $VM_SECONDS s")
    before=$((passed + failed + skipped))
    if [ -s "$dir/results" ]; then
        while IFS= read -r line; do record "$line"; done <"$dir/results"
    fi
    dead=
    if vm_timed_out; then
        dead="timed out after $limit s"
    elif [ ! -s "$dir/results" ]; then
        dead="no results (vng exit status $VM_RC)"
    elif [ "$(tail -n 1 "$dir/results")" != HIL-DONE ]; then
        dead="guest stopped before the end (vng exit status $VM_RC)"
    elif [ "$VM_RC" -ne 0 ]; then
        dead="vng exit status $VM_RC"
    fi
    if [ -n "$dead" ]; then
        record "FAIL $boot: boot $dead"
        vm_tail "$dir/console.log" 40
        vm_tail "$dir/guest.log" 20
        vm_tail "$dir/hook.log" 10
    elif grep -q '^FAIL ' "$dir/results" && [ -s "$dir/guest.log" ]; then
        echo "   --- $dir/guest.log"
        sed 's/^/   | /' "$dir/guest.log"
        vm_tail "$dir/hook.log" 10
    fi
    echo "-- boot $boot: $VM_SECONDS s, $((passed + failed + skipped - before)) results"
done

# --- Summary ------------------------------------------------------------------------------

echo "== timings: ${boot_times[*]/%/,} whole run $((SECONDS - run_start)) s" | sed 's/, whole/; whole/'
if ((failed)); then
    echo "== failures (logs kept in $VM_WORK)"
    printf '%s\n' "${failures[@]}"
elif ((keep)); then
    echo "== logs kept in $VM_WORK"
else
    rm -rf "$VM_WORK"
fi
summary="$passed passed, $failed failed"
((skipped)) && summary+=", $skipped skipped"
echo "$summary"
((failed == 0))
