# shellcheck shell=sh
# Signals between a VM's guest and the host, through the folder the host shares read-write
# ($VM_DIR, the same path on both sides; see scripts/lib/vm.sh). POSIX sh, because the guest may
# have only busybox's sh; the host's scripts/lib/vm.sh sources it too. A guest script sets VM_DIR
# and sources this file. A signal is a file $VM_DIR/signals/NAME, written whole (temporary file,
# then rename), so the other side never reads half of one.
#
#   vm_signal NAME [TEXT]          say that something happened (TEXT: one line, e.g. a status)
#   vm_wait_signal NAME SECONDS    wait for the other side's signal; status 1 if none came in time
#   vm_signal_text NAME            the text a signal carries

vm_signal() {
    mkdir -p "$VM_DIR/signals"
    printf '%s\n' "${2:-}" >"$VM_DIR/signals/.$1.tmp" && mv "$VM_DIR/signals/.$1.tmp" "$VM_DIR/signals/$1"
}

vm_wait_signal() {
    _vm_left=$(($2 * 5))
    while [ ! -e "$VM_DIR/signals/$1" ]; do
        [ "$_vm_left" -gt 0 ] || return 1
        sleep 0.2
        _vm_left=$((_vm_left - 1))
    done
}

vm_signal_text() {
    _vm_text=
    read -r _vm_text <"$VM_DIR/signals/$1" 2>/dev/null
    printf '%s\n' "$_vm_text"
}
