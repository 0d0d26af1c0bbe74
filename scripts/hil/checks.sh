# shellcheck shell=sh
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

# nvme_bdf_of_serial SERIAL: the PCI address of the NVMe controller with that serial number
# (Identify SN as the kernel's nvme driver read it), empty if none. For controllers behind a
# bridge, whose bus number the guest kernel chooses.
nvme_bdf_of_serial() {
    for _c in /sys/class/nvme/nvme*; do
        [ -e "$_c/serial" ] || continue
        [ "$(value "$_c/serial")" = "$1" ] || continue
        _p=$(cd -P "$_c/device" && pwd -P)
        echo "${_p##*/}"
        return 0
    done
    return 0
}
has_serial() { [ -n "$(nvme_bdf_of_serial "$1")" ]; }

# qmp_request COMMAND [ARGUMENTS_JSON [EVENT SECONDS]]: asks the host's hook (HIL_QMP=1,
# scripts/hil/hook-qmp.sh) to run one QMP command; prints QEMU's reply (JSON). Status 0 when QEMU
# did it, 1 when it refused or the EVENT did not come, 3 when the host did not answer in time.
qmp_request() {
    # Numbered by the requests already sent (checks run in subshells: no counter survives them).
    _qn=1
    while [ -e "$VM_DIR/signals/qmp-request-$_qn" ]; do _qn=$((_qn + 1)); done
    vm_signal "qmp-request-$_qn" "$*"
    vm_wait_signal "qmp-reply-$_qn" $((${4:-0} + 60)) || { echo "the host's hook did not answer qmp-request-$_qn"; return 3; }
    cat "$VM_DIR/qmp-reply-$_qn.json"
    return "$(vm_signal_text "qmp-reply-$_qn")"
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
    # A kernel with vfio-pci built in (scripts/lib/guest-kernel.sh) has no modules to load.
    [ -d /sys/bus/pci/drivers/vfio-pci ] || modprobe vfio-pci || { echo "modprobe vfio-pci failed"; return 1; }
    [ -d /sys/bus/pci/drivers/vfio-pci ] || { echo "no /sys/bus/pci/drivers/vfio-pci"; return 1; }
    [ -c /dev/vfio/vfio ] || { echo "no /dev/vfio/vfio container node"; return 1; }
}

# ck_noiommu_mode: the boot without a vIOMMU asked for vfio's no-IOMMU mode, and the kernel has it.
ck_noiommu_mode() {
    _p=/sys/module/vfio/parameters/enable_unsafe_noiommu_mode
    [ -e "$_p" ] || { echo "no $_p: the kernel lacks CONFIG_VFIO_NOIOMMU"; return 1; }
    [ "$(value "$_p")" = Y ] || { echo "$_p is $(value "$_p"), expected Y (vfio.enable_unsafe_noiommu_mode=1)"; return 1; }
    ls /sys/class/iommu/* >/dev/null 2>&1 && { echo "an IOMMU is present: $(ls /sys/class/iommu)"; return 1; }
    return 0
}

# ck_iommufd_nodes: iommufd's /dev/iommu and the VFIO device cdev class are there (the kernel has
# CONFIG_IOMMUFD and CONFIG_VFIO_DEVICE_CDEV), and /dev/vfio/vfio is iommufd's container.
ck_iommufd_nodes() {
    [ -c /dev/iommu ] || { echo "/dev/iommu is missing or not a character device"; return 1; }
    grep -q ' vfio-dev$' /proc/devices || { echo "no vfio-dev in /proc/devices (no VFIO device cdev)"; return 1; }
    [ -c /dev/vfio/vfio ] || { echo "no /dev/vfio/vfio (iommufd's container compatibility)"; return 1; }
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
    # shellcheck disable=SC3045 # dash and busybox sh have ulimit -l
    [ "$(ulimit -l)" = unlimited ] || { echo "ulimit -l is $(ulimit -l)"; return 1; }
}

# ck_host_qmp_sees_controllers N: the host's hook answers over the shared folder, and QEMU's
# query-pci (through the QMP socket) lists the N controllers by their ids nv0... (behind root
# ports too): the path a hot-unplug check takes to device_del.
ck_host_qmp_sees_controllers() {
    _reply=$(qmp_request query-pci) || { echo "query-pci failed: $_reply"; return 1; }
    _i=0
    while [ "$_i" -lt "$1" ]; do
        case $_reply in *"\"qdev_id\": \"nv$_i\""*) ;; *) echo "query-pci does not list nv$_i"; return 1 ;; esac
        _i=$((_i + 1))
    done
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

# ck_nvme_found_by_serial SERIAL: the kernel's nvme driver has probed a controller with that
# serial number (probing is asynchronous and slow under TCG).
ck_nvme_found_by_serial() {
    wait_for 60 has_serial "$1" || { echo "no NVMe controller with serial $1 after 60 s"; return 1; }
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

# ck_no_iommu_group BDF: without a vIOMMU the function has no IOMMU group until vfio-pci gives
# it a no-IOMMU one: this boot really runs without translation.
ck_no_iommu_group() {
    [ -e "$SYSPCI/$1/iommu_group" ] && { echo "$1 has IOMMU group $(iommu_group_of "$1")"; return 1; }
    return 0
}

ck_bind_vfio() {
    bind_vfio "$1" || { echo "binding $1 to vfio-pci failed"; return 1; }
    _drv=$(driver_of "$1")
    [ "$_drv" = vfio-pci ] || { echo "$1 is bound to '${_drv:-nothing}' after bind"; return 1; }
}

# ck_vfio_group_node BDF: the group's character device that VFIO_GROUP_* ioctls go to
# (/dev/vfio/noiommu-N in no-IOMMU mode).
ck_vfio_group_node() {
    _g=$(iommu_group_of "$1") || { echo "$1 has no iommu_group"; return 1; }
    [ "${HIL_NOIOMMU:-0}" = 1 ] && _g=noiommu-$_g
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

# --- vfioctl, the tool, against the bound controller ---------------------------------------

# vfioctl_device ARGS...: vfioctl on a bound function; in a boot without an IOMMU with
# --allow-noiommu, the opt-in no-IOMMU mode needs.
vfioctl_device() {
    if [ "${HIL_NOIOMMU:-0}" = 1 ]; then
        "$HIL_BIN/vfioctl" "$@" --allow-noiommu
    else
        "$HIL_BIN/vfioctl" "$@"
    fi
}

# has_vfioctl: the tool is built (its absence is a SKIP, not a FAIL: the build step reports it).
has_vfioctl() { [ -x "${HIL_BIN:-}/vfioctl" ] || { echo "vfioctl not built"; return 2; }; }

# ck_vfioctl_list_ready BDF: `vfioctl list --json` says VFIO can use the function now.
ck_vfioctl_list_ready() {
    has_vfioctl || return $?
    _json=$("$HIL_BIN/vfioctl" list --json) || { echo "vfioctl list failed"; return 1; }
    _entry=$(printf '%s\n' "$_json" | grep -A 40 "\"address\": \"$1\"" | sed '/^  }/q')
    printf '%s\n' "$_entry" | grep -q '"driver": "vfio-pci"' || { echo "list does not show $1 on vfio-pci"; return 1; }
    printf '%s\n' "$_entry" | grep -q '"vfio_ready": true' || { echo "list says $1 is not ready: $(printf '%s' "$_entry" | grep -A3 obstacles | tr -s ' \n' ' ')"; return 1; }
}

# ck_vfioctl_bind_idempotent BDF: binding an already bound function changes nothing.
ck_vfioctl_bind_idempotent() {
    has_vfioctl || return $?
    _out=$("$HIL_BIN/vfioctl" bind "$1" 2>&1) || { echo "second bind failed: $_out"; return 1; }
    case $_out in *"already bound"*) ;; *) echo "unexpected: $_out"; return 1 ;; esac
    [ "$(driver_of "$1")" = vfio-pci ] || { echo "driver changed to $(driver_of "$1")"; return 1; }
}

# ck_vfioctl_identify BDF SERIAL NAMESPACES: identify through our driver matches QEMU's config.
ck_vfioctl_identify() {
    has_vfioctl || return $?
    _json=$(vfioctl_device nvme identify --device "$1" --json) || { echo "identify failed"; return 1; }
    printf '%s\n' "$_json" | grep -q "\"serial\": \"$2\"" || { echo "serial is not $2"; return 1; }
    printf '%s\n' "$_json" | grep -q '"model": "QEMU NVMe Ctrl"' || { echo "model is not QEMU NVMe Ctrl"; return 1; }
    for _ns in $3; do
        _nsid=${_ns%%:*} _rest=${_ns#*:}
        printf '%s\n' "$_json" | grep -A2 "\"id\": $_nsid," | grep -q "\"block_size\": ${_rest%%:*}," ||
            { echo "namespace $_nsid block size is not ${_rest%%:*}"; return 1; }
    done
}

# ck_vfioctl_identify_backend BDF: `identify --json` names the backend vfioctl picked by itself:
# iommufd where the boot offers it (HIL_BACKENDS), else the container; no-IOMMU when the boot has
# no IOMMU.
ck_vfioctl_identify_backend() {
    has_vfioctl || return $?
    _json=$(vfioctl_device nvme identify --device "$1" --json) || { echo "identify failed"; return 1; }
    _want=container
    case " ${HIL_BACKENDS:-} " in *" iommufd "*) _want=iommufd ;; esac
    printf '%s\n' "$_json" | grep -q "\"vfio_backend\": \"$_want\"" ||
        { echo "identify reports $(printf '%s\n' "$_json" | grep '"vfio_backend' | tr -s ' \n' ' '), expected $_want"; return 1; }
    if [ "${HIL_NOIOMMU:-0}" = 1 ]; then
        printf '%s\n' "$_json" | grep '"vfio_backend_detail"' | grep -q 'no-IOMMU' ||
            { echo "identify does not say no-IOMMU: $(printf '%s\n' "$_json" | grep '"vfio_backend_detail"')"; return 1; }
    fi
    return 0
}

# ck_vfioctl_perf BDF MODE BYTES: a short verified random read/write run in one completion
# mode, confined to the namespace's last eighth (the host's pattern and vfio-hil's handoff
# blocks live lower and must survive).
ck_vfioctl_perf() {
    has_vfioctl || return $?
    # shellcheck disable=SC2017 # rounded down to 64 KiB on purpose
    _off=$(($3 / 8 * 7 / 65536 * 65536))
    _json=$(vfioctl_device nvme perf --device "$1" --rw randrw --qd 8 --time 2s --mode "$2" --verify --json \
        --offset "$_off" --size $(($3 / 16 / 65536 * 65536))) ||
        { echo "perf --mode $2 failed"; return 1; }
    printf '%s\n' "$_json" | grep -q '"errors": 0,' || { echo "I/O errors"; return 1; }
    printf '%s\n' "$_json" | grep -q '"ios": 0,' && { echo "no I/O completed"; return 1; }
    if [ "$2" != poll ]; then
        printf '%s\n' "$_json" | grep -q '"interrupts": 0,' && { echo "no MSI-X interrupt fired"; return 1; }
    fi
    return 0
}

# ck_vfioctl_perf_split BDF MODE NAMESPACE_BYTES: perf --bs 64k --verify over the perf region on a
# controller whose MDTS is below 64 KiB, so every I/O is split into several commands.
ck_vfioctl_perf_split() {
    has_vfioctl || return $?
    # shellcheck disable=SC2017 # rounded down to 64 KiB on purpose, as ck_vfioctl_perf does
    _off=$(($3 / 8 * 7 / 65536 * 65536))
    _json=$(vfioctl_device nvme perf --device "$1" --bs 64k --rw randrw --qd 4 --ios 256 --mode "$2" --verify --json \
        --offset "$_off" --size $(($3 / 16 / 65536 * 65536))) ||
        { echo "perf --bs 64k --mode $2 failed"; return 1; }
    printf '%s\n' "$_json" | grep -q '"errors": 0,' || { echo "I/O errors"; return 1; }
    printf '%s\n' "$_json" | grep -q '"ios": 256,' || { echo "not all 256 I/Os completed"; return 1; }
    printf '%s\n' "$_json" | grep -q '"verified_bytes": 0,' && { echo "nothing verified"; return 1; }
    return 0
}

# ck_vfioctl_write_read BDF BLOCK_SIZE BLOCKS: a write and a read in two processes see the same
# bytes (64 KiB just below the perf region, clear of the pattern and the handoff blocks).
ck_vfioctl_write_read() {
    has_vfioctl || return $?
    # shellcheck disable=SC2017 # the perf region's start, rounded as ck_vfioctl_perf rounds it
    _lba=$(($3 / 8 * 7 - 65536 / $2))
    head -c 65536 /dev/urandom >"$HIL_SCRATCH/wr.bin"
    vfioctl_device nvme write --device "$1" --lba "$_lba" --count $((65536 / $2)) --file "$HIL_SCRATCH/wr.bin" || return 1
    vfioctl_device nvme read --device "$1" --lba "$_lba" --count $((65536 / $2)) --file "$HIL_SCRATCH/rd.bin" || return 1
    same_bytes "$HIL_SCRATCH/wr.bin" "$HIL_SCRATCH/rd.bin"
}

# ck_vfioctl_lba_out_of_range BDF BLOCKS: an LBA past the end is one clear line and exit 1.
ck_vfioctl_lba_out_of_range() {
    has_vfioctl || return $?
    _err=$(vfioctl_device nvme read --device "$1" --lba "$2" --count 1 2>&1 >/dev/null)
    _rc=$?
    [ "$_rc" -eq 1 ] || { echo "exit status $_rc, expected 1"; return 1; }
    case $_err in *"outside namespace"*) ;; *) echo "unexpected message: $_err"; return 1 ;; esac
    _lines=$_err
    # No-IOMMU mode warns on every run, on purpose (the device can reach all memory): those log
    # lines come before the error, which is still one line.
    [ "${HIL_NOIOMMU:-0}" = 1 ] && _lines=$(printf '%s\n' "$_err" | grep -vi 'no-iommu')
    [ "$(printf '%s\n' "$_lines" | grep -c .)" -eq 1 ] || { echo "more than one line on stderr: $(printf '%s' "$_err" | tr '\n' '|')"; return 1; }
}

# ck_vfioctl_refuses_in_use BDF NSID: with a filesystem of the namespace mounted, bind refuses
# and leaves the nvme driver in place.
ck_vfioctl_refuses_in_use() {
    has_vfioctl || return $?
    command -v mkfs.ext2 >/dev/null 2>&1 || { echo "mkfs.ext2 not available"; return 2; }
    # Debian's kernel has ext4 as a module; the self-built guest kernel has no ext2 at all.
    grep -qw 'ext[24]' /proc/filesystems || modprobe -q ext4 2>/dev/null
    grep -qw 'ext[24]' /proc/filesystems || { echo "this kernel mounts no ext2 (the formats and limits boots cover the check)"; return 2; }
    _dev=$(block_device_of "$1" "$2")
    [ -n "$_dev" ] || { echo "no block device for $1 ns $2"; return 1; }
    mkfs.ext2 -q -F "/dev/$_dev" >/dev/null 2>&1 || { echo "mkfs failed"; return 1; }
    { mkdir -p /tmp/hil-mnt && mount "/dev/$_dev" /tmp/hil-mnt; } || { echo "mount failed"; return 1; }
    _err=$("$HIL_BIN/vfioctl" bind "$1" 2>&1)
    _rc=$?
    umount /tmp/hil-mnt
    [ "$_rc" -ne 0 ] || { echo "bind of a mounted device succeeded"; return 1; }
    case $_err in *"refusing to touch"*"mounted at /tmp/hil-mnt"*) ;; *) echo "unexpected message: $_err"; return 1 ;; esac
    [ "$(driver_of "$1")" = nvme ] || { echo "driver is now $(driver_of "$1"), expected nvme untouched"; return 1; }
}

# --- udev rules ---------------------------------------------------------------------------

# ck_udev_rules BDF: our rules parse and match: the vfio group rule applies to /dev/vfio nodes,
# and the opt-in bind rule runs `vfioctl bind --udev` for a device marked VFIO_PCI=1 (dry run).
ck_udev_rules() {
    command -v udevadm >/dev/null 2>&1 || { echo "udevadm not installed"; return 2; }
    _rules=$HIL_SRC/udev
    mkdir -p /run/udev/rules.d
    cp "$_rules/60-vfio.rules" "$_rules/61-vfio-bind.rules" /run/udev/rules.d/ || return 1
    printf 'SUBSYSTEM=="pci", KERNEL=="%s", ENV{VFIO_PCI}="1"\n' "$1" >/run/udev/rules.d/59-hil-mark.rules
    grep -q '^vfio:' /etc/group 2>/dev/null || _nogroup=1
    if ! _group=$(iommu_group_of "$1"); then
        # Without an IOMMU a function has a (no-IOMMU) group only while vfio-pci holds it.
        [ "${HIL_NOIOMMU:-0}" = 1 ] && { echo "no IOMMU group once unbound (no-IOMMU mode)"; return 2; }
        echo "no IOMMU group"
        return 1
    fi
    _out=$(udevadm test --action=add "/sys/class/vfio/$_group" 2>&1)
    rm -f /run/udev/rules.d/59-hil-mark.rules
    case $_out in *"60-vfio.rules"*) ;; *) echo "udevadm did not read 60-vfio.rules"; return 1 ;; esac
    if printf '%s\n' "$_out" | grep -i "60-vfio.rules" | grep -qi "invalid\|error\|unknown key"; then
        echo "60-vfio.rules has errors: $(printf '%s\n' "$_out" | grep -i 60-vfio.rules | grep -i 'invalid\|error' | head -1)"
        return 1
    fi
    if [ -z "${_nogroup:-}" ]; then
        printf '%s\n' "$_out" | grep -q "GROUP" || { echo "no GROUP assignment for /dev/vfio/$_group"; return 1; }
    fi
    printf 'SUBSYSTEM=="pci", KERNEL=="%s", ENV{VFIO_PCI}="1"\n' "$1" >/run/udev/rules.d/59-hil-mark.rules
    _out=$(udevadm test --action=add "/sys/bus/pci/devices/$1" 2>&1)
    rm -f /run/udev/rules.d/59-hil-mark.rules /run/udev/rules.d/60-vfio.rules /run/udev/rules.d/61-vfio-bind.rules
    if printf '%s\n' "$_out" | grep -i "61-vfio-bind.rules" | grep -qi "invalid\|error\|unknown key"; then
        printf '%s\n' "$_out" | grep -i "61-vfio-bind.rules" | grep -i "invalid\|error\|unknown key"
        echo "61-vfio-bind.rules has errors: $(printf '%s\n' "$_out" | grep -i 61-vfio-bind.rules | grep -i 'invalid\|error\|unknown key' | head -1)"
        return 1
    fi
    # The rule binds nothing itself: it runs the guarded helper (udevadm test lists RUN, never runs it).
    printf '%s\n' "$_out" | grep -q "vfioctl bind --udev $1" || { echo "the opt-in rule did not match the marked device"; return 1; }
}

# ck_udev_rules_iommufd BDF (while BDF is bound): 60-vfio.rules gives /dev/iommu and the function's
# cdev /dev/vfio/devices/vfioN to the vfio group.
ck_udev_rules_iommufd() {
    command -v udevadm >/dev/null 2>&1 || { echo "udevadm not installed"; return 2; }
    # The guest's /etc is a throwaway overlay over the host's read-only root: the group the rules
    # name may be added here (udev drops GROUP= for a group that does not exist).
    _added=
    grep -q '^vfio:' /etc/group 2>/dev/null || { echo 'vfio:x:990:' >>/etc/group && _added=1; } 2>/dev/null
    grep -q '^vfio:' /etc/group 2>/dev/null || { echo "no vfio group in /etc/group, and /etc is read-only: udev would drop GROUP=\"vfio\""; return 2; }
    _cdev=
    for _c in "$SYSPCI/$1/vfio-dev"/vfio*; do [ -e "$_c" ] && _cdev=${_c##*/}; done
    [ -n "$_cdev" ] || { echo "$1 has no vfio-dev/vfioN"; return 1; }
    mkdir -p /run/udev/rules.d
    cp "$HIL_SRC/udev/60-vfio.rules" /run/udev/rules.d/ || return 1
    _bad=
    for _node in /sys/class/misc/iommu "/sys/class/vfio-dev/$_cdev"; do
        _out=$(udevadm test --action=add "$_node" 2>&1)
        printf '%s\n' "$_out" | grep -q '60-vfio.rules' || { _bad="udevadm did not apply 60-vfio.rules to $_node"; break; }
        printf '%s\n' "$_out" | grep -q 'GROUP' || { _bad="no GROUP assignment for $_node"; break; }
    done
    rm -f /run/udev/rules.d/60-vfio.rules
    # Later checks see /etc/group as the boot left it.
    [ -n "$_added" ] && sed -i '/^vfio:x:990:$/d' /etc/group
    [ -z "$_bad" ] || { echo "$_bad"; return 1; }
}
