#!/usr/bin/env bash
# Installs the system packages swift-vfio builds against: libpci (PCI discovery, names from
# pci.ids) and libnuma (NUMA-local DMA memory). Idempotent and quick when they are present.
# With --hil it also installs what the QEMU hardware-in-the-loop suite needs.
set -euo pipefail

packages=(libpci-dev libnuma-dev pciutils)
if [[ "${1:-}" == "--hil" ]]; then
    packages+=(qemu-system-x86 qemu-utils linux-image-amd64 busybox-static udev)
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

if [[ "${1:-}" == "--hil" ]] && ! command -v vng >/dev/null; then
    echo "install-deps: installing virtme-ng (pip)" >&2
    pip install -q virtme-ng 2>/dev/null || pip install -q --break-system-packages virtme-ng
fi
