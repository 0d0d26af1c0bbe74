#!/bin/sh
# Runs inside a hardware-in-the-loop VM booted by scripts/hil-test.sh; never on the host.
#
#   sh scripts/hil/guest.sh BOOT_DIR
#
# BOOT_DIR is a host folder shared read-write (vng --rwdir). The host leaves in it:
#   boot.env      HIL_BOOT, HIL_BIN, HIL_PATTERN_LBA, HIL_PATTERN_BLOCKS, HIL_CHECK_TIMEOUT,
#                 HIL_NIC_TIMEOUT, HIL_IOMMU (intel, intel-pt or none), HIL_QMP (1: the host's
#                 hook answers qmp_request), HIL_BIND_WITH, HIL_SRC
#   controllers   one line per NVMe controller:
#                 NAME BDF SERIAL MDTS MAX_IOQPAIRS NAMESPACES
#                 BDF is `serial` for a controller behind a bridge: found by its SERIAL
#                 NAMESPACES is comma-separated nsid:block-size:block-count
#   NAME/pattern-ns<N>.bin  the blocks the host wrote at HIL_PATTERN_LBA of namespace N
#   nics          one line per NIC pair: NAME OUR_BDF OUR_MAC PEER_BDF PEER_MAC (scripts/hil/nic.sh)
# and reads back:
#   results       PASS/FAIL/SKIP lines, `# ` info lines, and `HIL-DONE` as the last line
#   signals/      requests to the host's hook (scripts/lib/signals.sh, scripts/hil/hook-qmp.sh)
#   guest.log     details of failures and vfio-hil's other output
#   NAME/handoff/ blocks vfio-hil wrote through our driver (see hil-test.sh's header)
#
# Per controller, in order: kernel view (geometry, the host's pattern, MDTS), bind to
# vfio-pci, VFIO plumbing, vfio-hil (our driver), unbind back to nvme, kernel view again.
# Then each NIC pair (scripts/hil/nic.sh): ours to vfio-pci, vfio-hil's NIC checks against the
# kernel's peer, ours back to e1000e.

BOOT_DIR=${1:?usage: guest.sh BOOT_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)

# Binding a host's NVMe function to vfio-pci takes its disk away: run only where the host
# script asked for it on the kernel command line.
if ! grep -qw swift_vfio_hil=1 /proc/cmdline; then
    echo "guest.sh: not in a hil VM (no swift_vfio_hil=1 on the kernel command line); refusing" >&2
    exit 2
fi

# shellcheck source=/dev/null
. "$BOOT_DIR/boot.env"
HIL_RESULTS=$BOOT_DIR/results
HIL_LOG=$BOOT_DIR/guest.log
: >"$HIL_RESULTS"
: >"$HIL_LOG"
VM_DIR=$BOOT_DIR
# shellcheck source=scripts/lib/signals.sh
. "$HERE/../lib/signals.sh"
# shellcheck source=scripts/hil/checks.sh
. "$HERE/checks.sh"
# shellcheck source=scripts/hil/nic.sh
. "$HERE/nic.sh"
# shellcheck source=scripts/hil/hotplug.sh
. "$HERE/hotplug.sh"
# shellcheck source=scripts/hil/metadata.sh
. "$HERE/metadata.sh"
# shellcheck source=scripts/hil/tcp.sh
. "$HERE/tcp.sh"

read -r up _ </proc/uptime
info "boot $HIL_BOOT: kernel $(uname -r), $(nproc) CPUs, checks start ${up%.*} s after kernel start"

# --- Boot-level checks --------------------------------------------------------------------

controllers=$(grep -c . "$BOOT_DIR/controllers")
# The hotplug boot's controller (QMP id nv0) is driven by scripts/hil/hotplug.sh, not listed.
[ "${HIL_HOTPLUG:-0}" = 1 ] && controllers=$((controllers + 1))
# A boot without a vIOMMU runs VFIO in no-IOMMU mode: vfio-hil and vfioctl opt in, and expect it.
HIL_NOIOMMU=0
[ "${HIL_IOMMU:-intel}" = none ] && HIL_NOIOMMU=1
# shellcheck disable=SC3045 # dash and busybox sh have ulimit -l
ulimit -l unlimited
check "$HIL_BOOT/memlock-unlimited" ck_memlock_unlimited
if [ "${HIL_IOMMU:-intel}" != none ]; then
    check "$HIL_BOOT/dmar-iommu-enabled" ck_dmar_enabled
    check "$HIL_BOOT/irq-remapping" ck_irq_remapping
else
    check "$HIL_BOOT/noiommu-mode-enabled" ck_noiommu_mode
fi
case " ${HIL_BACKENDS:-} " in
*" iommufd "*) check "$HIL_BOOT/iommufd-nodes" ck_iommufd_nodes ;;
esac
check "$HIL_BOOT/vfio-pci-module" ck_vfio_pci_module
check "$HIL_BOOT/nvme-controller-count" ck_controller_count "$controllers"
[ "${HIL_QMP:-0}" = 1 ] && check "$HIL_BOOT/host-qmp-query-pci" ck_host_qmp_sees_controllers "$controllers"

if use_vfioctl bind; then
    info "binding with $HIL_BIN/vfioctl"
else
    info "binding through sysfs (driver_override, unbind, drivers_probe)"
fi

# --- vfio-hil: our driver against this controller -----------------------------------------

# run_vfio_hil NAME BDF TIMEOUT [VAR=VALUE...]: vfio-hil against the function at BDF, with the
# facts as environment (contract in hil-test.sh's header). Result lines are re-emitted with NAME/
# in front, so that names stay distinct across functions and boots; `# ` lines go to the
# results as info; the rest goes to guest.log.
run_vfio_hil() {
    if [ ! -x "${HIL_BIN:-}/vfio-hil" ]; then
        emit "SKIP $1/vfio-hil: not built (no vfio-hil product yet)"
        return
    fi
    _name=$1 _bdf=$2 _limit=$3
    shift 3
    _out=$HIL_SCRATCH/vfio-hil.out
    info "$_name: vfio-hil --device $_bdf"
    # Own time bound, so that a hang names this function instead of killing the boot.
    {
        env HIL_SCRATCH="$HIL_SCRATCH" HIL_NOIOMMU="$HIL_NOIOMMU" "$@" \
            timeout --kill-after=5 "$_limit" "$HIL_BIN/vfio-hil" --device "$_bdf" </dev/null
        echo $? >"$HIL_SCRATCH/vfio-hil.rc"
    } >"$_out" 2>&1
    read -r _rc <"$HIL_SCRATCH/vfio-hil.rc"
    _results=0
    _fails=0
    while IFS= read -r _line; do
        case $_line in
        'PASS '* | 'FAIL '* | 'SKIP '*)
            emit "${_line%% *} $_name/${_line#* }"
            _results=$((_results + 1))
            case $_line in 'FAIL '*) _fails=$((_fails + 1)) ;; esac
            ;;
        '# '*) info "$_name: ${_line#\# }" ;;
        *) printf '    %s: %s\n' "$_name/vfio-hil" "$_line" >>"$HIL_LOG" ;;
        esac
    done <"$_out"
    if [ "$_rc" -eq 124 ] || [ "$_rc" -eq 137 ]; then
        emit "FAIL $_name/vfio-hil: timed out after $_limit (guest.log has its output)"
    elif [ "$_results" -eq 0 ]; then
        emit "FAIL $_name/vfio-hil: exit status $_rc and no result lines (guest.log has its output)"
    elif [ "$_rc" -ne 0 ] && [ "$_fails" -eq 0 ]; then
        emit "FAIL $_name/vfio-hil: exit status $_rc without a FAIL line (guest.log has its output)"
    fi
}

# run_vfio_hil_backends NAME BDF TIMEOUT [VAR=VALUE...]: run_vfio_hil once per backend of
# HIL_BACKENDS (boot.env; results named NAME/BACKEND/...), or once with the automatic choice.
run_vfio_hil_backends() {
    if [ -z "${HIL_BACKENDS:-}" ]; then
        run_vfio_hil "$@"
        return
    fi
    _rb_name=$1 _rb_bdf=$2 _rb_limit=$3
    shift 3
    for _rb in $HIL_BACKENDS; do
        run_vfio_hil "$_rb_name/$_rb" "$_rb_bdf" "$_rb_limit" HIL_VFIO_BACKEND="$_rb" "$@"
    done
}

# --- Per controller -----------------------------------------------------------------------

# vfio-hil's nvme-quiet-after-giving-up asks this observer (another process) what the function
# does; it reads CC and CSTS through the host's QMP hook, so only boots with one get it.
quiet_probe=
[ "${HIL_QMP:-0}" = 1 ] && quiet_probe="sh $HERE/quiet-probe.sh $BOOT_DIR"

# fd 3: dd, vfioctl or vfio-hil reading stdin must not eat the rest of the list.
while read -r name bdf serial mdts ioqpairs namespaces <&3; do
    [ -n "$name" ] || continue
    if [ "$bdf" = serial ]; then
        check "$name/found-by-serial" ck_nvme_found_by_serial "$serial" || continue
        bdf=$(nvme_bdf_of_serial "$serial")
    fi
    info "controller $name at $bdf: namespaces $namespaces, mdts $mdts, max_ioqpairs $ioqpairs"
    case $name in
    metadata-*)
        run_metadata_controller "$name" "$bdf" "$serial" "$mdts" "$ioqpairs" "$namespaces"
        continue
        ;;
    tcp)
        run_tcp_controller "$name" "$bdf" "$serial" "$mdts" "$ioqpairs" "$namespaces"
        continue
        ;;
    esac
    HIL_SCRATCH=/tmp/hil-guest/$name
    mkdir -p "$HIL_SCRATCH" "$BOOT_DIR/$name/handoff"
    ns_list=$(echo "$namespaces" | tr , ' ')
    block_sizes=
    for ns in $ns_list; do block_sizes="$block_sizes ${ns%:*}"; done
    first_nsid=${ns_list%%:*}

    check "$name/nvme-function" ck_nvme_function "$bdf" || continue
    for ns in $ns_list; do
        nsid=${ns%%:*} rest=${ns#*:}
        bs=${rest%%:*} blocks=${rest#*:}
        check "$name/ns$nsid-kernel-geometry" ck_kernel_geometry "$bdf" "$nsid" "$bs" "$blocks"
        check "$name/ns$nsid-kernel-reads-host-pattern" ck_kernel_reads "$bdf" "$nsid" "$bs" \
            "$HIL_PATTERN_LBA" "$BOOT_DIR/$name/pattern-ns$nsid.bin"
    done
    check "$name/kernel-mdts" ck_kernel_mdts "$bdf" "$first_nsid" "$mdts"
    if [ "$HIL_NOIOMMU" = 1 ]; then
        check "$name/no-iommu-group-before-bind" ck_no_iommu_group "$bdf"
    else
        check "$name/iommu-translated" ck_iommu_translated "$bdf"
    fi

    if check "$name/bind-vfio-pci" ck_bind_vfio "$bdf"; then
        check "$name/vfio-group-node" ck_vfio_group_node "$bdf"
        check "$name/vfio-group-viable" ck_group_viable "$bdf"
        run_vfio_hil_backends "$name" "$bdf" "$HIL_CHECK_TIMEOUT" HIL_CONTROLLER="$name" HIL_BDF="$bdf" \
            HIL_SERIAL="$serial" HIL_MDTS="$mdts" HIL_MAX_IOQPAIRS="$ioqpairs" \
            HIL_NAMESPACES="$(echo "$namespaces" | tr , ' ')" \
            HIL_PATTERN_LBA="$HIL_PATTERN_LBA" HIL_PATTERN_BLOCKS="$HIL_PATTERN_BLOCKS" \
            HIL_PATTERN_DIR="$BOOT_DIR/$name" HIL_HANDOFF_DIR="$BOOT_DIR/$name/handoff" \
            HIL_QUIET_PROBE="$quiet_probe"
        first_bs=${ns_list#*:}
        first_bs=${first_bs%%:*}
        first_blocks=${ns_list%% *}
        first_blocks=${first_blocks##*:}
        check "$name/vfioctl-list-ready" ck_vfioctl_list_ready "$bdf"
        check "$name/vfioctl-bind-idempotent" ck_vfioctl_bind_idempotent "$bdf"
        check "$name/vfioctl-identify" ck_vfioctl_identify "$bdf" "$serial" "$ns_list"
        check "$name/vfioctl-identify-backend" ck_vfioctl_identify_backend "$bdf"
        case " ${HIL_BACKENDS:-} " in
        *" iommufd "*) check "$name/udev-rules-iommufd" ck_udev_rules_iommufd "$bdf" ;;
        esac
        check "$name/vfioctl-write-read" ck_vfioctl_write_read "$bdf" "$first_bs" "$first_blocks"
        check "$name/vfioctl-lba-out-of-range" ck_vfioctl_lba_out_of_range "$bdf" "$first_blocks"
        for mode in poll interrupt hybrid; do
            check "$name/vfioctl-perf-$mode" ck_vfioctl_perf "$bdf" "$mode" $((first_bs * first_blocks))
        done
        # Issue 18 item 7: perf's 64 KiB I/Os on a controller whose MDTS is smaller (mdts 1...3)
        # go as several commands each, verified.
        if [ "$mdts" -ge 1 ] && [ "$mdts" -le 3 ]; then
            for mode in poll interrupt hybrid; do
                check "$name/split-vfioctl-perf-64k-$mode" ck_vfioctl_perf_split "$bdf" "$mode" $((first_bs * first_blocks))
            done
        fi
    fi

    check "$name/unbind-restores-nvme" ck_unbind_to_nvme "$bdf" || continue
    for ns in $ns_list; do
        nsid=${ns%%:*} rest=${ns#*:}
        bs=${rest%%:*}
        check "$name/ns$nsid-block-device-returns" ck_block_device_returns "$bdf" "$nsid" || continue
        check "$name/ns$nsid-pattern-intact-after-vfio" ck_kernel_reads "$bdf" "$nsid" "$bs" \
            "$HIL_PATTERN_LBA" "$BOOT_DIR/$name/pattern-ns$nsid.bin"
    done
    check "$name/kernel-sees-driver-writes" ck_kernel_sees_driver_writes "$bdf" \
        "$BOOT_DIR/$name/handoff" "$block_sizes"
    check "$name/vfioctl-refuses-mounted" ck_vfioctl_refuses_in_use "$bdf" "$first_nsid"
    check "$name/udev-rules-match" ck_udev_rules "$bdf"
    # udevadm test may have applied the opt-in rule's ATTR: leave driver_override as it was.
    echo >"$SYSPCI/$bdf/driver_override" 2>/dev/null
done 3<"$BOOT_DIR/controllers"

# --- NIC pairs ----------------------------------------------------------------------------

[ -s "$BOOT_DIR/nics" ] && run_nic_checks

# --- Hot-remove and hot-add (the hotplug boot) ----------------------------------------------

[ "${HIL_HOTPLUG:-0}" = 1 ] && run_hotplug_checks

emit HIL-DONE
