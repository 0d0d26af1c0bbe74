# shellcheck shell=sh
# The controller named tcp (hil-test.sh's boot_tcp, issue 20): our NVMe/TCP target against the
# guest kernel's own initiator, an independent implementation of the protocol. guest.sh hands the
# controller here instead of running the data-only checks: bind it to vfio-pci, serve its
# namespace with `vfioctl nvme serve` on 127.0.0.1, then with nvme-cli and the kernel's nvme-tcp:
# connect, identity, ext4 (mkfs, mount, files, fsck), fio with crc32c verification, a second host
# at once, disconnect and a new connection, connections killed under I/O; then stop the target, give the controller back to
# the kernel's nvme driver and read through it what was written through the target.
# Sourced by guest.sh after checks.sh.

TCP_PORT=4420
TCP_NQN=nqn.2026-01.io.github.swift-vfio:hil-tcp
TCP_HOST1=nqn.2026-01.io.github.swift-vfio:hil-host-1
TCP_HOSTID1=5f1e2d3c-0001-4000-8000-000000000001
TCP_HOST2=nqn.2026-01.io.github.swift-vfio:hil-host-2
TCP_HOSTID2=5f1e2d3c-0002-4000-8000-000000000002
# ext4 in the first 32 MiB, fio's verified random writes at 40 MiB (the namespace has 64).
TCP_FS_SIZE=32M
TCP_FIO_ARGS="--name=tcp-verify --direct=1 --ioengine=libaio --iodepth=8 --rw=randwrite --bsrange=4k-32k
 --offset=40m --size=8m --verify=crc32c --verify_fatal=1 --randseed=2026 --eta=never"

# tcp_controllers [HOSTNQN]: the kernel's controllers (nvmeN) connected to our target over TCP,
# for HOSTNQN only when given.
tcp_controllers() {
    for _c in /sys/class/nvme/nvme*; do
        [ -e "$_c/transport" ] || continue
        [ "$(value "$_c/transport")" = tcp ] || continue
        [ "$(value "$_c/subsysnqn")" = "$TCP_NQN" ] || continue
        [ -z "${1:-}" ] || [ "$(value "$_c/hostnqn")" = "$1" ] || continue
        echo "${_c##*/}"
    done
}

# tcp_block_device: the block device (nvmeXnY) of namespace 1 of our target's subsystem. Its
# sysfs parent is the multipath subsystem (nvme-subsysX) or, without multipath, the controller;
# either has subsysnqn. Hidden path devices (nvmeXcYnZ) are not it.
tcp_block_device() {
    for _b in /sys/block/nvme*n*; do
        [ -e "$_b" ] || continue
        case ${_b##*/} in nvme*c*n*) continue ;; esac
        _p=$(cd -P "$_b" && pwd -P)
        [ "$(value "${_p%/*}/subsysnqn")" = "$TCP_NQN" ] || continue
        [ "$(value "$_b/nsid")" = 1 ] && echo "${_b##*/}" && return 0
    done
    return 0
}
tcp_has_block_device() { [ -n "$(tcp_block_device)" ] && [ -b "/dev/$(tcp_block_device)" ]; }
tcp_no_controllers() { [ -z "$(tcp_controllers)" ]; }
tcp_no_discovery_controller() {
    for _c in /sys/class/nvme/nvme*; do
        [ "$(value "$_c/subsysnqn")" != nqn.2014-08.org.nvmexpress.discovery ] || return 1
    done
}
tcp_live() {
    _l=$(tcp_controllers "$1")
    [ -n "$_l" ] && [ "$(value "/sys/class/nvme/$_l/state")" = live ]
}

# tcp_context: the kernel's and the target's last words, before a failure's reason line.
tcp_context() {
    dmesg | grep -i nvme | tail -n 12
    tail -n 6 "$TCP_SERVE_LOG" 2>/dev/null
}

# tcp_connect HOSTNQN HOSTID [cli]: connect, then wait until the controller is live and namespace
# 1's block device is there. With `cli` through `nvme connect` (the user's command); without,
# through the kernel's own interface, /dev/nvme-fabrics: nvme-cli 2.3 refuses a second host's
# connection to the same address and subsystem ("already connected", --duplicate-connect or not),
# which the kernel accepts (its duplicate check compares host NQNs too).
tcp_connect() {
    if [ "${3:-}" = cli ]; then
        timeout 90 nvme connect -t tcp -a 127.0.0.1 -s "$TCP_PORT" -n "$TCP_NQN" -q "$1" -I "$2" >"$HIL_SCRATCH/connect.out" 2>&1
    else
        printf 'transport=tcp,traddr=127.0.0.1,trsvcid=%s,nqn=%s,hostnqn=%s,hostid=%s' "$TCP_PORT" "$TCP_NQN" "$1" "$2" \
            >/dev/nvme-fabrics 2>"$HIL_SCRATCH/connect.out"
    fi || { cat "$HIL_SCRATCH/connect.out"; tcp_context; echo "connecting as $1 failed: $(cat "$HIL_SCRATCH/connect.out")"; return 1; }
    wait_for 30 tcp_live "$1" || { tcp_context; echo "no live TCP controller for $1 30 s after the connect"; return 1; }
    wait_for 30 tcp_has_block_device || { tcp_context; echo "no block device for $TCP_NQN namespace 1 30 s after the connect"; return 1; }
}

# tcp_files_match DEVICE: mount DEVICE read-only and compare the files' checksums with those
# recorded when they were written through the target.
tcp_files_match() {
    _m=$HIL_SCRATCH/mnt
    mount -o ro "/dev/$1" "$_m" || { echo "mount -o ro /dev/$1 failed"; return 1; }
    (cd "$_m" && cksum files/*) >"$HIL_SCRATCH/files-now.cksum" 2>&1
    umount "$_m" || { echo "umount $_m failed"; return 1; }
    same_bytes "$HIL_SCRATCH/files.cksum" "$HIL_SCRATCH/files-now.cksum" >/dev/null ||
        { cat "$HIL_SCRATCH/files-now.cksum"; echo "the files on /dev/$1 differ from what was written through the target"; return 1; }
}

# ck_tcp_serve_listening: `vfioctl nvme serve` (started by run_tcp_controller) says it listens.
ck_tcp_serve_listening() {
    wait_for 60 grep -q "on 127.0.0.1:$TCP_PORT" "$TCP_SERVE_LOG" ||
        { cat "$TCP_SERVE_LOG"; echo "vfioctl nvme serve did not report listening on 127.0.0.1:$TCP_PORT within 60 s"; return 1; }
    kill -0 "$TCP_SERVE_PID" 2>/dev/null || { cat "$TCP_SERVE_LOG"; echo "vfioctl nvme serve exited"; return 1; }
}

# ck_tcp_initiator: the kernel's NVMe/TCP host (a module on Debian's kernel) is there.
ck_tcp_initiator() {
    modprobe nvme-tcp 2>/dev/null
    [ -c /dev/nvme-fabrics ] || { echo "no /dev/nvme-fabrics after modprobe nvme-tcp"; return 1; }
    command -v nvme >/dev/null 2>&1 || { echo "nvme-cli is not installed (scripts/install-deps.sh --hil)"; return 1; }
}

# ck_tcp_discover: `nvme discover` reaches the target's discovery controller (the discovery NQN,
# Get Log Page 70h) and its log lists our subsystem at the address and port it listens on.
ck_tcp_discover() {
    timeout 60 nvme discover -t tcp -a 127.0.0.1 -s "$TCP_PORT" -q "$TCP_HOST1" -I "$TCP_HOSTID1" >"$HIL_SCRATCH/discover.out" 2>&1 ||
        { cat "$HIL_SCRATCH/discover.out"; tcp_context; echo "nvme discover -t tcp -a 127.0.0.1 -s $TCP_PORT failed"; return 1; }
    for _want in "subnqn: *$TCP_NQN *\$" "trsvcid: *$TCP_PORT *\$" "traddr: *127.0.0.1 *\$" "trtype: *tcp *\$"; do
        grep -q "^$_want" "$HIL_SCRATCH/discover.out" ||
            { cat "$HIL_SCRATCH/discover.out"; echo "the discovery log has no line matching '$_want'"; return 1; }
    done
    # The discovery controller went away with nvme discover (it is not persistent).
    wait_for 20 tcp_no_discovery_controller ||
        { echo "a discovery controller is still there 20 s after nvme discover"; return 1; }
}

# ck_tcp_connect_all: `nvme connect-all` reads the discovery log and connects to the subsystem it
# lists: a live controller and namespace 1's block device; then it disconnects again.
ck_tcp_connect_all() {
    [ -z "$(tcp_controllers)" ] || { echo "already connected to $TCP_NQN: $(tcp_controllers)"; return 1; }
    timeout 90 nvme connect-all -t tcp -a 127.0.0.1 -s "$TCP_PORT" -q "$TCP_HOST1" -I "$TCP_HOSTID1" >"$HIL_SCRATCH/connect-all.out" 2>&1 ||
        { cat "$HIL_SCRATCH/connect-all.out"; tcp_context; echo "nvme connect-all -t tcp -a 127.0.0.1 -s $TCP_PORT failed"; return 1; }
    wait_for 30 tcp_live "$TCP_HOST1" || { cat "$HIL_SCRATCH/connect-all.out"; tcp_context; echo "no live controller for $TCP_NQN 30 s after nvme connect-all"; return 1; }
    wait_for 30 tcp_has_block_device || { tcp_context; echo "no block device for $TCP_NQN namespace 1 30 s after nvme connect-all"; return 1; }
    nvme disconnect -n "$TCP_NQN" >"$HIL_SCRATCH/disconnect.out" 2>&1 || { cat "$HIL_SCRATCH/disconnect.out"; echo "nvme disconnect -n $TCP_NQN failed"; return 1; }
    wait_for 20 tcp_no_controllers || { echo "controllers left after nvme disconnect -n: $(tcp_controllers)"; return 1; }
}

ck_tcp_connect() {
    [ -z "$(tcp_controllers)" ] || { echo "already connected to $TCP_NQN: $(tcp_controllers)"; return 1; }
    tcp_connect "$TCP_HOST1" "$TCP_HOSTID1" cli
}

# ck_tcp_identity BYTES BLOCK_SIZE MODEL SERIAL: the block device over TCP has the namespace's
# size and block size (as the target reported them when it started), and the controller the
# model and serial number the kernel's PCIe driver read from the controller before the bind.
ck_tcp_identity() {
    _blk=$(tcp_block_device) _ctrl=$(tcp_controllers "$TCP_HOST1")
    if [ -z "$_blk" ] || [ -z "$_ctrl" ]; then echo "not connected"; return 1; fi
    _bytes=$(($(value "/sys/block/$_blk/size") * 512))
    [ "$_bytes" -eq "$1" ] || { echo "/dev/$_blk has $_bytes bytes, the namespace $1"; return 1; }
    _lbs=$(value "/sys/block/$_blk/queue/logical_block_size")
    [ "$_lbs" = "$2" ] || { echo "/dev/$_blk: logical block size $_lbs, the namespace's $2"; return 1; }
    # The target's start line: "... namespace 1 (BLOCKS blocks of SIZE bytes) of BDF; ...".
    _served=$(sed -n 's/.*namespace 1 (\([0-9]*\) blocks of \([0-9]*\) bytes).*/\1 \2/p' "$TCP_SERVE_LOG")
    [ "$_served" = "$(($1 / $2)) $2" ] ||
        { echo "the target reported namespace 1 as '$_served' (blocks, block size), the kernel sees $(($1 / $2)) $2"; return 1; }
    _model=$(value "/sys/class/nvme/$_ctrl/model") _serial=$(value "/sys/class/nvme/$_ctrl/serial")
    [ "$_model" = "$3" ] || { echo "$_ctrl: model '$_model' over TCP, '$3' over PCIe"; return 1; }
    [ "$_serial" = "$4" ] || { echo "$_ctrl: serial '$_serial' over TCP, '$4' over PCIe"; return 1; }
}

# ck_tcp_mkfs_mount_fsck: ext4 through the target, files written and read back after a remount,
# fsck clean. The files' checksums stay in the scratch folder for the later reads.
ck_tcp_mkfs_mount_fsck() {
    _blk=$(tcp_block_device)
    [ -n "$_blk" ] || { echo "not connected"; return 1; }
    modprobe ext4 2>/dev/null
    mkfs.ext4 -q -F "/dev/$_blk" "$TCP_FS_SIZE" >"$HIL_SCRATCH/mkfs.out" 2>&1 ||
        { cat "$HIL_SCRATCH/mkfs.out"; tcp_context; echo "mkfs.ext4 /dev/$_blk failed"; return 1; }
    _m=$HIL_SCRATCH/mnt
    mkdir -p "$_m"
    mount "/dev/$_blk" "$_m" || { tcp_context; echo "mount /dev/$_blk failed"; return 1; }
    mkdir -p "$_m/files"
    head -c 1048576 /dev/urandom >"$_m/files/one-mib.bin"
    head -c 3158977 /dev/urandom >"$_m/files/odd-size.bin"
    yes "swift-vfio over NVMe/TCP" | head -c 70000 >"$_m/files/text.txt"
    (cd "$_m" && cksum files/*) >"$HIL_SCRATCH/files.cksum"
    sync
    umount "$_m" || { tcp_context; echo "umount /dev/$_blk failed"; return 1; }
    tcp_files_match "$_blk" || return 1
    fsck.ext4 -n -f "/dev/$_blk" >"$HIL_SCRATCH/fsck.out" 2>&1 ||
        { cat "$HIL_SCRATCH/fsck.out"; echo "fsck.ext4 -n -f /dev/$_blk is not clean"; return 1; }
}

# ck_tcp_fio_verify: random writes of 4-32 KiB at queue depth 8, each block read back and checked
# against its crc32c by fio.
ck_tcp_fio_verify() {
    command -v fio >/dev/null 2>&1 || { echo "fio is not installed (scripts/install-deps.sh --hil)"; return 1; }
    _blk=$(tcp_block_device)
    [ -n "$_blk" ] || { echo "not connected"; return 1; }
    # shellcheck disable=SC2086 # TCP_FIO_ARGS is a word list
    fio $TCP_FIO_ARGS --filename="/dev/$_blk" --output="$HIL_SCRATCH/fio.out" >/dev/null 2>&1 ||
        { cat "$HIL_SCRATCH/fio.out"; tcp_context; echo "fio --verify=crc32c through /dev/$_blk failed"; return 1; }
}

# ck_tcp_two_connections: a second host (another host NQN and host id) connects while the first
# stays connected: two live controllers with distinct controller ids, Identify through the second.
ck_tcp_two_connections() {
    tcp_connect "$TCP_HOST2" "$TCP_HOSTID2" || return 1
    _c1=$(tcp_controllers "$TCP_HOST1") _c2=$(tcp_controllers "$TCP_HOST2")
    tcp_live "$TCP_HOST1" || { echo "the first controller ($_c1) is no longer live"; return 1; }
    _id1=$(value "/sys/class/nvme/$_c1/cntlid") _id2=$(value "/sys/class/nvme/$_c2/cntlid")
    [ "$_id1" != "$_id2" ] || { echo "both controllers have controller id $_id1"; return 1; }
    nvme id-ctrl "/dev/$_c2" >"$HIL_SCRATCH/id-ctrl-2.out" 2>&1 || { tcp_context; echo "nvme id-ctrl /dev/$_c2 failed"; return 1; }
    grep -q "^subnqn *: *$TCP_NQN" "$HIL_SCRATCH/id-ctrl-2.out" || { cat "$HIL_SCRATCH/id-ctrl-2.out"; echo "id-ctrl through $_c2 does not show $TCP_NQN"; return 1; }
}

# ck_tcp_disconnect: the first host disconnects; the target keeps serving the second (the files
# read back through it), then the second disconnects, and a new connection reads them again.
ck_tcp_disconnect() {
    _c1=$(tcp_controllers "$TCP_HOST1")
    [ -n "$_c1" ] || { echo "the first host is not connected"; return 1; }
    nvme disconnect -d "$_c1" >"$HIL_SCRATCH/disconnect.out" 2>&1 || { cat "$HIL_SCRATCH/disconnect.out"; echo "nvme disconnect -d $_c1 failed"; return 1; }
    wait_for 20 test ! -e "/sys/class/nvme/$_c1" || { echo "$_c1 still there 20 s after nvme disconnect"; return 1; }
    kill -0 "$TCP_SERVE_PID" 2>/dev/null || { tail -n 5 "$TCP_SERVE_LOG"; echo "the target exited after the first disconnect"; return 1; }
    if [ -n "$(tcp_controllers "$TCP_HOST2")" ]; then
        wait_for 10 tcp_has_block_device || { tcp_context; echo "no block device through the second host's connection"; return 1; }
        tcp_files_match "$(tcp_block_device)" || { tcp_context; echo "the second connection does not read the files back"; return 1; }
    fi
    nvme disconnect -n "$TCP_NQN" >"$HIL_SCRATCH/disconnect.out" 2>&1 || { cat "$HIL_SCRATCH/disconnect.out"; echo "nvme disconnect -n $TCP_NQN failed"; return 1; }
    wait_for 20 tcp_no_controllers || { echo "controllers left after nvme disconnect -n: $(tcp_controllers)"; return 1; }
    kill -0 "$TCP_SERVE_PID" 2>/dev/null || { tail -n 5 "$TCP_SERVE_LOG"; echo "the target exited after every host disconnected"; return 1; }
    tcp_connect "$TCP_HOST1" "$TCP_HOSTID1" cli || { echo "no new connection after the disconnects"; return 1; }
    tcp_files_match "$(tcp_block_device)" || return 1
    nvme disconnect -n "$TCP_NQN" >/dev/null 2>&1
    wait_for 20 tcp_no_controllers || { echo "controllers left after the last disconnect: $(tcp_controllers)"; return 1; }
}

# ck_tcp_initiator_killed_reconnects: the initiator's connections die under I/O. With fio writing
# through the target, `ss -K` aborts the kernel host's sockets to the port (tcp_abort: a RST to the
# target, as when the initiator's machine drops off). The target must let those queues go and keep
# serving: the kernel host reconnects by itself (reconnect delay 1 s) and fio completes; then a
# fresh `nvme connect` reads back what was written before the kill.
ck_tcp_initiator_killed_reconnects() {
    [ -z "$(tcp_controllers)" ] || { echo "already connected to $TCP_NQN: $(tcp_controllers)"; return 1; }
    command -v ss >/dev/null 2>&1 || { echo "ss (iproute2) is not installed"; return 1; }
    timeout 90 nvme connect -t tcp -a 127.0.0.1 -s "$TCP_PORT" -n "$TCP_NQN" -q "$TCP_HOST1" -I "$TCP_HOSTID1" \
        --reconnect-delay=1 --ctrl-loss-tmo=120 >"$HIL_SCRATCH/connect.out" 2>&1 ||
        { cat "$HIL_SCRATCH/connect.out"; tcp_context; echo "nvme connect (reconnect delay 1 s) failed"; return 1; }
    wait_for 30 tcp_live "$TCP_HOST1" || { tcp_context; echo "no live controller 30 s after the connect"; return 1; }
    wait_for 30 tcp_has_block_device || { tcp_context; echo "no block device 30 s after the connect"; return 1; }
    _blk=$(tcp_block_device)
    # 1 MiB at 48 MiB, written (and flushed) before the kill.
    head -c 1048576 /dev/urandom >"$HIL_SCRATCH/before-kill.bin"
    dd if="$HIL_SCRATCH/before-kill.bin" of="/dev/$_blk" bs=1M seek=48 oflag=direct conv=fsync status=none ||
        { tcp_context; echo "writing 1 MiB at 48 MiB through /dev/$_blk failed"; return 1; }
    _reconnects=$(dmesg | grep -c 'Successfully reconnected')
    timeout 180 fio --name=tcp-kill --filename="/dev/$_blk" --direct=1 --ioengine=libaio --iodepth=8 --rw=randwrite --bs=4k \
        --offset=52m --size=8m --time_based --runtime=20 --eta=never --output="$HIL_SCRATCH/fio-kill.out" >/dev/null 2>&1 &
    _fio=$!
    sleep 5
    modprobe tcp_diag 2>/dev/null
    ss -K -t -n dst 127.0.0.1 dport = :"$TCP_PORT" >"$HIL_SCRATCH/ss-kill.out" 2>&1
    _killed=$(grep -c "127.0.0.1:$TCP_PORT" "$HIL_SCRATCH/ss-kill.out")
    if [ "$_killed" -eq 0 ]; then
        wait "$_fio"
        cat "$HIL_SCRATCH/ss-kill.out"; echo "ss -K killed no connection to port $TCP_PORT (kernel without CONFIG_INET_DIAG_DESTROY?)"; return 1
    fi
    wait "$_fio"
    _fio_rc=$?
    wait_for 90 tcp_live "$TCP_HOST1" || { tcp_context; echo "the host did not reconnect within 90 s of ss -K ($_killed connections killed)"; return 1; }
    [ "$(dmesg | grep -c 'Successfully reconnected')" -gt "$_reconnects" ] ||
        { tcp_context; echo "the kernel logged no reconnect after ss -K killed $_killed connections"; return 1; }
    [ "$_fio_rc" = 0 ] || { cat "$HIL_SCRATCH/fio-kill.out"; tcp_context; echo "fio across the kill and the reconnect failed (status $_fio_rc)"; return 1; }
    kill -0 "$TCP_SERVE_PID" 2>/dev/null || { tail -n 5 "$TCP_SERVE_LOG"; echo "the target exited after its connections were reset"; return 1; }
    nvme disconnect -n "$TCP_NQN" >/dev/null 2>&1
    wait_for 20 tcp_no_controllers || { echo "controllers left after nvme disconnect -n: $(tcp_controllers)"; return 1; }
    tcp_connect "$TCP_HOST1" "$TCP_HOSTID1" cli || { echo "no fresh connection after the kill"; return 1; }
    _blk=$(tcp_block_device)
    dd if="/dev/$_blk" of="$HIL_SCRATCH/after-kill.bin" bs=1M skip=48 count=1 iflag=direct status=none ||
        { tcp_context; echo "reading 1 MiB at 48 MiB through the fresh connection failed"; return 1; }
    cmp -s "$HIL_SCRATCH/before-kill.bin" "$HIL_SCRATCH/after-kill.bin" ||
        { echo "the 1 MiB written before the kill reads back different through the fresh connection"; return 1; }
    tcp_files_match "$_blk" || return 1
    echo "ss -K killed $_killed connections under fio, the host reconnected; fio: $(grep -E '^ *write: IOPS' "$HIL_SCRATCH/fio-kill.out" | tr -s ' ')" \
        >"$HIL_SCRATCH/kill.summary"
    nvme disconnect -n "$TCP_NQN" >/dev/null 2>&1
    wait_for 20 tcp_no_controllers || { echo "controllers left after the last disconnect: $(tcp_controllers)"; return 1; }
}

# ck_tcp_serve_stops STATUS: SIGTERM ended the target gracefully: its summary line, and exit
# status 143 as every long vfioctl run stopped by SIGTERM (137: the 30 s bound killed it).
ck_tcp_serve_stops() {
    [ "$1" != 137 ] || { tail -n 5 "$TCP_SERVE_LOG"; echo "vfioctl nvme serve still ran 30 s after SIGTERM"; return 1; }
    grep -q "^served $TCP_NQN .* until SIGTERM" "$TCP_SERVE_LOG" || { tail -n 5 "$TCP_SERVE_LOG"; echo "no summary line from vfioctl nvme serve"; return 1; }
    [ "$1" = 143 ] || { tail -n 5 "$TCP_SERVE_LOG"; echo "vfioctl nvme serve exited with status $1, not 143 (SIGTERM)"; return 1; }
}

# ck_tcp_kernel_reads_back BDF: the kernel's nvme driver, back on the controller, reads the files
# (fsck clean) and fio's blocks (fio --verify_only replays the same seed) written through the target.
ck_tcp_kernel_reads_back() {
    _blk=$(block_device_of "$1" 1)
    [ -n "$_blk" ] || { echo "no block device for $1 nsid 1"; return 1; }
    fsck.ext4 -n -f "/dev/$_blk" >"$HIL_SCRATCH/fsck-kernel.out" 2>&1 ||
        { cat "$HIL_SCRATCH/fsck-kernel.out"; echo "fsck.ext4 -n -f /dev/$_blk (the kernel's nvme driver) is not clean"; return 1; }
    tcp_files_match "$_blk" || return 1
    # shellcheck disable=SC2086 # TCP_FIO_ARGS is a word list
    fio $TCP_FIO_ARGS --verify_only --filename="/dev/$_blk" --output="$HIL_SCRATCH/fio-kernel.out" >/dev/null 2>&1 ||
        { cat "$HIL_SCRATCH/fio-kernel.out"; echo "fio --verify_only through the kernel's /dev/$_blk finds other data than fio wrote through the target"; return 1; }
}

# run_tcp_controller NAME BDF SERIAL MDTS IOQPAIRS NAMESPACES: see the header.
run_tcp_controller() {
    _tc_name=$1 _tc_bdf=$2 _tc_ns=${6%%,*}
    _tc_bs=${_tc_ns#*:}
    _tc_bs=${_tc_bs%%:*}
    _tc_bytes=$((${_tc_ns##*:} * _tc_bs))
    HIL_SCRATCH=/tmp/hil-guest/$_tc_name
    mkdir -p "$HIL_SCRATCH/mnt"
    TCP_SERVE_LOG=$BOOT_DIR/$_tc_name/serve.log
    mkdir -p "$BOOT_DIR/$_tc_name"
    # The initiator talks to 127.0.0.1.
    ip link set lo up 2>/dev/null
    check "$_tc_name/nvme-function" ck_nvme_function "$_tc_bdf" || return
    # What the kernel's PCIe driver reads from the controller, to compare with the TCP view.
    _tc_model='' _tc_pci_serial=''
    for _c in "$SYSPCI/$_tc_bdf"/nvme/nvme*; do
        _tc_model=$(value "$_c/model") _tc_pci_serial=$(value "$_c/serial")
    done
    check "$_tc_name/bind-vfio-pci" ck_bind_vfio "$_tc_bdf" || return
    has_vfioctl >/dev/null || { emit "SKIP $_tc_name/tcp-serve: vfioctl not built"; return; }
    info "$_tc_name: vfioctl nvme serve --device $_tc_bdf --listen 127.0.0.1:$TCP_PORT --nqn $TCP_NQN"
    "$HIL_BIN/vfioctl" nvme serve --device "$_tc_bdf" --listen "127.0.0.1:$TCP_PORT" --nqn "$TCP_NQN" \
        </dev/null >"$TCP_SERVE_LOG" 2>&1 &
    TCP_SERVE_PID=$!
    if check "$_tc_name/tcp-serve-listening" ck_tcp_serve_listening; then
        if check "$_tc_name/tcp-initiator" ck_tcp_initiator; then
            check "$_tc_name/tcp-discover" ck_tcp_discover
            check "$_tc_name/tcp-connect-all" ck_tcp_connect_all
            if check "$_tc_name/tcp-connect" ck_tcp_connect; then
                check "$_tc_name/tcp-identity" ck_tcp_identity "$_tc_bytes" "$_tc_bs" "$_tc_model" "$_tc_pci_serial"
                check "$_tc_name/tcp-mkfs-mount-fsck" ck_tcp_mkfs_mount_fsck
                check "$_tc_name/tcp-fio-verify" ck_tcp_fio_verify &&
                    info "$_tc_name: fio through the target: $(grep -E '^ *(write|read): IOPS' "$HIL_SCRATCH/fio.out" | tr -s ' ' | tr '\n' ';')"
                check "$_tc_name/tcp-two-connections" ck_tcp_two_connections
                check "$_tc_name/tcp-disconnect" ck_tcp_disconnect
                check "$_tc_name/tcp-initiator-killed-reconnects" ck_tcp_initiator_killed_reconnects &&
                    info "$_tc_name: $(cat "$HIL_SCRATCH/kill.summary")"
            fi
            nvme disconnect -n "$TCP_NQN" >/dev/null 2>&1
        fi
    fi
    # Stopped here, not in a check (a check's subshell cannot wait for it), with a 30 s bound.
    kill -TERM "$TCP_SERVE_PID" 2>/dev/null
    (sleep 30 && kill -KILL "$TCP_SERVE_PID") >/dev/null 2>&1 &
    _tc_watchdog=$!
    wait "$TCP_SERVE_PID"
    _tc_rc=$?
    kill "$_tc_watchdog" 2>/dev/null
    check "$_tc_name/tcp-serve-stops" ck_tcp_serve_stops "$_tc_rc"
    grep -E '^served |connection [0-9]+: terminated' "$TCP_SERVE_LOG" | while IFS= read -r _l; do info "$_tc_name: $_l"; done
    check "$_tc_name/unbind-restores-nvme" ck_unbind_to_nvme "$_tc_bdf" || return
    check "$_tc_name/ns1-block-device-returns" ck_block_device_returns "$_tc_bdf" 1 || return
    check "$_tc_name/tcp-kernel-reads-back" ck_tcp_kernel_reads_back "$_tc_bdf"
}
