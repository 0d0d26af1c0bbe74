#!/usr/bin/env bash
# Hardware in the loop without hardware: our driver against QEMU's NVMe controllers behind an
# emulated Intel IOMMU, through the guest kernel's real vfio-pci, in TCG virtual machines.
#
#   scripts/hil-test.sh [--no-install] [--no-build] [--keep] [BOOT...]
#
# Installs what is missing (apt-get, pip), builds vfioctl and vfio-hil in release mode on the
# host, then boots one VM per BOOT (default: all) with `vng`. Inside, scripts/hil/guest.sh binds
# every NVMe function to vfio-pci (in the guest only; nothing on the host is ever bound),
# runs the checks and gives the functions back to the kernel's nvme driver. Every check prints
# `PASS name`, `FAIL name: reason` or `SKIP name: reason`; the last line is exactly
# `N passed, N failed` (`, N skipped` when any) and any failure, hung boot or boot without
# results makes the exit status non-zero.
#
# Configurations (table CONFIGS below): one VM per boot, several controllers per VM, because
# each TCG boot costs 25-75 s here before the first check runs (udev settling is most of it). Controller i of a boot sits at 0000:00:1<i>.0 (QEMU
# addr=0x10+i on the q35 root bus), each in its own IOMMU group.
#   formats  lba512     one namespace, 512 B blocks
#            lba4k-2ns  namespace 1 with 4 KiB blocks, namespace 2 with 512 B blocks
#   limits   mdts2      MDTS 2 (16 KiB per command with 4 KiB pages)
#            ioqpairs2  max_ioqpairs=2
#            e1000e     NIC pair (table NICS): two Intel 82574L (`-device e1000e`) on one QEMU
#                       hub; ours at 0000:00:18.0 goes to vfio-pci for `vfioctl net`, the peer at
#                       0000:00:19.0 stays with the kernel's e1000e and checks our frames from the
#                       other side (scripts/hil/nic.sh). Its generator figures come back as `#` lines.
#
# Before boot the host writes a pattern into every namespace's raw image: HIL_PATTERN_BLOCKS
# blocks from LBA HIL_PATTERN_LBA (odd on purpose, so that a byte/block or 4 KiB rounding
# mistake reads the wrong bytes); block k holds the text "swift-vfio hil CTRL nsN lba L"
# repeated. The guest checks it with the kernel's nvme driver before binding, and again after
# giving the device back.
#
# Contract with vfio-hil (Sources/vfio-hil, the Swift checks of our driver), run once per
# controller while it is bound to vfio-pci, as root with `ulimit -l unlimited`:
#   vfio-hil --device BDF
#   environment:
#     HIL_CONTROLLER      controller name from CONFIGS (lba512, mdts2, ...)
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
#     HIL_SCRATCH         writable scratch folder in the guest's /tmp
#   output: one `PASS|FAIL|SKIP name[: reason]` line per check; the guest prefixes names with
#   `CONTROLLER/`. Other lines go to guest.log. A run that exceeds HIL_CHECK_TIMEOUT, prints
#   no result line, or exits non-zero without a FAIL line counts as a failure.
#   Flags are kept to --device so that a new fact never breaks an older vfio-hil: add it
#   to the environment above.
#
# Adding a check:
#   - of our driver: a Swift check in vfio-hil (nothing to change here);
#   - at the shell level in the guest: a `ck_<what>` function in scripts/hil/checks.sh
#     (prints a reason and returns 1 to fail, 2 to skip) and one `check NAME ck_<what> ARGS`
#     line at the right phase of scripts/hil/guest.sh;
#   - a new device configuration: a line in CONFIGS (same boot name = same VM).
#
# Environment knobs: HIL_KERNEL (guest kernel), HIL_BOOT_TIMEOUT (seconds per boot; default
# 90 + controllers × (HIL_CHECK_TIMEOUT + 180) + NIC pairs × HIL_NIC_TIMEOUT (420)), HIL_CHECK_TIMEOUT (seconds per vfio-hil run,
# default 120), HIL_CPUS (2), HIL_MEMORY (2G), HIL_SCRATCH_PATH (SwiftPM scratch path,
# default .build-hil-release), HIL_BIND_WITH=sysfs (bind without vfioctl even when it is built).
#
# Pitfalls (seen on Debian 12, QEMU 7.2, 2 cores):
#   - /dev/kvm exists but nested KVM guests hang or crash (MSR 0x10a with -cpu host): always
#     --disable-kvm. Measured on 2 shared cores: 24-74 s from kernel start to the first check,
#     about 30 s of shell checks per two controllers (each fork+exec from 9p costs 50-100 ms),
#     80-165 s per boot in all; the release build of vfioctl and vfio-hil 5 min from cold.
#   - `--qemu-opts=...` needs the `=`: with a space vng takes the options as its own.
#   - kernel-irqchip=split and intremap=on for the emulated IOMMU's interrupt remapping;
#     caching-mode=on, or VFIO refuses to map through a vIOMMU. iommu=nopt keeps the guest's
#     own devices translated too.
#   - When `timeout` kills a hung guest, what the guest wrote to stdout is lost (vng relays it
#     late); what it wrote to the --rwdir folder is not. So results go to a shared file, and
#     --verbose puts the kernel's console in console.log for the post-mortem.
#   - vng execs QEMU, so timeout's signal reaches QEMU itself: no orphaned VM.
#   - The guest sees the host's filesystem read-only (/tmp, /opt and a few others as
#     throwaway overlays): host-built Swift binaries run there unchanged.
#   - QEMU parses -drive with commas: the work folder's path must not contain commas or spaces.
set -u

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

CONFIGS='
# boot    controller  QEMU nvme options  namespaces: nsid:block-size:MiB,...
formats   lba512      -                  1:512:64
formats   lba4k-2ns   -                  1:4096:64,2:512:32
limits    mdts2       mdts=2             1:512:32
limits    ioqpairs2   max_ioqpairs=2     1:4096:32
'

# NIC pairs: boot, name, our function's slot and MAC, the kernel peer's slot and MAC. Both
# netdevs are ports of one QEMU hub (hubid = the pair's index), so each sees what the other sends.
NICS='
# boot    name    ours  our MAC            peer  peer MAC
limits    e1000e  0x18  52:54:00:5f:00:01  0x19  52:54:00:5f:00:02
'
# Seconds a boot's time limit grows by per NIC pair (bring-ups and runs in three modes under TCG).
HIL_NIC_TIMEOUT=${HIL_NIC_TIMEOUT:-420}

HIL_PATTERN_LBA=1001
HIL_PATTERN_BLOCKS=16
HIL_CHECK_TIMEOUT=${HIL_CHECK_TIMEOUT:-120}
HIL_CPUS=${HIL_CPUS:-2}
HIL_MEMORY=${HIL_MEMORY:-2G}
HIL_SCRATCH_PATH=${HIL_SCRATCH_PATH:-$REPO/.build-hil-release}
# QEMU 7.2's defaults (hw/nvme/ctrl.c), reported to vfio-hil when CONFIGS does not set them.
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

die() { echo "hil-test.sh: $*" >&2; exit 2; }
have() { command -v "$1" >/dev/null 2>&1; }

# --- Install ------------------------------------------------------------------------------

export PATH=$PATH:$HOME/.local/bin

install_missing() {
    local pkgs=()
    have qemu-system-x86_64 || pkgs+=(qemu-system-x86)
    compgen -G '/boot/vmlinuz-*' >/dev/null || pkgs+=(linux-image-amd64)
    have busybox || [ -x /bin/busybox ] || pkgs+=(busybox-static)
    have lspci || pkgs+=(pciutils)
    have udevadm || pkgs+=(udev)
    # The guest's NIC checks configure the kernel's NIC with the host's ip (iproute2).
    have ip || [ -x /sbin/ip ] || pkgs+=(iproute2)
    # CShims links libpci and libnuma; their headers sit under multiarch paths, so ask dpkg.
    for pkg in libpci-dev libnuma-dev; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || pkgs+=("$pkg")
    done
    have vng || python3 -m pip --version >/dev/null 2>&1 || pkgs+=(python3-pip)
    if ((${#pkgs[@]})); then
        [ "$(id -u)" = 0 ] || die "missing packages ${pkgs[*]}: install them or run as root"
        echo "== installing ${pkgs[*]}"
        apt-get update -q || die "apt-get update failed"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${pkgs[@]}" || die "apt-get install failed"
    fi
    if ! have vng; then
        echo "== installing virtme-ng"
        # Debian 12's pip refuses system-wide installs (PEP 668) unless told otherwise.
        python3 -m pip install -q virtme-ng ||
            python3 -m pip install -q --break-system-packages virtme-ng ||
            die "pip install virtme-ng failed"
        hash -r
        have vng || die "vng is not on PATH after pip install virtme-ng"
    fi
}

all_boots=$(awk '!/^#/ && NF { if (!seen[$1]++) print $1 }' <<<"$CONFIGS$NICS")
for boot in "${boots[@]}"; do
    grep -qx "$boot" <<<"$all_boots" || die "no boot named $boot (have: $(echo $all_boots))"
done
((${#boots[@]})) || read -r -d '' -a boots <<<"$all_boots"

((install)) && install_missing

KERNEL=${HIL_KERNEL:-$(ls /boot/vmlinuz-*-amd64 2>/dev/null | sort -V | tail -1)}
KERNEL=${KERNEL:-$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -1)}
[ -n "$KERNEL" ] && [ -r "$KERNEL" ] || die "no readable guest kernel in /boot (set HIL_KERNEL)"
for tool in vng qemu-system-x86_64 timeout truncate dd; do have "$tool" || die "$tool is missing"; done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/hil-test.XXXXXX") || die "mktemp failed"
case $WORK in *,* | *' '*) die "work folder $WORK has a comma or space, which QEMU's -drive cannot take" ;; esac

run_start=$SECONDS
echo "== hil: kernel $KERNEL, $(qemu-system-x86_64 --version | head -1), TCG, logs in $WORK"

# --- Build --------------------------------------------------------------------------------

# The guest runs the host's binaries from the read-only host filesystem, through links in
# $WORK/bin to what this run built (or, with --no-build, to what is there), so that a stale
# binary from an older build is never taken for a product that was skipped or failed.
mkdir -p "$WORK/bin"
HIL_BIN=$WORK/bin
link_product() {
    [ -x "$HIL_SCRATCH_PATH/release/$1" ] && ln -sf "$HIL_SCRATCH_PATH/release/$1" "$HIL_BIN/$1"
}
if ((build)); then
    echo "== build: swift build -c release --scratch-path $HIL_SCRATCH_PATH"
    for product in vfioctl vfio-hil; do
        if ! grep -Eq "name: *\"$product\"" "$REPO/Package.swift"; then
            record "SKIP build/$product: no $product product in Package.swift yet"
            continue
        fi
        if [ -z "$(find "$REPO/Sources/$product" -name '*.swift' -print -quit 2>/dev/null)" ]; then
            record "SKIP build/$product: Sources/$product has no Swift sources yet"
            continue
        fi
        t0=$SECONDS
        if (cd "$REPO" && swift build -c release --scratch-path "$HIL_SCRATCH_PATH" \
            --product "$product") >"$WORK/build-$product.log" 2>&1; then
            record "PASS build/$product"
            echo "    $product built in $((SECONDS - t0)) s"
            link_product "$product"
        else
            record "FAIL build/$product: swift build failed (log: $WORK/build-$product.log)"
            tail -n 30 "$WORK/build-$product.log" | sed 's/^/    | /'
        fi
    done
else
    echo "== build: skipped (--no-build); using what is in $HIL_SCRATCH_PATH/release"
    for product in vfioctl vfio-hil; do link_product "$product"; done
fi

# --- Boots --------------------------------------------------------------------------------

# pattern_block CTRL NSID LBA BLOCK_SIZE: the bytes the host puts at LBA.
pattern_block() {
    yes "swift-vfio hil $1 ns$2 lba $3 " 2>/dev/null | head -c "$4"
}

# prepare_boot BOOT: images, patterns, controllers file, boot.env; sets qemu_opts, n_ctrl.
prepare_boot() {
    local boot=$1 dir=$WORK/$1 i=0 name opts namespaces ns nsid bs mib drive bdf ctrl_id
    local mdts ioqpairs facts k
    mkdir -p "$dir" "$WORK/images"
    : >"$dir/controllers"
    qemu_opts="-machine q35,kernel-irqchip=split -device intel-iommu,intremap=on,caching-mode=on"
    while read -r b name opts namespaces; do
        [ "$b" = "$boot" ] || continue
        bdf=$(printf '0000:00:%02x.0' $((0x10 + i)))
        ctrl_id=nv$i
        mdts=$QEMU_DEFAULT_MDTS ioqpairs=$QEMU_DEFAULT_MAX_IOQPAIRS
        [ "$opts" = - ] && opts=
        for k in ${opts//,/ }; do
            case $k in mdts=*) mdts=${k#mdts=} ;; max_ioqpairs=*) ioqpairs=${k#max_ioqpairs=} ;; esac
        done
        qemu_opts+=" -device nvme,id=$ctrl_id,serial=HIL-$name,addr=0x$(printf %x $((0x10 + i)))${opts:+,$opts}"
        mkdir -p "$dir/$name"
        facts=
        for ns in ${namespaces//,/ }; do
            IFS=: read -r nsid bs mib <<<"$ns"
            drive=$WORK/images/$name-ns$nsid.img
            truncate -s "${mib}M" "$drive"
            : >"$dir/$name/pattern-ns$nsid.bin"
            for ((k = 0; k < HIL_PATTERN_BLOCKS; k++)); do
                pattern_block "$name" "$nsid" $((HIL_PATTERN_LBA + k)) "$bs" >>"$dir/$name/pattern-ns$nsid.bin"
            done
            dd if="$dir/$name/pattern-ns$nsid.bin" of="$drive" bs="$bs" seek="$HIL_PATTERN_LBA" \
                conv=notrunc status=none || die "writing the pattern into $drive failed"
            qemu_opts+=" -drive file=$drive,if=none,id=$name-ns$nsid,format=raw"
            qemu_opts+=" -device nvme-ns,drive=$name-ns$nsid,bus=$ctrl_id,nsid=$nsid"
            qemu_opts+=",logical_block_size=$bs,physical_block_size=$bs"
            facts+="${facts:+,}$nsid:$bs:$((mib * 1024 * 1024 / bs))"
        done
        echo "$name $bdf HIL-$name $mdts $ioqpairs $facts" >>"$dir/controllers"
        echo "   $name at $bdf: namespaces $facts (nsid:block size:blocks), mdts $mdts, max_ioqpairs $ioqpairs"
        i=$((i + 1))
    done <<<"$CONFIGS"
    n_ctrl=$i
    # NIC pairs of this boot: two e1000e functions per pair on hub <pair index>.
    : >"$dir/nics"
    n_nic=0
    local ours omac peer pmac
    while read -r b name ours omac peer pmac; do
        [ "$b" = "$boot" ] || continue
        qemu_opts+=" -netdev hubport,id=$name-ours,hubid=$n_nic -device e1000e,netdev=$name-ours,addr=$ours,mac=$omac"
        qemu_opts+=" -netdev hubport,id=$name-peer,hubid=$n_nic -device e1000e,netdev=$name-peer,addr=$peer,mac=$pmac"
        echo "$name $(printf '0000:00:%02x.0' "$ours") $omac $(printf '0000:00:%02x.0' "$peer") $pmac" >>"$dir/nics"
        echo "   $name: e1000e at $(printf '0000:00:%02x.0' "$ours") ($omac) for our driver, kernel peer at $(printf '0000:00:%02x.0' "$peer") ($pmac), hub $n_nic"
        n_nic=$((n_nic + 1))
    done <<<"$NICS"
    cat >"$dir/boot.env" <<EOF
HIL_BOOT=$boot
HIL_BIN=$HIL_BIN
HIL_PATTERN_LBA=$HIL_PATTERN_LBA
HIL_PATTERN_BLOCKS=$HIL_PATTERN_BLOCKS
HIL_CHECK_TIMEOUT=${HIL_CHECK_TIMEOUT}s
HIL_BIND_WITH=${HIL_BIND_WITH:-auto}
HIL_SRC=$REPO
EOF
}

boot_times=()
# timeout(1) puts itself and QEMU in their own process group, out of reach of a Ctrl-C or a
# CI cancel aimed at this script: pass those on, or the VM runs until its time limit.
vm_pid=
trap '[ -n "$vm_pid" ] && kill -TERM "$vm_pid" 2>/dev/null; echo "hil-test.sh: interrupted (logs in $WORK)" >&2; exit 130' INT TERM

for boot in "${boots[@]}"; do
    echo "== boot $boot"
    prepare_boot "$boot"
    limit=${HIL_BOOT_TIMEOUT:-$((90 + n_ctrl * (HIL_CHECK_TIMEOUT + 180) + n_nic * HIL_NIC_TIMEOUT))}
    dir=$WORK/$boot
    echo "   booting (TCG, $HIL_CPUS CPUs, $HIL_MEMORY, at most $limit s)"
    t0=$SECONDS
    (cd "$REPO" && exec timeout --kill-after=10 "${limit}s" vng --verbose --run "$KERNEL" \
        --disable-microvm --disable-kvm --memory "$HIL_MEMORY" --cpus "$HIL_CPUS" \
        --rwdir="$dir" --append "intel_iommu=on iommu=nopt swift_vfio_hil=1" \
        --qemu-opts="$qemu_opts" \
        --exec "sh $REPO/scripts/hil/guest.sh $dir") >"$dir/console.log" 2>&1 </dev/null &
    vm_pid=$!
    wait "$vm_pid"
    rc=$?
    vm_pid=
    took=$((SECONDS - t0))
    boot_times+=("$boot ${took} s")
    before=$((passed + failed + skipped))
    if [ -s "$dir/results" ]; then
        while IFS= read -r line; do record "$line"; done <"$dir/results"
    fi
    dead=
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        dead="timed out after $limit s"
    elif [ ! -s "$dir/results" ]; then
        dead="no results (vng exit status $rc)"
    elif [ "$(tail -n 1 "$dir/results")" != HIL-DONE ]; then
        dead="guest stopped before the end (vng exit status $rc)"
    elif [ "$rc" -ne 0 ]; then
        dead="vng exit status $rc"
    fi
    if [ -n "$dead" ]; then
        record "FAIL $boot: boot $dead"
        echo "   --- last lines of $dir/console.log"
        tail -n 40 "$dir/console.log" | sed 's/^/   | /'
        if [ -s "$dir/guest.log" ]; then
            echo "   --- last lines of $dir/guest.log"
            tail -n 20 "$dir/guest.log" | sed 's/^/   | /'
        fi
    elif grep -q '^FAIL ' "$dir/results" && [ -s "$dir/guest.log" ]; then
        echo "   --- $dir/guest.log"
        sed 's/^/   | /' "$dir/guest.log"
    fi
    echo "-- boot $boot: $took s, $((passed + failed + skipped - before)) results"
done

# --- Summary ------------------------------------------------------------------------------

echo "== timings: ${boot_times[*]/%/,} whole run $((SECONDS - run_start)) s" | sed 's/, whole/; whole/'
if ((failed)); then
    echo "== failures (logs kept in $WORK)"
    printf '%s\n' "${failures[@]}"
elif ((keep)); then
    echo "== logs kept in $WORK"
else
    rm -rf "$WORK"
fi
summary="$passed passed, $failed failed"
((skipped)) && summary+=", $skipped skipped"
echo "$summary"
((failed == 0))
