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
    _out=$(vfioctl_device net info --device "$1" 2>&1) || { echo "net info failed: $(printf '%s\n' "$_out" | tail -n 1)"; return 1; }
    case $_out in *"$2"*) ;; *) echo "net info does not show $2: $(printf '%s\n' "$_out" | head -n 1)"; return 1 ;; esac
}

# net_stat IF NAME: one of the interface's counters.
net_stat() { value "/sys/class/net/$1/statistics/$2"; }
stat_at_least() { [ "$(net_stat "$1" "$2")" -ge "$3" ]; }
has_line() { grep -q "$2" "$1" 2>/dev/null; }

# json_number FILE KEY: the number after "KEY": in vfioctl's JSON.
json_number() { sed -n "s/.*\"$2\": \([0-9][0-9]*\).*/\1/p" "$1" | head -n 1; }

# ck_vfioctl_net_backend BDF: `net info --json` names the backend vfioctl picked by itself
# (iommufd where the boot offers it).
ck_vfioctl_net_backend() {
    has_vfioctl_net || return $?
    _want=container
    case " ${HIL_BACKENDS:-} " in *" iommufd "*) _want=iommufd ;; esac
    _out=$(vfioctl_device net info --device "$1" --json 2>&1) || { echo "net info failed: $(printf '%s\n' "$_out" | tail -n 1)"; return 1; }
    printf '%s\n' "$_out" | grep -q "\"vfio_backend\": \"$_want\"" ||
        { echo "net info reports $(printf '%s\n' "$_out" | grep '"vfio_backend' | tr -s ' \n' ' '), expected $_want"; return 1; }
}

# ck_vfioctl_net_gen BDF PEER_BDF PEER_MAC: `vfioctl net gen` sends NIC_GEN_COUNT frames to the
# peer's MAC, and the kernel's e1000e counts them all arriving.
NIC_GEN_COUNT=2000
ck_vfioctl_net_gen() {
    has_vfioctl_net || return $?
    _if=$(net_if_of "$2")
    _out=$HIL_SCRATCH/vfioctl-gen.json
    _rx0=$(net_stat "$_if" rx_packets)
    vfioctl_device net gen --device "$1" --count "$NIC_GEN_COUNT" --dst-mac "$3" --json \
        >"$_out" 2>"$_out.err" || { echo "net gen failed: $(tail -n 1 "$_out.err")"; return 1; }
    # The peer's NAPI drains its ring after our last descriptor is written back: let it catch up.
    wait_for 10 stat_at_least "$_if" rx_packets $((_rx0 + NIC_GEN_COUNT))
    _rx1=$(net_stat "$_if" rx_packets)
    _sent=$(json_number "$_out" packets)
    [ "${_sent:-0}" -eq "$NIC_GEN_COUNT" ] || { echo "net gen reports ${_sent:-no} packets sent"; return 1; }
    [ $((_rx1 - _rx0)) -ge "$NIC_GEN_COUNT" ] ||
        { echo "peer rx_packets rose by $((_rx1 - _rx0)), expected >= $NIC_GEN_COUNT"; return 1; }
    info "vfioctl net gen on $1: $(tr -s ' \n' ' ' <"$_out" | cut -c1-300)"
}

# ck_vfioctl_net_echo BDF PEER_BDF: with `vfioctl net echo` answering for NIC_OUR_IP, the kernel's
# ping from the peer gets every reply, and the peer's counters saw them arrive.
NIC_PINGS=3
ck_vfioctl_net_echo() {
    has_vfioctl_net || return $?
    command -v busybox >/dev/null 2>&1 || { echo "busybox (for ping) not installed"; return 2; }
    _if=$(net_if_of "$2")
    _log=$HIL_SCRATCH/vfioctl-echo.out
    ip neigh flush dev "$_if" 2>/dev/null
    vfioctl_device net echo --device "$1" --ip "$NIC_OUR_IP" --time 90s \
        --replies "$NIC_PINGS" --json >"$_log" 2>&1 &
    _pid=$!
    if ! wait_for 60 has_line "$_log" answering; then
        kill "$_pid" 2>/dev/null
        wait "$_pid" 2>/dev/null
        echo "net echo did not start within 60 s: $(tail -n 1 "$_log")"
        return 1
    fi
    _rx0=$(net_stat "$_if" rx_packets)
    _ping=$(busybox ping -c "$NIC_PINGS" -W 5 "$NIC_OUR_IP" 2>&1)
    _prc=$?
    _rx1=$(net_stat "$_if" rx_packets)
    # echo stops by itself after --replies answers; give it time to print its JSON.
    _left=100
    while kill -0 "$_pid" 2>/dev/null && [ "$_left" -gt 0 ]; do sleep 0.2; _left=$((_left - 1)); done
    kill "$_pid" 2>/dev/null
    wait "$_pid"
    _erc=$?
    printf '%s\n' "$_ping" | tail -n 2
    [ "$_prc" -eq 0 ] || { echo "ping exit status $_prc"; return 1; }
    case $_ping in *"$NIC_PINGS packets received"*) ;; *) echo "ping did not get $NIC_PINGS replies"; return 1 ;; esac
    [ $((_rx1 - _rx0)) -ge "$NIC_PINGS" ] || { echo "peer rx_packets rose by $((_rx1 - _rx0)), expected >= $NIC_PINGS"; return 1; }
    [ "$_erc" -eq 0 ] || { echo "net echo exit status $_erc: $(tail -n 1 "$_log")"; return 1; }
    _replies=$(json_number "$_log" icmp_replies)
    [ "${_replies:-0}" -ge "$NIC_PINGS" ] || { echo "net echo reports ${_replies:-no} ICMP replies"; return 1; }
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
        # The NIC runs through the boot's first backend only (HIL_BACKENDS; the NVMe checks cover the others).
        _nb=${HIL_BACKENDS%% *}
        run_vfio_hil "$_nname${_nb:+/$_nb}" "$_ours" "$HIL_NIC_TIMEOUT" HIL_NIC="$_nname" HIL_OUR_MAC="$_omac" \
            ${_nb:+HIL_VFIO_BACKEND="$_nb"} HIL_OUR_IP="$NIC_OUR_IP" HIL_PEER_BDF="$_peer" HIL_PEER_MAC="$_pmac" \
            HIL_PEER_IP="$NIC_PEER_IP" HIL_PEER_IF="$(net_if_of "$_peer")"
        if [ "${HIL_VFIOCTL_NET:-0}" = 1 ]; then
            check "$_nname/vfioctl-net-backend" ck_vfioctl_net_backend "$_ours"
            check "$_nname/vfioctl-net-gen" ck_vfioctl_net_gen "$_ours" "$_peer" "$_pmac"
            check "$_nname/vfioctl-net-echo" ck_vfioctl_net_echo "$_ours" "$_peer"
        fi
        check "$_nname/unbind-restores-e1000e" ck_nic_unbind "$_ours"
    done 4<"$BOOT_DIR/nics"
}
