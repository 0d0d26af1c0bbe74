# Shell-level checks and helpers for the hardware-in-the-loop guest (POSIX sh, sourced by
# guest.sh; never run on the host: binding here would take the host's disks or network away).
#
# A check is a function `ck_<what>` that prints nothing on success and returns 0, or prints
# one line (the reason) and returns 1 for FAIL or 2 for SKIP. guest.sh runs it through
# `check NAME ck_<what> ARGS...`, which turns it into a `PASS|FAIL|SKIP NAME[: reason]` line.
# Checks of our driver itself belong in the Swift `vfio-hil` executable, not here.

SYSPCI=/sys/bus/pci/devices
NL='
'

# --- Result lines -------------------------------------------------------------------------

# Every result and info line goes to stdout (the console log on the host) and to the results
# file in the host-shared folder: console output is lost when the host kills a hung guest,
# the shared file is not.
emit() {
    printf '%s\n' "$1"
    printf '%s\n' "$1" >>"$HIL_RESULTS"
}

# Under TCG every fork+exec of a binary from the 9p root costs 50-100 ms, so the helpers
# below stay with shell builtins (read, cd -P, ${x##*/}) where they can.

# centiseconds since boot, for the timings in guest.log.
uptime_cs() {
    read -r _up _ </proc/uptime
    _cs=${_up%.*}${_up#*.}
    # No leading zeros: shell arithmetic would read 08 as bad octal.
    while [ "${_cs#0}" != "$_cs" ] && [ -n "${_cs#0}" ]; do _cs=${_cs#0}; done
    echo "$_cs"
}

# Free-form progress for humans; ignored by the host's counting.
info() { emit "# $*"; }

# check NAME FUNCTION [ARGS...]
check() {
    _name=$1
    shift
    _t0=$(uptime_cs)
    _out=$("$@" 2>&1)
    _rc=$?
    _t1=$(uptime_cs)
    printf '[%6d.%02d] %s: status %d in %d ms\n' $((_t1 / 100)) $((_t1 % 100)) "$_name" "$_rc" \
        $(((_t1 - _t0) * 10)) >>"$HIL_LOG"
    # The reason is the last non-empty line of the check's output.
    _reason=
    _rest=$_out
    while :; do
        _line=${_rest##*"$NL"}
        [ -n "$_line" ] && { _reason=$_line; break; }
        case $_rest in *"$NL"*) _rest=${_rest%"$NL"*} ;; *) break ;; esac
    done
    case $_rc in
    0) emit "PASS $_name" ;;
    2) emit "SKIP $_name: ${_reason:-no reason given}" ;;
    *)
        emit "FAIL $_name: ${_reason:-exit status $_rc}"
        # The whole output of a failing check helps more than its last line.
        [ -n "$_out" ] && printf '%s\n' "$_out" | sed 's/^/    /' >>"$HIL_LOG"
        ;;
    esac
    return "$_rc"
}

# --- Small helpers ------------------------------------------------------------------------

# driver_of BDF: name of the bound driver, empty if none.
driver_of() {
    [ -e "$SYSPCI/$1/driver" ] || return 0
    _p=$(cd -P "$SYSPCI/$1/driver" && pwd -P)
    echo "${_p##*/}"
}

# iommu_group_of BDF
iommu_group_of() {
    [ -e "$SYSPCI/$1/iommu_group" ] || return 1
    _p=$(cd -P "$SYSPCI/$1/iommu_group" && pwd -P)
    echo "${_p##*/}"
}

# value FILE: first line of a sysfs attribute, empty if unreadable.
value() {
    _v=
    read -r _v <"$1" 2>/dev/null
    echo "$_v"
}

# block_device_of BDF NSID: the kernel's block device (nvmeXnY) for a namespace of the
# controller at BDF, empty if the kernel has not (re)created it. Matching on the sysfs path
# (…/BDF/nvme/nvmeX/nvmeXnY) instead of guessing numbers: controller instance numbers are
# reused in probe order and change when a controller goes away and comes back.
block_device_of() {
    for _b in /sys/block/nvme*n*; do
        [ -e "$_b" ] || continue
        case $(cd -P "$_b" && pwd -P) in */"$1"/nvme/*) ;; *) continue ;; esac
        [ "$(value "$_b/nsid")" = "$2" ] && echo "${_b##*/}" && return 0
    done
    return 0
}

# wait_for SECONDS COMMAND...: poll until COMMAND succeeds. Probing is asynchronous (the
# nvme driver resets the controller from a work item) and slow under TCG.
wait_for() {
    _left=$(($1 * 5))
    shift
    while [ "$_left" -gt 0 ]; do
        "$@" && return 0
        sleep 0.2
        _left=$((_left - 1))
    done
    "$@"
}

has_block_device() { [ -n "$(block_device_of "$1" "$2")" ]; }

# same_bytes FILE_A FILE_B: cmp names the first differing byte; cksum is the fallback.
same_bytes() {
    if command -v cmp >/dev/null 2>&1; then
        cmp "$1" "$2"
    else
        [ "$(cksum <"$1")" = "$(cksum <"$2")" ] || { echo "$1 and $2 differ"; return 1; }
    fi
}

# --- Binding ------------------------------------------------------------------------------

# use_vfioctl VERB: true when the project's vfioctl is built and has the subcommand VERB.
# This is the switch between our tool and raw sysfs; HIL_BIND_WITH=sysfs forces sysfs.
use_vfioctl() {
    [ "${HIL_BIND_WITH:-auto}" != sysfs ] && [ -x "${HIL_BIN:-}/vfioctl" ] &&
        "$HIL_BIN/vfioctl" "$1" --help >/dev/null 2>&1
}

# bind_vfio BDF: hand the function to vfio-pci.
bind_vfio() {
    if use_vfioctl bind; then
        "$HIL_BIN/vfioctl" bind "$1"
        return
    fi
    # driver_override first, so that the unbind below cannot race a re-probe by nvme.
    echo vfio-pci >"$SYSPCI/$1/driver_override" || return 1
    if [ -e "$SYSPCI/$1/driver" ]; then
        echo "$1" >"$SYSPCI/$1/driver/unbind" || return 1
    fi
    echo "$1" >/sys/bus/pci/drivers_probe
}

# unbind_to_nvme BDF: give the function back to the kernel's nvme driver.
unbind_to_nvme() {
    if use_vfioctl unbind; then
        "$HIL_BIN/vfioctl" unbind --driver nvme "$1"
        return
    fi
    # An empty write clears driver_override; sysfs then reads "(null)".
    echo >"$SYSPCI/$1/driver_override" || return 1
    if [ -e "$SYSPCI/$1/driver" ]; then
        echo "$1" >"$SYSPCI/$1/driver/unbind" || return 1
    fi
    echo "$1" >/sys/bus/pci/drivers/nvme/bind
}

# --- Boot-level checks --------------------------------------------------------------------

ck_dmar_enabled() {
    dmesg | grep -q 'DMAR: IOMMU enabled' || { echo "no 'DMAR: IOMMU enabled' in dmesg"; return 1; }
    ls /sys/class/iommu/dmar* >/dev/null 2>&1 || { echo "no /sys/class/iommu/dmar*"; return 1; }
}

# intremap=on plus kernel-irqchip=split: MSI-X of an assigned device goes through the
# IOMMU's interrupt remapping table.
ck_irq_remapping() {
    dmesg | grep -q 'DMAR-IR: Enabled IRQ remapping' ||
        { echo "no 'DMAR-IR: Enabled IRQ remapping' in dmesg"; return 1; }
}

ck_vfio_pci_module() {
    modprobe vfio-pci || { echo "modprobe vfio-pci failed"; return 1; }
    [ -d /sys/bus/pci/drivers/vfio-pci ] || { echo "no /sys/bus/pci/drivers/vfio-pci"; return 1; }
    [ -c /dev/vfio/vfio ] || { echo "no /dev/vfio/vfio container node"; return 1; }
}

# ck_controller_count N: every NVMe function the host configured is there, and no other.
ck_controller_count() {
    _n=0
    for _d in "$SYSPCI"/*; do
        read -r _class <"$_d/class"
        [ "$_class" = 0x010802 ] && _n=$((_n + 1))
    done
    [ "$_n" -eq "$1" ] || { echo "found $_n functions of class 0x010802, configured $1"; return 1; }
}

# DMA mappings are pinned and count against RLIMIT_MEMLOCK.
ck_memlock_unlimited() {
    [ "$(ulimit -l)" = unlimited ] || { echo "ulimit -l is $(ulimit -l)"; return 1; }
}

# --- Per-controller checks ----------------------------------------------------------------

# ck_nvme_function BDF: an NVMe function (class 0x010802) at the configured address, owned
# by the kernel's nvme driver as at boot.
ck_nvme_function() {
    [ -d "$SYSPCI/$1" ] || { echo "no PCI function $1"; return 1; }
    _class=$(value "$SYSPCI/$1/class")
    [ "$_class" = 0x010802 ] || { echo "$1 has class $_class, not 0x010802"; return 1; }
    _drv=$(driver_of "$1")
    [ "$_drv" = nvme ] || { echo "$1 is bound to '${_drv:-nothing}', not nvme"; return 1; }
}

# ck_kernel_geometry BDF NSID BLOCK_SIZE BLOCKS: the namespace QEMU built is the one we asked for.
ck_kernel_geometry() {
    _blk=$(block_device_of "$1" "$2")
    [ -n "$_blk" ] || { echo "no block device for $1 nsid $2"; return 1; }
    _lbs=$(value "/sys/block/$_blk/queue/logical_block_size")
    [ "$_lbs" = "$3" ] || { echo "$_blk: logical block size $_lbs, configured $3"; return 1; }
    # /sys/block/*/size counts 512-byte sectors whatever the block size.
    _sectors=$(value "/sys/block/$_blk/size")
    [ "$_sectors" -eq $(($4 * $3 / 512)) ] ||
        { echo "$_blk: $_sectors sectors, configured $4 blocks of $3 B"; return 1; }
}

# ck_kernel_reads BDF NSID BLOCK_SIZE LBA FILE: the kernel's nvme driver reads FILE's bytes
# at LBA. O_DIRECT so that the page cache cannot answer for the device.
ck_kernel_reads() {
    _blk=$(block_device_of "$1" "$2")
    [ -n "$_blk" ] || { echo "no block device for $1 nsid $2"; return 1; }
    [ -b "/dev/$_blk" ] || { echo "/dev/$_blk is not a block device node"; return 1; }
    _count=$(($(wc -c <"$5") / $3))
    _got=$HIL_SCRATCH/read-$2-$4.bin
    dd if="/dev/$_blk" of="$_got" bs="$3" skip="$4" count="$_count" iflag=direct status=none ||
        { echo "dd from /dev/$_blk failed"; return 1; }
    same_bytes "$_got" "$5" || { echo "/dev/$_blk at LBA $4 differs from ${5##*/}"; return 1; }
}

# ck_kernel_mdts BDF NSID MDTS: the kernel derived its transfer limit from our MDTS.
# NVMe base 2.0, 5.17.2.1: MDTS is a power of two in units of CAP.MPSMIN (4 KiB on QEMU);
# the kernel sets max_hw_sectors from it (nvme_init_ctrl_finish, capped at NVME_MAX_KB_SZ).
ck_kernel_mdts() {
    [ "$3" -gt 0 ] || { echo "MDTS 0 means no limit"; return 2; }
    _want=$((4 << $3))
    [ "$_want" -le 4096 ] || _want=4096
    _blk=$(block_device_of "$1" "$2")
    [ -n "$_blk" ] || { echo "no block device for $1 nsid $2"; return 1; }
    _kb=$(value "/sys/block/$_blk/queue/max_hw_sectors_kb")
    [ "$_kb" = "$_want" ] || { echo "$_blk: max_hw_sectors_kb $_kb, MDTS $3 gives $_want"; return 1; }
}

# ck_iommu_translated BDF: iommu=nopt put the function in a translated DMA domain, so its
# DMA really goes through the (virtual) IOMMU page tables.
ck_iommu_translated() {
    _g=$(iommu_group_of "$1") || { echo "$1 has no iommu_group"; return 1; }
    _t=$(value "/sys/kernel/iommu_groups/$_g/type")
    case $_t in
    DMA | DMA-FQ) ;;
    *) echo "iommu group $_g has domain type '${_t:-unknown}', expected DMA"; return 1 ;;
    esac
}

ck_bind_vfio() {
    bind_vfio "$1" || { echo "binding $1 to vfio-pci failed"; return 1; }
    _drv=$(driver_of "$1")
    [ "$_drv" = vfio-pci ] || { echo "$1 is bound to '${_drv:-nothing}' after bind"; return 1; }
}

# ck_vfio_group_node BDF: the group's character device that VFIO_GROUP_* ioctls go to.
ck_vfio_group_node() {
    _g=$(iommu_group_of "$1") || { echo "$1 has no iommu_group"; return 1; }
    [ -c "/dev/vfio/$_g" ] || { echo "/dev/vfio/$_g is missing or not a character device"; return 1; }
}

# ck_group_viable BDF: VFIO only lets a group be used when every device in it is bound to
# vfio-pci (or to no driver): otherwise VFIO_GROUP_GET_STATUS lacks VFIO_GROUP_FLAGS_VIABLE.
ck_group_viable() {
    _g=$(iommu_group_of "$1") || { echo "$1 has no iommu_group"; return 1; }
    for _d in "/sys/kernel/iommu_groups/$_g/devices"/*; do
        _drv=$(driver_of "${_d##*/}")
        case $_drv in
        '' | vfio-pci | pcieport) ;;
        *) echo "group $_g also holds ${_d##*/} bound to $_drv"; return 1 ;;
        esac
    done
}

# ck_unbind_to_nvme BDF: after our driver, the kernel's driver gets the function back.
ck_unbind_to_nvme() {
    unbind_to_nvme "$1" || { echo "giving $1 back to nvme failed"; return 1; }
    _ovr=$(value "$SYSPCI/$1/driver_override")
    [ "$_ovr" = "(null)" ] || { echo "driver_override still '$_ovr'"; return 1; }
    _drv=$(driver_of "$1")
    [ "$_drv" = nvme ] || { echo "$1 is bound to '${_drv:-nothing}' after unbind"; return 1; }
}

# ck_block_device_returns BDF NSID: the namespace's block device comes back (up to 60 s:
# the controller reset and namespace scan run from work items, slowly under TCG).
ck_block_device_returns() {
    wait_for 60 has_block_device "$1" "$2" || { echo "no block device for nsid $2 after 60 s"; return 1; }
    wait_for 10 test -b "/dev/$(block_device_of "$1" "$2")" ||
        { echo "/dev/$(block_device_of "$1" "$2") did not appear"; return 1; }
}

# ck_kernel_sees_driver_writes BDF HANDOFF_DIR BLOCK_SIZES: every block vfio-hil wrote through
# our driver (recorded as HANDOFF_DIR/ns<N>-lba<L>.bin) reads back the same through the kernel.
# BLOCK_SIZES is "nsid:block-size ...".
ck_kernel_sees_driver_writes() {
    _n=0
    for _f in "$2"/ns*-lba*.bin; do
        [ -e "$_f" ] || continue
        _base=${_f##*/}
        _base=${_base%.bin}
        _nsid=${_base%%-*}
        _nsid=${_nsid#ns}
        _lba=${_base#*-lba}
        _bs=
        for _p in $3; do [ "${_p%%:*}" = "$_nsid" ] && _bs=${_p#*:}; done
        [ -n "$_bs" ] || { echo "$_f names namespace $_nsid, which this controller lacks"; return 1; }
        ck_kernel_reads "$1" "$_nsid" "$_bs" "$_lba" "$_f" || return 1
        _n=$((_n + 1))
    done
    [ "$_n" -gt 0 ] || { echo "vfio-hil left no blocks in $2 to compare"; return 2; }
}
