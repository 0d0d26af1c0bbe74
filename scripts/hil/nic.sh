# shellcheck shell=sh
# NIC checks for the hardware-in-the-loop guest (POSIX sh, sourced by guest.sh after checks.sh;
# never run on the host: binding here would take the host's network away).
#
# The host (scripts/hil-test.sh, table NICS) gives the VM pairs of QEMU e1000e functions (Intel
# 82574L) whose netdevs are ports of one QEMU hub, so every frame one sends the other receives:
#
#   ours  (OUR_BDF, OUR_MAC)   bound to vfio-pci and driven by `vfioctl net`
#   peer  (PEER_BDF, PEER_MAC) left to the kernel's e1000e driver, with an IPv4 address
#
# The peer is the "other side": the kernel's stack answers ARP and pings us, and its
# /sys/class/net/IF/statistics counters (e1000e reads the NIC's GPRC/GPTC on every read) verify
# what our driver sent. For each completion mode:
#   ping-echo-MODE  `vfioctl net echo` answers ARP and ICMP echo for NIC_OUR_IP; the kernel's
#                   `ping -c N` gets N replies (our RX and TX, seen from the kernel)
#   gen-MODE        `vfioctl net gen --count N` raises the peer's rx_packets by at least N;
#                   packets per second and cycles per packet go to the results as `#` lines
#   recv-MODE       `vfioctl net recv` counts the ICMP echo requests the kernel sends us
#
# $BOOT_DIR/nics has one line per pair: NAME OUR_BDF OUR_MAC PEER_BDF PEER_MAC.

NIC_OUR_IP=10.77.0.2
NIC_PEER_IP=10.77.0.1
NIC_PINGS=5
NIC_GEN_COUNT=10000
NIC_RECV_COUNT=20

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

# net_stat IF COUNTER: one counter of /sys/class/net/IF/statistics.
net_stat() { value "/sys/class/net/$1/statistics/$2"; }

# Conditions for wait_for, which re-runs a command (an argument like "$(...)" would be expanded
# once, before the first try).
has_carrier() { [ "$(value "/sys/class/net/$1/carrier")" = 1 ]; }
stat_at_least() { [ "$(net_stat "$1" "$2")" -ge "$3" ]; }
has_net_if() { [ -n "$(net_if_of "$1")" ]; }

# json_number FILE KEY: the number after "KEY": in vfioctl's --json output (one key per line).
json_number() {
    sed -n "s/^ *\"$2\": \(-\{0,1\}[0-9.e+-]*\),\{0,1\}\$/\1/p" "$1" | head -n 1
}

# json_true FILE KEY
json_true() { grep -q "\"$2\": true" "$1"; }

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

# ck_vfioctl_net_info BDF MAC: our driver reads the MAC QEMU was given and sees the link up.
ck_vfioctl_net_info() {
    has_vfioctl_net || return $?
    _f=$HIL_SCRATCH/net-info.json
    "$HIL_BIN/vfioctl" net info --device "$1" --json >"$_f" || { echo "net info failed: $(cat "$_f")"; return 1; }
    grep -q "\"mac\": \"$2\"" "$_f" || { echo "MAC is not $2: $(grep '"mac"' "$_f")"; return 1; }
    json_true "$_f" link_up || { echo "link is down"; return 1; }
    _speed=$(json_number "$_f" speed_mbps)
    [ "$_speed" = 1000 ] || { echo "speed ${_speed:-?} Mb/s, QEMU's e1000e reports 1000"; return 1; }
}

# wait_for_line FILE TEXT SECONDS: until FILE holds TEXT (a background vfioctl's readiness line).
has_line() { grep -q "$2" "$1" 2>/dev/null; }
wait_for_line() { wait_for "$3" has_line "$1" "$2"; }

# ck_nic_ping_echo BDF MODE PEER_BDF: with `vfioctl net echo` answering for NIC_OUR_IP, the kernel's
# ping gets every reply; the peer's counters saw our replies arrive.
ck_nic_ping_echo() {
    has_vfioctl_net || return $?
    _if=$(net_if_of "$3")
    _log=$HIL_SCRATCH/echo-$2.out
    # A fresh ARP exchange each mode, so that our ARP path runs every time.
    ip neigh flush dev "$_if" 2>/dev/null
    "$HIL_BIN/vfioctl" net echo --device "$1" --ip "$NIC_OUR_IP" --mode "$2" --time 90s \
        --replies "$NIC_PINGS" --json >"$_log" 2>&1 &
    _pid=$!
    if ! wait_for_line "$_log" "answering" 60; then
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

# ck_nic_gen BDF MODE PEER_BDF PEER_MAC QUEUES: the packet generator's frames all reach the peer.
ck_nic_gen() {
    has_vfioctl_net || return $?
    _if=$(net_if_of "$3")
    _out=$HIL_SCRATCH/gen-$2-q$5.json
    _rx0=$(net_stat "$_if" rx_packets)
    "$HIL_BIN/vfioctl" net gen --device "$1" --count "$NIC_GEN_COUNT" --dst-mac "$4" --mode "$2" \
        --queues "$5" --json >"$_out" 2>"$_out.err" || { echo "net gen failed: $(tail -n 1 "$_out.err")"; return 1; }
    # The peer's NAPI drains its ring after our last descriptor is written back: let it catch up.
    _want=$((_rx0 + NIC_GEN_COUNT))
    wait_for 10 stat_at_least "$_if" rx_packets "$_want"
    _rx1=$(net_stat "$_if" rx_packets)
    _sent=$(json_number "$_out" packets)
    [ "${_sent:-0}" -eq "$NIC_GEN_COUNT" ] || { echo "net gen reports ${_sent:-no} packets sent"; return 1; }
    [ $((_rx1 - _rx0)) -ge "$NIC_GEN_COUNT" ] ||
        { echo "peer rx_packets rose by $((_rx1 - _rx0)), expected >= $NIC_GEN_COUNT (rx_missed_errors $(net_stat "$_if" rx_missed_errors))"; return 1; }
    cp "$_out" "$BOOT_DIR/nic-gen-$2-q$5.json" 2>/dev/null
}

# ck_nic_recv BDF MODE PEER_BDF OUR_MAC PEER_MAC: `vfioctl net recv` sees the ICMP echo requests
# the kernel sends to NIC_OUR_IP (a static neighbour entry, since nothing answers ARP here).
ck_nic_recv() {
    has_vfioctl_net || return $?
    _if=$(net_if_of "$3")
    _out=$HIL_SCRATCH/recv-$2.json
    ip neigh replace "$NIC_OUR_IP" lladdr "$4" dev "$_if" nud permanent ||
        { echo "ip neigh replace failed"; return 1; }
    "$HIL_BIN/vfioctl" net recv --device "$1" --mode "$2" --count "$NIC_RECV_COUNT" --src-mac "$5" \
        --time 90s --json >"$_out" 2>"$_out.err" &
    _pid=$!
    if ! wait_for_line "$_out.err" "receiving" 60; then
        kill "$_pid" 2>/dev/null
        wait "$_pid" 2>/dev/null
        ip neigh del "$NIC_OUR_IP" dev "$_if" 2>/dev/null
        echo "net recv did not start within 60 s: $(tail -n 1 "$_out.err")"
        return 1
    fi
    _tx0=$(net_stat "$_if" tx_packets)
    busybox ping -c $((NIC_RECV_COUNT + 10)) -i 0.1 -W 1 "$NIC_OUR_IP" >/dev/null 2>&1
    _tx1=$(net_stat "$_if" tx_packets)
    wait "$_pid"
    _rc=$?
    ip neigh del "$NIC_OUR_IP" dev "$_if" 2>/dev/null
    [ "$_rc" -eq 0 ] || { echo "net recv exit status $_rc: $(tail -n 1 "$_out.err")"; return 1; }
    _matched=$(json_number "$_out" matched)
    [ "${_matched:-0}" -ge "$NIC_RECV_COUNT" ] ||
        { echo "net recv matched ${_matched:-no} frames from $5, expected $NIC_RECV_COUNT (peer sent $((_tx1 - _tx0)))"; return 1; }
    _icmp=$(json_number "$_out" icmp_echo_requests)
    [ "${_icmp:-0}" -ge 1 ] || { echo "none of the frames was an ICMP echo request"; return 1; }
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

# nic_report MODE QUEUES: the generator's figures as an info line (TCG: emulated CPU, emulated NIC).
nic_report() {
    _f=$BOOT_DIR/nic-gen-$1-q$2.json
    [ -s "$_f" ] || return 0
    info "$3 gen mode=$1 queues=$2: $(json_number "$_f" pps) pps, $(json_number "$_f" mbit_per_s) Mbit/s, $(json_number "$_f" cycles_per_packet) cycles/packet ($(json_number "$_f" packets) packets, TCG guest)"
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
        if check "$_nname/vfioctl-net-info" ck_vfioctl_net_info "$_ours" "$_omac"; then
            for _mode in poll interrupt hybrid; do
                check "$_nname/ping-echo-$_mode" ck_nic_ping_echo "$_ours" "$_mode" "$_peer"
                check "$_nname/gen-$_mode" ck_nic_gen "$_ours" "$_mode" "$_peer" "$_pmac" 1
                check "$_nname/recv-$_mode" ck_nic_recv "$_ours" "$_mode" "$_peer" "$_omac" "$_pmac"
            done
            check "$_nname/gen-poll-2-queues" ck_nic_gen "$_ours" poll "$_peer" "$_pmac" 2
            for _mode in poll interrupt hybrid; do nic_report "$_mode" 1 "$_nname"; done
            nic_report poll 2 "$_nname"
        fi
        check "$_nname/unbind-restores-e1000e" ck_nic_unbind "$_ours"
    done 4<"$BOOT_DIR/nics"
}
