#!/bin/sh
# Runs inside a hardware-in-the-loop VM only: the outside observer of vfio-hil's
# nvme-quiet-after-giving-up, started while vfio-hil still holds the function, so that what it
# reads comes from a process other than the driver's.
#
#   sh scripts/hil/quiet-probe.sh BOOT_DIR BDF
#
# Prints
#   pci-command 0xNNNN      PCI_COMMAND (config offset 4; bit 2 is bus master), from sysfs config
#   nvme-cc 0xNNNNNNNN      CC (BAR0 + 0x14) and CSTS (BAR0 + 0x1c), read by QEMU itself: the
#   nvme-csts 0xNNNNNNNN    host's QMP hook runs HMP `xp` at BAR0's guest-physical address
# and for what it cannot read a line `error: reason` and status 1. The BAR cannot be read from
# the guest instead: vfio-pci holds the region busy, so sysfs resource0 refuses to map
# (CONFIG_IO_STRICT_DEVMEM).
BOOT_DIR=${1:?usage: quiet-probe.sh BOOT_DIR BDF}
BDF=${2:?usage: quiet-probe.sh BOOT_DIR BDF}
HERE=$(cd "$(dirname "$0")" && pwd)
VM_DIR=$BOOT_DIR
# shellcheck source=scripts/lib/signals.sh
. "$HERE/../lib/signals.sh"
# shellcheck source=scripts/hil/checks.sh
. "$HERE/checks.sh"

status=0
command=$(od -An -tx2 -j4 -N2 "$SYSPCI/$BDF/config" 2>/dev/null | tr -d ' ')
if [ -n "$command" ]; then
    echo "pci-command 0x$command"
else
    echo "error: cannot read $SYSPCI/$BDF/config"
    status=1
fi

read -r bar0 _ <"$SYSPCI/$BDF/resource"
# CC at 0x14, the reserved word at 0x18, CSTS at 0x1c. The JSON goes as one word to the hook,
# so its spaces are \u0020.
address=$(printf '0x%x' $((bar0 + 0x14)))
if reply=$(qmp_request human-monitor-command '{"command-line":"xp\u0020/3wx\u0020'"$address"'"}'); then
    # "000000000febd0014: 0x00460001 0x00000000 0x00000001\r\n"
    words=$(printf '%s\n' "$reply" | sed -n 's/.*: *\(0x[0-9a-fA-F]*\) *\(0x[0-9a-fA-F]*\) *\(0x[0-9a-fA-F]*\).*/\1 \3/p')
    if [ -n "$words" ]; then
        echo "nvme-cc ${words% *}"
        echo "nvme-csts ${words#* }"
    else
        echo "error: QEMU's xp at $address answered $reply"
        status=1
    fi
else
    echo "error: QMP xp at $address failed: $reply"
    status=1
fi
exit $status
