#!/usr/bin/env bash
# Installs the system packages swift-vfio builds against: libpci (PCI discovery, names from
# pci.ids), libnuma (NUMA-local DMA memory) and shellcheck (scripts/test.sh checks the scripts).
# Idempotent and quick when they are present.
# With --hil it also installs what the QEMU hardware-in-the-loop suite needs (fio among it: the
# guest runs the host's fio from the shared filesystem); with --bench, that plus what the
# benchmarks use: valgrind and bc (scripts/bench.sh).
# With --check after the set, it installs nothing: it names what is missing and exits 1.
#
#   scripts/install-deps.sh [--hil | --bench] [--check]
#
# Every dependency is decided by its package (dpkg-query; pip for virtme-ng), never by a command
# on the PATH: a Debian machine with a kernel installed has the dynamic `busybox` from
# initramfs-tools, which virtme-ng cannot use, so a `busybox` command proves nothing about
# `busybox-static`.
set -euo pipefail

set_name=base check=0
for arg in "$@"; do
    case $arg in
    --hil) set_name=hil ;;
    --bench) set_name=bench ;;
    --check) check=1 ;;
    *) echo "install-deps: unknown argument $arg (use --hil, --bench, --check)" >&2; exit 2 ;;
    esac
done

packages=(libpci-dev libnuma-dev pciutils shellcheck)
if [[ $set_name != base ]]; then
    # python3-pip: virtme-ng (vng) comes from PyPI. nvme-cli: the guest (which sees this
    # machine's files) reads the metadata our driver wrote through the kernel's nvme driver, and
    # connects to our NVMe/TCP target; e2fsprogs and fio put ext4 and verified I/O through it.
    packages+=(qemu-system-x86 qemu-utils linux-image-amd64 busybox-static udev iproute2 python3-pip nvme-cli e2fsprogs fio)
fi
if [[ $set_name == bench ]]; then
    packages+=(valgrind bc)
fi

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
need_vng=0
if [[ $set_name != base ]] && ! python3 -m pip show -q virtme-ng >/dev/null 2>&1; then
    need_vng=1
fi

if ((check)); then
    if ((${#missing[@]} || need_vng)); then
        ((need_vng)) && missing+=("virtme-ng (pip)")
        flag=
        [[ $set_name == base ]] || flag=" --$set_name"
        echo "install-deps: missing ${missing[*]}; run scripts/install-deps.sh$flag" >&2
        exit 1
    fi
    exit 0
fi

if ((${#missing[@]})); then
    sudo=""
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null || { echo "install-deps: need root to install ${missing[*]}; run as root or install them" >&2; exit 1; }
        sudo="sudo"
    fi
    echo "install-deps: installing ${missing[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ((need_vng)); then
    echo "install-deps: installing virtme-ng (pip)" >&2
    # Debian 12's pip refuses system-wide installs (PEP 668) unless told otherwise.
    python3 -m pip install -q virtme-ng 2>/dev/null || python3 -m pip install -q --break-system-packages virtme-ng
fi
