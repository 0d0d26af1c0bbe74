#!/usr/bin/env bash
# Host-side hook of a hardware-in-the-loop boot (vm_hook in scripts/hil-test.sh): runs QMP
# commands for the guest while the VM runs, so that a guest check can hot-unplug and re-add
# devices (device_del, device_add), or ask what QEMU sees (query-pci). Started and stopped by
# scripts/lib/vm.sh's vm_boot, with VM_DIR and VM_QMP_SOCKET in its environment; log: hook.log.
#
# Protocol (signals of scripts/lib/signals.sh, numbered from 1 in the order the guest sends them):
#   guest: signal qmp-request-N with one line `COMMAND [ARGUMENTS_JSON [EVENT SECONDS]]`
#          (ARGUMENTS_JSON without spaces, e.g. {"id":"nv0"}; EVENT e.g. DEVICE_DELETED)
#   host:  runs it (scripts/lib/qmp.py), writes the reply to $VM_DIR/qmp-reply-N.json, then
#          signals qmp-reply-N with the exit status (0 done, 1 QEMU refused or no EVENT in time)
# The guest side is qmp_request in scripts/hil/checks.sh.
set -u
# shellcheck source=scripts/lib/vm.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/vm.sh"
VM_TOOL=hook-qmp.sh

n=1
# Until vm_boot stops this hook when the VM ends.
while vm_wait_signal "qmp-request-$n" 86400; do
    read -r command arguments event seconds <"$VM_DIR/signals/qmp-request-$n"
    echo "request $n: $command ${arguments:-} ${event:-} ${seconds:-}"
    if [ -n "${event:-}" ]; then
        vm_qmp_command "$command" "${arguments:-}" "$event" "${seconds:-30}" >"$VM_DIR/qmp-reply-$n.json"
    else
        vm_qmp_command "$command" ${arguments:+"$arguments"} >"$VM_DIR/qmp-reply-$n.json"
    fi
    status=$?
    echo "reply $n: status $status"
    vm_signal "qmp-reply-$n" "$status"
    n=$((n + 1))
done
