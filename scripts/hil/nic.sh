# shellcheck shell=sh
# NIC checks for the hardware-in-the-loop guest (POSIX sh, sourced by guest.sh after checks.sh;
# never run on the host: binding here would take the host's network away).
#
# The host (scripts/hil-test.sh, hil_nic_pair) gives the VM pairs of QEMU e1000e functions (Intel
# 82574L) whose netdevs are ports of one QEMU hub, so every frame one sends the other receives:
#
#   ours  (OUR_BDF, OUR_MAC)   bound to vfio-pci and driven by vfio-hil's NIC checks
#   peer  (PEER_BDF, PEER_MAC) left to the kernel's e1000e driver, with NIC_PEER_IP/24
#
# The peer is the "other side": the kernel's stack answers our ARP and pings, sends UDP to us,
# and its /sys/class/net/IF/statistics counters (e1000e reads the NIC's GPRC/GPTC on every read)
# verify what our driver sent. Here: the functions and their IOMMU groups, the peer's interface,
# binding (and vfioctl refusing an interface that is up), `vfioctl net info` as a smoke test of
# the tool, then vfio-hil against our function (ping, generator and receive in every completion
# mode; Sources/vfio-hil/NICChecks.swift), then our function back to e1000e.
#
# $BOOT_DIR/nics has one line per pair: NAME OUR_BDF OUR_MAC PEER_BDF PEER_MAC.

NIC_OUR_IP=10.77.0.2
NIC_PEER_IP=10.77.0.1

# has_vfioctl_net: vfioctl is built and has the `net` command (else SKIP: the build step reports it).
has_vfioctl_net() {
    has_vfioctl || return $?
    "$HIL_BIN/vfioctl" net --help >/dev/null 2>&1 || { echo "vfioctl has no net command"; return 2; }
}

# net_if_of BDF: the kernel's interface name for a NIC function, empty if it has none.
net_if_of() {
    for _n in "$SYSPCI/$1/net"/*; do
        [ -e "$_n" ] && { echo "${_n##*/}"; return 0; }
    done
    return 0
}

# Conditions for wait_for, which re-runs a command (an argument like "$(...)" would be expanded
# once, before the first try).
has_carrier() { [ "$(value "/sys/class/net/$1/carrier")" = 1 ]; }
has_net_if() { [ -n "$(net_if_of "$1")" ]; }

# ck_nic_function BDF MAC: an 82574L (8086:10d3, class 0x020000) owned by the kernel's e1000e,
# with the MAC QEMU was given.
ck_nic_function() {
    [ -d "$SYSPCI/$1" ] || { echo "no PCI function $1"; return 1; }
    _id="$(value "$SYSPCI/$1/vendor"):$(value "$SYSPCI/$1/device")"
    [ "$_id" = 0x8086:0x10d3 ] || { echo "$1 is $_id, not 0x8086:0x10d3 (82574L)"; return 1; }
    _class=$(value "$SYSPCI/$1/class")
    [ "$_class" = 0x020000 ] || { echo "$1 has class $_class, not 0x020000"; return 1; }
    _drv=$(driver_of "$1")
    [ "$_drv" = e1000e ] || { echo "$1 is bound to '${_drv:-nothing}', not e1000e"; return 1; }
    _if=$(net_if_of "$1")
    [ -n "$_if" ] || { echo "$1 has no network interface"; return 1; }
    _mac=$(value "/sys/class/net/$_if/address")
    [ "$_mac" = "$2" ] || { echo "$_if has MAC $_mac, configured $2"; return 1; }
}

# ck_nic_separate_groups BDF_A BDF_B: each function has its own IOMMU group, so one can go to
# vfio-pci while the kernel keeps the other.
ck_nic_separate_groups() {
    _ga=$(iommu_group_of "$1") || { echo "$1 has no iommu_group"; return 1; }
    _gb=$(iommu_group_of "$2") || { echo "$2 has no iommu_group"; return 1; }
    [ "$_ga" != "$_gb" ] || { echo "$1 and $2 share IOMMU group $_ga"; return 1; }
    for _d in "/sys/kernel/iommu_groups/$_ga/devices"/*; do
        [ "${_d##*/}" = "$1" ] || { echo "group $_ga also holds ${_d##*/}"; return 1; }
    done
}

# ck_nic_peer_up BDF: the peer's interface up with NIC_PEER_IP/24 and carrier (the hub's link).
ck_nic_peer_up() {
    _if=$(net_if_of "$1")
    [ -n "$_if" ] || { echo "$1 has no network interface"; return 1; }
    ip addr add "$NIC_PEER_IP/24" dev "$_if" || { echo "ip addr add on $_if failed"; return 1; }
    ip link set "$_if" up || { echo "ip link set $_if up failed"; return 1; }
    wait_for 20 has_carrier "$_if" || { echo "$_if has no carrier after 20 s"; return 1; }
}

# ck_vfioctl_refuses_up_interface BDF: bind refuses a NIC whose interface is up, naming it, and
# leaves e1000e in place.
ck_vfioctl_refuses_up_interface() {
    has_vfioctl || return $?
    _if=$(net_if_of "$1")
    _err=$("$HIL_BIN/vfioctl" bind "$1" 2>&1)
    _rc=$?
    [ "$_rc" -ne 0 ] || { echo "bind of $1 with $_if up succeeded"; return 1; }
    case $_err in *"$_if"*up*) ;; *) echo "unexpected message: $_err"; return 1 ;; esac
    [ "$(driver_of "$1")" = e1000e ] || { echo "driver is now $(driver_of "$1"), expected e1000e untouched"; return 1; }
}

# ck_nic_bind BDF: our function to vfio-pci (its interface is down: nothing configured it).
ck_nic_bind() {
    bind_vfio "$1" || { echo "binding $1 to vfio-pci failed"; return 1; }
    _drv=$(driver_of "$1")
    [ "$_drv" = vfio-pci ] || { echo "$1 is bound to '${_drv:-nothing}' after bind"; return 1; }
}

# ck_vfioctl_net_info BDF MAC: the tool brings our NIC up and prints the MAC QEMU was given (a
# smoke test of `vfioctl net`; vfio-hil checks the driver itself).
ck_vfioctl_net_info() {
    has_vfioctl_net || return $?
    _out=$("$HIL_BIN/vfioctl" net info --device "$1" 2>&1) || { echo "net info failed: $(printf '%s\n' "$_out" | tail -n 1)"; return 1; }
    case $_out in *"$2"*) ;; *) echo "net info does not show $2: $(printf '%s\n' "$_out" | head -n 1)"; return 1 ;; esac
}

# ck_nic_unbind BDF: our function goes back to the kernel's e1000e and gets an interface again.
ck_nic_unbind() {
    if use_vfioctl unbind; then
        "$HIL_BIN/vfioctl" unbind --driver e1000e "$1" >/dev/null || { echo "vfioctl unbind failed"; return 1; }
    else
        echo >"$SYSPCI/$1/driver_override"
        echo "$1" >"$SYSPCI/$1/driver/unbind"
        echo "$1" >/sys/bus/pci/drivers/e1000e/bind || { echo "bind to e1000e failed"; return 1; }
    fi
    [ "$(driver_of "$1")" = e1000e ] || { echo "$1 is bound to '$(driver_of "$1")' after unbind"; return 1; }
    wait_for 20 has_net_if "$1" || { echo "$1 has no network interface after 20 s"; return 1; }
}

# run_nic_checks: every pair in $BOOT_DIR/nics.
run_nic_checks() {
    while read -r _nname _ours _omac _peer _pmac <&4; do
        [ -n "$_nname" ] || continue
        info "NIC pair $_nname: ours $_ours ($_omac), kernel peer $_peer ($_pmac), one QEMU hub"
        HIL_SCRATCH=/tmp/hil-guest/$_nname
        mkdir -p "$HIL_SCRATCH"
        check "$_nname/nic-function-ours" ck_nic_function "$_ours" "$_omac" || continue
        check "$_nname/nic-function-peer" ck_nic_function "$_peer" "$_pmac" || continue
        check "$_nname/nic-separate-iommu-groups" ck_nic_separate_groups "$_ours" "$_peer"
        check "$_nname/iommu-translated" ck_iommu_translated "$_ours"
        check "$_nname/peer-up" ck_nic_peer_up "$_peer" || continue
        check "$_nname/vfioctl-refuses-up-interface" ck_vfioctl_refuses_up_interface "$_peer"
        check "$_nname/bind-vfio-pci" ck_nic_bind "$_ours" || continue
        check "$_nname/vfio-group-viable" ck_group_viable "$_ours"
        check "$_nname/vfioctl-net-info" ck_vfioctl_net_info "$_ours" "$_omac"
        run_vfio_hil "$_nname" "$_ours" "$HIL_NIC_TIMEOUT" HIL_NIC="$_nname" HIL_OUR_MAC="$_omac" \
            HIL_OUR_IP="$NIC_OUR_IP" HIL_PEER_BDF="$_peer" HIL_PEER_MAC="$_pmac" HIL_PEER_IP="$NIC_PEER_IP" \
            HIL_PEER_IF="$(net_if_of "$_peer")"
        check "$_nname/unbind-restores-e1000e" ck_nic_unbind "$_ours"
    done 4<"$BOOT_DIR/nics"
}
