#!/usr/bin/env bash
# Installs the system packages swift-vfio builds against: libpci (PCI discovery, names from
# pci.ids) and libnuma (NUMA-local DMA memory). Idempotent and quick when they are present.
# With --hil it also installs what the QEMU hardware-in-the-loop suite needs; with --bench, that
# plus what the benchmarks use: valgrind and bc (scripts/bench.sh), fio (the kernel driver's side
# of scripts/bench-vm.sh; the guest runs the host's fio from the shared filesystem).
set -euo pipefail

packages=(libpci-dev libnuma-dev pciutils)
if [[ "${1:-}" == "--hil" || "${1:-}" == "--bench" ]]; then
    packages+=(qemu-system-x86 qemu-utils linux-image-amd64 busybox-static udev iproute2)
fi
if [[ "${1:-}" == "--bench" ]]; then
    packages+=(fio valgrind bc)
fi

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

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

if [[ "${1:-}" == "--hil" || "${1:-}" == "--bench" ]] && ! command -v vng >/dev/null; then
    echo "install-deps: installing virtme-ng (pip)" >&2
    pip install -q virtme-ng 2>/dev/null || pip install -q --break-system-packages virtme-ng
fi
