# shellcheck shell=sh
# Hot-remove and hot-add (issue 17) in the hotplug boot of scripts/hil-test.sh; sourced by
# scripts/hil/guest.sh (after checks.sh), never run on the host.
#
# The boot puts one QEMU NVMe controller (QMP id nv0, serial HIL-hotplug) and one e1000e (id
# hpnic, MAC HIL_HOTPLUG_NIC_MAC) behind pcie-root-ports; the guest's pciehp (built in) handles
# the slots. Per completion mode, for each device:
#   hot-remove-MODE: our driver runs I/O (NVMe: vfio-hil's nvme-hot-remove-writer, writing a
#     known pattern and listing what the device acknowledged; NIC: vfioctl net gen); once it
#     runs, the host's hook sends device_del (qmp_request); pciehp asks vfio-pci for the
#     function, which relays the request interrupt to our process. Passes when our process
#     ends with deviceRemoved (NIC: one line on stderr naming the function, non-zero exit)
#     within HOTPLUG_BOUND_MS of the kernel's "Relaying device request to user" line, QEMU
#     reports DEVICE_DELETED and the function is gone from sysfs.
#   hot-remove-MODE-acknowledged-writes-intact (NVMe): after the re-add, the kernel's nvme
#     driver reads back every write the writer listed as acknowledged.
#   hot-add-MODE: device_add of the same device; the function comes back with its kernel
#     driver, `vfioctl watch` (PCIWatcher, running the whole time) printed its removal and its
#     return, `vfioctl list` shows it, and after `vfioctl bind` our driver drives it again in
#     the same mode (nvme perf, net gen).
#   hot-add-reopened-in-process (NVMe, once, interrupt mode): one vfio-hil process runs I/O, loses
#     the function to device_del, stays up, sees it come back with PCIWatcher and, once it is on
#     vfio-pci again, drives the new function (reads back what the old one acknowledged).
# Figures (request to exit, per mode) go to the results as `# ` lines.

HOTPLUG_NVME_SERIAL=HIL-hotplug
# The issue's bound: from the kernel's request to our process's exit.
HOTPLUG_BOUND_MS=1000
HOTPLUG_DIR=/tmp/hil-guest/hotplug

# to_ms SECONDS.FRACTION: milliseconds, for the shell's integer arithmetic.
to_ms() {
    _s=${1%%.*} _f=${1#*.}
    [ "$_f" = "$1" ] && _f=0
    _f=$(printf '%.3s' "${_f}000")
    while [ "${_f#0}" != "$_f" ] && [ -n "${_f#0}" ]; do _f=${_f#0}; done
    echo $((_s * 1000 + _f))
}

# request_ms BDF: when the kernel last relayed a device request for BDF to its user (ms since
# boot, from the kernel log's timestamp), empty if it never did.
request_ms() {
    _line=$(dmesg | grep "$1: Relaying device request to user" | tail -n 1)
    [ -n "$_line" ] || return 0
    _t=${_line#*[}
    _t=${_t%%]*}
    to_ms "$(echo "$_t" | tr -d ' ')"
}

# nic_bdf_of_mac MAC: the PCI address of the NIC whose kernel interface has that MAC.
nic_bdf_of_mac() {
    for _n in /sys/class/net/*; do
        [ "$(value "$_n/address")" = "$1" ] || continue
        [ -e "$_n/device" ] || continue
        _p=$(cd -P "$_n/device" && pwd -P)
        echo "${_p##*/}"
        return 0
    done
}
has_nic_mac() { [ -n "$(nic_bdf_of_mac "$1")" ]; }
is_gone() { [ ! -e "$SYSPCI/$1" ]; }
is_present() { [ -e "$SYSPCI/$1" ]; }
has_file() { [ -e "$1" ]; }
has_text() { grep -q "$2" "$1" 2>/dev/null; }

# start_timed NAME COMMAND...: runs COMMAND in the background with its output in
# HOTPLUG_DIR/NAME.out and .err; when it ends, NAME.rc holds its status and NAME.exit the
# uptime then.
start_timed() {
    _st=$1
    shift
    rm -f "$HOTPLUG_DIR/$_st".*
    (
        "$@" >"$HOTPLUG_DIR/$_st.out" 2>"$HOTPLUG_DIR/$_st.err" </dev/null
        _st_rc=$?
        read -r _st_up _ </proc/uptime
        echo "$_st_up" >"$HOTPLUG_DIR/$_st.exit"
        echo "$_st_rc" >"$HOTPLUG_DIR/$_st.rc"
    ) &
}

# unplug_failed REASON: unplug's reason, kept for the check that prints its own details first.
unplug_failed() {
    _unplug_reason=$1
    echo "$1"
}

# unplug NAME QMP_ID BDF: the common half of a hot-remove once NAME's I/O runs: device_del,
# NAME's end, the timing against the kernel's request, the function gone.
unplug() {
    _reply=$(qmp_request device_del "{\"id\":\"$2\"}" DEVICE_DELETED 60)
    _qmp=$?
    wait_for 30 has_file "$HOTPLUG_DIR/$1.rc" || { unplug_failed "our process still runs 30 s after device_del (QMP status $_qmp)"; return 1; }
    read -r _rc <"$HOTPLUG_DIR/$1.rc"
    read -r _exit <"$HOTPLUG_DIR/$1.exit"
    _req=$(request_ms "$3")
    [ -n "$_req" ] || { unplug_failed "the kernel never relayed a device request for $3 (QMP status $_qmp: $_reply)"; return 1; }
    _ms=$(($(to_ms "$_exit") - _req))
    info "$1: request to exit $_ms ms (kernel request at $((_req / 1000)).$(printf '%03d' $((_req % 1000))) s, exit status $_rc)"
    [ "$_qmp" -eq 0 ] || { unplug_failed "no DEVICE_DELETED within 60 s of device_del (QMP status $_qmp: $_reply)"; return 1; }
    wait_for 10 is_gone "$3" || { unplug_failed "$3 is still in sysfs after DEVICE_DELETED"; return 1; }
    [ "$_ms" -le "$HOTPLUG_BOUND_MS" ] || { unplug_failed "our process ended $_ms ms after the kernel's request (bound $HOTPLUG_BOUND_MS ms)"; return 1; }
}

# watcher_saw BDF N: `vfioctl watch` printed at least N removals and N additions of BDF.
watcher_saw() {
    _removed=$(grep -c "^removed $1\$" "$HOTPLUG_DIR/watch.out")
    _added=$(grep -c "^added $1 " "$HOTPLUG_DIR/watch.out")
    [ "$_removed" -ge "$2" ] && [ "$_added" -ge "$2" ]
}

# plug_back KIND JSON BDF CYCLE: device_add, the function back in sysfs, seen by the watcher
# and listed by vfioctl list.
plug_back() {
    _reply=$(qmp_request device_add "$2") || { echo "device_add failed: $_reply"; return 1; }
    wait_for 60 is_present "$3" || { echo "$3 did not come back within 60 s of device_add"; return 1; }
    wait_for 10 watcher_saw "$3" "$4" ||
        { echo "vfioctl watch did not print $3's removal and return ($(tr '\n' ';' <"$HOTPLUG_DIR/watch.out"))"; return 1; }
    "$HIL_BIN/vfioctl" list | grep -q "^$3 " || { echo "vfioctl list does not show $3"; return 1; }
}

# --- NVMe ---------------------------------------------------------------------------------

# ck_nvme_hot_remove BDF MODE
ck_nvme_hot_remove() {
    bind_vfio "$1" >/dev/null || { echo "binding $1 to vfio-pci failed"; return 1; }
    start_timed "nvme-$2" env HIL_SCRATCH="$HOTPLUG_DIR" HIL_HOTPLUG_MODE="$2" \
        HIL_HOTPLUG_READY="$HOTPLUG_DIR/nvme-$2.ready" HIL_HOTPLUG_ACKED="$HOTPLUG_DIR/acked-$2" \
        timeout --kill-after=5 150 "$HIL_BIN/vfio-hil" --device "$1" --check nvme-hot-remove-writer
    wait_for 90 has_file "$HOTPLUG_DIR/nvme-$2.ready" ||
        { echo "the writer never reported I/O running: $(tail -n 3 "$HOTPLUG_DIR/nvme-$2.out" "$HOTPLUG_DIR/nvme-$2.err" | tr '\n' ' ')"; return 1; }
    unplug "nvme-$2" nv0 "$1"
    _unplugged=$?
    while IFS= read -r _l; do
        case $_l in '# '*) info "nvme-$2: ${_l#\# }" ;; esac
    done <"$HOTPLUG_DIR/nvme-$2.out"
    [ "$_unplugged" -eq 0 ] || { tail -n 5 "$HOTPLUG_DIR/nvme-$2.err"; echo "$_unplug_reason"; return 1; }
    grep -q '^PASS nvme-hot-remove-writer' "$HOTPLUG_DIR/nvme-$2.out" ||
        { echo "writer: $(grep -E '^(FAIL|SKIP)' "$HOTPLUG_DIR/nvme-$2.out" | head -n 1)$(tail -n 2 "$HOTPLUG_DIR/nvme-$2.err" | tr '\n' ' ')"; return 1; }
}

# ck_nvme_hot_add BDF CYCLE
ck_nvme_hot_add() {
    plug_back nvme "$HIL_HOTPLUG_NVME_ADD" "$1" "$2" || return 1
    wait_for 60 has_block_device "$1" 1 || { echo "the kernel's nvme driver made no block device for $1"; return 1; }
}

# ck_nvme_acknowledged_intact BDF MODE: the kernel reads back what the writer listed.
ck_nvme_acknowledged_intact() {
    [ -s "$HOTPLUG_DIR/acked-$2" ] || { echo "the writer left no list of acknowledged writes"; return 1; }
    _out=$(env HIL_SCRATCH="$HOTPLUG_DIR" HIL_HOTPLUG_ACKED="$HOTPLUG_DIR/acked-$2" \
        HIL_HOTPLUG_BLOCK="/dev/$(block_device_of "$1" 1)" \
        timeout 120 "$HIL_BIN/vfio-hil" --device "$1" --check nvme-acknowledged-writes-readable 2>&1)
    printf '%s\n' "$_out" | while IFS= read -r _l; do
        case $_l in '# '*) info "nvme-$2: ${_l#\# }" ;; esac
    done
    printf '%s\n' "$_out" | grep -q '^PASS ' || { printf '%s\n' "$_out" | grep -E '^(FAIL|SKIP)|rror' | head -n 1; return 1; }
}

# ck_nvme_drives_again BDF MODE: bound to vfio-pci again, our driver runs I/O on it.
ck_nvme_drives_again() {
    bind_vfio "$1" >/dev/null || { echo "binding the re-added $1 to vfio-pci failed"; return 1; }
    vfioctl_device nvme perf --device "$1" --mode "$2" --rw randrw --qd 4 --time 1s --json \
        >"$HOTPLUG_DIR/perf-$2.out" 2>"$HOTPLUG_DIR/perf-$2.err" ||
        { echo "nvme perf on the re-added $1 failed: $(tail -n 1 "$HOTPLUG_DIR/perf-$2.err")"; return 1; }
}

# ck_nvme_reopen_in_process BDF: a long-running program and a hot-add. One vfio-hil process
# writes until the function is unplugged, lets it go without ending, learns of its return with
# PCIWatcher once it is on vfio-pci again, and reads back through our driver every write the old
# function acknowledged. This side unplugs, plugs back and binds, as the opt-in udev rule would.
ck_nvme_reopen_in_process() {
    bind_vfio "$1" >/dev/null || { echo "binding $1 to vfio-pci failed"; return 1; }
    start_timed nvme-reopen env HIL_SCRATCH="$HOTPLUG_DIR" HIL_HOTPLUG_MODE=interrupt HIL_HOTPLUG_SECONDS=240 \
        HIL_HOTPLUG_READY="$HOTPLUG_DIR/nvme-reopen.ready" HIL_HOTPLUG_ACKED="$HOTPLUG_DIR/acked-reopen" \
        timeout --kill-after=5 420 "$HIL_BIN/vfio-hil" --device "$1" --check nvme-reopen-after-hot-add
    wait_for 90 has_file "$HOTPLUG_DIR/nvme-reopen.ready" ||
        { echo "the process never reported I/O running: $(tail -n 3 "$HOTPLUG_DIR/nvme-reopen.out" "$HOTPLUG_DIR/nvme-reopen.err" | tr '\n' ' ')"; return 1; }
    _reply=$(qmp_request device_del '{"id":"nv0"}' DEVICE_DELETED 60) || { echo "no DEVICE_DELETED within 60 s of device_del: $_reply"; return 1; }
    wait_for 10 is_gone "$1" || { echo "$1 is still in sysfs after DEVICE_DELETED"; return 1; }
    # It released the function and lives on: the point of the check.
    ! has_file "$HOTPLUG_DIR/nvme-reopen.rc" ||
        { echo "the process ended at the removal: $(grep -E '^(FAIL|SKIP|PASS)' "$HOTPLUG_DIR/nvme-reopen.out" | head -n 1)"; return 1; }
    ck_nvme_hot_add "$1" "$(grep -c "^removed $1\$" "$HOTPLUG_DIR/watch.out")" || return 1
    bind_vfio "$1" >/dev/null || { echo "binding the re-added $1 to vfio-pci failed"; return 1; }
    wait_for 120 has_file "$HOTPLUG_DIR/nvme-reopen.rc" || { echo "the process did not finish within 120 s of the bind"; return 1; }
    while IFS= read -r _l; do
        case $_l in '# '*) info "nvme-reopen: ${_l#\# }" ;; esac
    done <"$HOTPLUG_DIR/nvme-reopen.out"
    grep -q '^PASS nvme-reopen-after-hot-add' "$HOTPLUG_DIR/nvme-reopen.out" ||
        { echo "$(grep -E '^(FAIL|SKIP)' "$HOTPLUG_DIR/nvme-reopen.out" | head -n 1) $(tail -n 2 "$HOTPLUG_DIR/nvme-reopen.err" | tr '\n' ' ')"; return 1; }
}

# --- NIC ----------------------------------------------------------------------------------

# ck_nic_hot_remove BDF MODE: net gen runs until the NIC is unplugged, then says so in one line
# naming the function, exit status non-zero.
ck_nic_hot_remove() {
    bind_vfio "$1" >/dev/null || { echo "binding $1 to vfio-pci failed"; return 1; }
    start_timed "nic-$2" timeout --kill-after=5 150 "$HIL_BIN/vfioctl" net gen --device "$1" --mode "$2" --time 120s
    # The progress line (stderr, redrawn each second) says frames are going out.
    wait_for 90 has_text "$HOTPLUG_DIR/nic-$2.err" "frames sent" ||
        { echo "net gen never reported frames sent: $(tr '\r' '\n' <"$HOTPLUG_DIR/nic-$2.err" | tail -n 2 | tr '\n' ' ')"; return 1; }
    unplug "nic-$2" hpnic "$1" || { tr '\r' '\n' <"$HOTPLUG_DIR/nic-$2.err" | grep -v '^ *$' | tail -n 3; echo "$_unplug_reason"; return 1; }
    read -r _rc <"$HOTPLUG_DIR/nic-$2.rc"
    # The error is the last line once the progress line's redraws are split off.
    _err=$(tr '\r' '\n' <"$HOTPLUG_DIR/nic-$2.err" | grep -v '^ *$' | tail -n 1)
    _lines=$(tr '\r' '\n' <"$HOTPLUG_DIR/nic-$2.err" | grep -v '^ *$' | grep -vc 'frames sent')
    info "nic-$2: $_err"
    case $_rc in 0 | 124 | 137) echo "net gen exit status $_rc after the removal (0: success; 124, 137: killed by timeout)"; return 1 ;; esac
    case $_err in
    "vfioctl: "*"$1"*"removed"*) ;;
    *) echo "net gen's last line does not name $1 as removed: $_err"; return 1 ;;
    esac
    [ "$_lines" -eq 1 ] || { echo "net gen printed $_lines lines besides its progress, not one"; return 1; }
}

# ck_nic_hot_add BDF CYCLE: the NIC comes back with the kernel's e1000e driver.
ck_nic_hot_add() {
    plug_back nic "$HIL_HOTPLUG_NIC_ADD" "$1" "$2" || return 1
    wait_for 60 has_nic_mac "$HIL_HOTPLUG_NIC_MAC" || { echo "no interface with $HIL_HOTPLUG_NIC_MAC after the re-add"; return 1; }
}

# ck_nic_drives_again BDF MODE
ck_nic_drives_again() {
    bind_vfio "$1" >/dev/null || { echo "binding the re-added $1 to vfio-pci failed"; return 1; }
    vfioctl_device net gen --device "$1" --mode "$2" --count 500 --json \
        >"$HOTPLUG_DIR/gen-$2.out" 2>"$HOTPLUG_DIR/gen-$2.err" ||
        { echo "net gen on the re-added $1 failed: $(tail -n 1 "$HOTPLUG_DIR/gen-$2.err")"; return 1; }
}

# --- The run ------------------------------------------------------------------------------

# hotplug_cycles KIND BDF: per completion mode, hot-remove KIND (nvme or nic), re-add it, check
# what came back, drive it again. A failed hot-remove that left the function in place skips
# that mode's re-add; one that could not re-add it ends the cycles.
hotplug_cycles() {
    _cycle=0
    for _mode in poll interrupt hybrid; do
        _cycle=$((_cycle + 1))
        check "hotplug-$1/hot-remove-$_mode" "ck_$1_hot_remove" "$2" "$_mode" || { is_present "$2" && continue; }
        check "hotplug-$1/hot-add-$_mode" "ck_$1_hot_add" "$2" "$_cycle" || break
        [ "$1" = nvme ] && check "hotplug-nvme/hot-remove-$_mode-acknowledged-writes-intact" ck_nvme_acknowledged_intact "$2" "$_mode"
        check "hotplug-$1/hot-add-$_mode-drives-again" "ck_$1_drives_again" "$2" "$_mode"
    done
}

run_hotplug_checks() {
    mkdir -p "$HOTPLUG_DIR"
    # One watcher over the whole run: it must see every removal and every return.
    "$HIL_BIN/vfioctl" watch --time 1800s --interval 50ms >"$HOTPLUG_DIR/watch.out" 2>"$HOTPLUG_DIR/watch.err" </dev/null &
    _watch=$!
    if check hotplug-nvme/found-by-serial ck_nvme_found_by_serial "$HOTPLUG_NVME_SERIAL"; then
        _bdf=$(nvme_bdf_of_serial "$HOTPLUG_NVME_SERIAL")
        info "hotplug-nvme at $_bdf (nv0)"
        hotplug_cycles nvme "$_bdf"
        is_present "$_bdf" && check hotplug-nvme/hot-add-reopened-in-process ck_nvme_reopen_in_process "$_bdf"
    fi
    if check hotplug-nic/found-by-mac has_nic_mac "$HIL_HOTPLUG_NIC_MAC"; then
        _bdf=$(nic_bdf_of_mac "$HIL_HOTPLUG_NIC_MAC")
        info "hotplug-nic at $_bdf (hpnic)"
        hotplug_cycles nic "$_bdf"
    fi
    kill "$_watch" 2>/dev/null
}
