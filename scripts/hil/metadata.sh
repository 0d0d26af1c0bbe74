# shellcheck shell=sh
# Controllers named metadata-*: namespaces formatted with metadata and protection information
# (issue 18). The data-only checks of guest.sh do not apply to them (QEMU keeps the metadata after
# the data in the image, so the geometry differs, and the host's pattern has no valid tuples), so
# guest.sh hands them here: bind, vfio-hil's pi-* and metadata-* checks, the tool on the same
# namespaces, then back to the kernel's nvme driver, which must read what our driver wrote
# (through PRACT or its integrity profile: with a bad tuple QEMU would fail the read), and
# nvme-cli (the host's, through the kernel's passthrough) must read the same metadata.
# Sourced by guest.sh after checks.sh.

HIL_METADATA_CHECKS="pi-pract-roundtrip pi-host-generated pi-bad-guard-detected metadata-roundtrip"

# ck_vfioctl_metadata_identify BDF PATTERN: identify shows namespace 1's format as PATTERN (a
# grep pattern: metadata size, PI type and guard as QEMU was told them).
ck_vfioctl_metadata_identify() {
    has_vfioctl || return 2
    _out=$(vfioctl_device nvme identify --device "$1" 2>&1) || { echo "vfioctl nvme identify failed: $_out"; return 1; }
    printf '%s\n' "$_out" | grep -q "nsid 1: .*, $2" || { echo "identify does not show '$2': $_out"; return 1; }
}

# ck_nvme_cli_reads_metadata BDF HANDOFF BS MS: after the unbind, nvme-cli reads through the
# kernel's nvme driver (passthrough, PRACT off, no checks) the blocks vfio-hil's
# metadata-roundtrip wrote, and finds the same data (ns1-lba<L>.bin) and the same metadata
# (ns1-lba<L>.md, each block's in order; interleaved on an extended-LBA namespace, which
# nvme id-ns's FLBAS bit 4 says): the metadata checked by a second implementation.
ck_nvme_cli_reads_metadata() {
    command -v nvme >/dev/null 2>&1 || { echo "nvme-cli is not installed (scripts/install-deps.sh --hil)"; return 2; }
    _blk=$(block_device_of "$1" 1)
    [ -n "$_blk" ] || { echo "no block device for $1 nsid 1"; return 1; }
    _idns=$(nvme id-ns "/dev/$_blk" 2>&1) || { echo "nvme id-ns /dev/$_blk failed: $_idns"; return 1; }
    _flbas=$(printf '%s\n' "$_idns" | sed -n 's/^flbas *: *//p')
    [ -n "$_flbas" ] || { echo "nvme id-ns shows no flbas: $_idns"; return 1; }
    _ext=$(((_flbas >> 4) & 1))
    _n=0
    for _md in "$2"/ns1-lba*.md; do
        [ -e "$_md" ] || continue
        _lba=${_md##*-lba}
        _lba=${_lba%.md}
        _bin=${_md%.md}.bin
        _blocks=$(($(wc -c <"$_md") / $4))
        _got=$HIL_SCRATCH/cli-$_lba.bin _gotmd=$HIL_SCRATCH/cli-$_lba.md
        if [ "$_ext" = 1 ]; then
            nvme read "/dev/$_blk" -s "$_lba" -c $((_blocks - 1)) -z $((_blocks * ($3 + $4))) -d "$_got" \
                >"$HIL_SCRATCH/cli.out" 2>&1 || { echo "nvme read (extended LBA) failed: $(cat "$HIL_SCRATCH/cli.out")"; return 1; }
            # What the driver wrote, interleaved as the namespace stores it.
            _want=$HIL_SCRATCH/cli-want-$_lba.bin
            : >"$_want"
            _i=0
            while [ "$_i" -lt "$_blocks" ]; do
                dd if="$_bin" bs="$3" skip="$_i" count=1 2>/dev/null >>"$_want"
                dd if="$_md" bs="$4" skip="$_i" count=1 2>/dev/null >>"$_want"
                _i=$((_i + 1))
            done
            same_bytes "$_want" "$_got" || { echo "LBA $_lba: nvme-cli reads other data or metadata than our driver wrote"; return 1; }
        else
            nvme read "/dev/$_blk" -s "$_lba" -c $((_blocks - 1)) -z $((_blocks * $3)) -y $((_blocks * $4)) \
                -d "$_got" -M "$_gotmd" >"$HIL_SCRATCH/cli.out" 2>&1 ||
                { echo "nvme read (separate metadata) failed: $(cat "$HIL_SCRATCH/cli.out")"; return 1; }
            same_bytes "$_bin" "$_got" || { echo "LBA $_lba: nvme-cli reads other data than our driver wrote"; return 1; }
            same_bytes "$_md" "$_gotmd" || { echo "LBA $_lba: nvme-cli reads other metadata than our driver wrote"; return 1; }
        fi
        _n=$((_n + 1))
    done
    [ "$_n" -gt 0 ] || { echo "vfio-hil left no metadata in $2 to compare"; return 2; }
}

# ck_vfioctl_pi_write_read BDF BS MS TUPLE: 8 blocks written with tuples the tool makes (--pi
# host, QEMU checks them), read back with PRACT (QEMU checks them, and strips them when the
# metadata is only the TUPLE-byte tuple; else the metadata comes back in a file), byte for byte.
ck_vfioctl_pi_write_read() {
    has_vfioctl || return 2
    _in=$HIL_SCRATCH/pi-in.bin _back=$HIL_SCRATCH/pi-back.bin
    head -c $((8 * $2)) /dev/urandom >"$_in"
    vfioctl_device nvme write --device "$1" --lba 4000 --count 8 --pi host --file "$_in" >/dev/null 2>"$HIL_SCRATCH/pi.err" ||
        { echo "vfioctl nvme write --pi host failed: $(cat "$HIL_SCRATCH/pi.err")"; return 1; }
    _dev=$1 _md_opt=
    [ "$3" -gt "$4" ] && _md_opt="--metadata $HIL_SCRATCH/pi-back.md"
    # shellcheck disable=SC2086
    vfioctl_device nvme read --device "$_dev" --lba 4000 --count 8 --pi pract $_md_opt --file "$_back" 2>"$HIL_SCRATCH/pi.err" ||
        { echo "vfioctl nvme read --pi pract $_md_opt failed: $(cat "$HIL_SCRATCH/pi.err")"; return 1; }
    same_bytes "$_in" "$_back" || { echo "read back with PRACT differs from what --pi host wrote"; return 1; }
}

# ck_vfioctl_metadata_write_read BDF BS MS: data and metadata files in, the same files out.
ck_vfioctl_metadata_write_read() {
    has_vfioctl || return 2
    _in=$HIL_SCRATCH/md-in.bin _min=$HIL_SCRATCH/md-in.md _back=$HIL_SCRATCH/md-back.bin _mback=$HIL_SCRATCH/md-back.md
    head -c $((8 * $2)) /dev/urandom >"$_in"
    head -c $((8 * $3)) /dev/urandom >"$_min"
    vfioctl_device nvme write --device "$1" --lba 4100 --count 8 --metadata "$_min" --file "$_in" >/dev/null 2>"$HIL_SCRATCH/md.err" ||
        { echo "vfioctl nvme write --metadata failed: $(cat "$HIL_SCRATCH/md.err")"; return 1; }
    vfioctl_device nvme read --device "$1" --lba 4100 --count 8 --metadata "$_mback" --file "$_back" 2>"$HIL_SCRATCH/md.err" ||
        { echo "vfioctl nvme read --metadata failed: $(cat "$HIL_SCRATCH/md.err")"; return 1; }
    same_bytes "$_in" "$_back" || { echo "data read back differs"; return 1; }
    same_bytes "$_min" "$_mback" || { echo "metadata read back differs"; return 1; }
}

# run_metadata_controller NAME BDF SERIAL MDTS IOQPAIRS NAMESPACES: see the header. NAME is
# metadata-pi<TYPE>[g64]-ms<BYTES> (hil-test.sh's boot_metadata).
run_metadata_controller() {
    _mc_name=$1 _mc_bdf=$2 _mc_ns=$6
    _mc_pi=${_mc_name#metadata-pi}
    _mc_pi=${_mc_pi%%-*}
    _mc_ms=${_mc_name##*-ms}
    # What identify must show: the metadata size, then the PI type and guard (none for pi0).
    case $_mc_pi in
    0) _mc_format="metadata $_mc_ms B .*, no PI" ;;
    *g64) _mc_format="metadata $_mc_ms B .*, PI type ${_mc_pi%g64}, 64-bit guard" ;;
    *) _mc_format="metadata $_mc_ms B .*, PI type $_mc_pi, 16-bit guard" ;;
    esac
    HIL_SCRATCH=/tmp/hil-guest/$_mc_name
    mkdir -p "$HIL_SCRATCH" "$BOOT_DIR/$_mc_name/handoff"
    _mc_bs=${_mc_ns#*:}
    _mc_bs=${_mc_bs%%:*}
    check "$_mc_name/nvme-function" ck_nvme_function "$_mc_bdf" || return
    if check "$_mc_name/bind-vfio-pci" ck_bind_vfio "$_mc_bdf"; then
        # shellcheck disable=SC2086
        run_vfio_hil "$_mc_name" "$_mc_bdf" "$HIL_CHECK_TIMEOUT" HIL_CONTROLLER="$_mc_name" HIL_BDF="$_mc_bdf" \
            HIL_SERIAL="$3" HIL_MDTS="$4" HIL_MAX_IOQPAIRS="$5" HIL_NAMESPACES="$(echo "$_mc_ns" | tr , ' ')" \
            HIL_HANDOFF_DIR="$BOOT_DIR/$_mc_name/handoff" HIL_CHECKS="$HIL_METADATA_CHECKS"
        check "$_mc_name/metadata-vfioctl-identify" ck_vfioctl_metadata_identify "$_mc_bdf" "$_mc_format"
        if [ "$_mc_pi" != 0 ]; then
            _mc_tuple=8
            case $_mc_pi in *g64) _mc_tuple=16 ;; esac
            check "$_mc_name/pi-vfioctl-write-read" ck_vfioctl_pi_write_read "$_mc_bdf" "$_mc_bs" "$_mc_ms" "$_mc_tuple"
        else
            check "$_mc_name/metadata-vfioctl-write-read" ck_vfioctl_metadata_write_read "$_mc_bdf" "$_mc_bs" "$_mc_ms"
        fi
    fi
    check "$_mc_name/unbind-restores-nvme" ck_unbind_to_nvme "$_mc_bdf" || return
    check "$_mc_name/ns1-block-device-returns" ck_block_device_returns "$_mc_bdf" 1 || return
    check "$_mc_name/metadata-kernel-reads-our-writes" ck_kernel_sees_driver_writes "$_mc_bdf" \
        "$BOOT_DIR/$_mc_name/handoff" "1:$_mc_bs"
    check "$_mc_name/metadata-nvme-cli-reads-our-metadata" ck_nvme_cli_reads_metadata "$_mc_bdf" \
        "$BOOT_DIR/$_mc_name/handoff" "$_mc_bs" "$_mc_ms"
}
