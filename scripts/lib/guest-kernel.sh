#!/usr/bin/env bash
# The guest kernel for the hardware-in-the-loop boots that need what Debian's kernels leave out
# (iommufd, the VFIO device cdev /dev/vfio/devices/vfioN, VFIO no-IOMMU mode): built from
# Debian's own source package with scripts/lib/guest-kernel.config on top of virtme-ng's
# minimal configuration, and cached outside the clone, so only the first run pays.
#
#   scripts/lib/guest-kernel.sh [--no-install] [--cached] [--key] [--rebuild]
#
# Prints the path of the kernel image (bzImage) as the only line on stdout; progress goes to
# stderr. Used by hand and by scripts/hil-test.sh.
#   --no-install  do not install packages (fail naming them instead)
#   --cached      do not build: print the cached image's path, or exit 1 when there is none
#   --key         print the cache key (source version and configuration hash) and exit
#   --rebuild     build even when the cache has this key
#
# Source: the package linux-source-6.12 (override: GUEST_KERNEL_PACKAGE). bookworm carries it
# in bookworm-security; when apt has no candidate, the suite bookworm-backports is added to
# apt's existing Debian source (the same registry) and apt-get update runs once.
#
# Cache: ${SWIFT_VFIO_CACHE:-~/.cache/swift-vfio}/guest-kernel/<source version>-<hash>/ with
# bzImage, config, build.log and build-info (seconds, load, cores). The hash covers the
# configuration fragment, this script's RECIPE number and virtme-ng's version (its minimal
# configuration is the base). A lock makes concurrent callers wait for one build.
#
# The build runs under `nice -n 19` with GUEST_KERNEL_JOBS jobs (default: the number of cores).
# Measured cold build time: see docs/testing.md and build-info in the cache.
set -euo pipefail

RECIPE=1
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
FRAGMENT=$HERE/guest-kernel.config
PACKAGE=${GUEST_KERNEL_PACKAGE:-linux-source-6.12}
CACHE=${SWIFT_VFIO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/swift-vfio}/guest-kernel
JOBS=${GUEST_KERNEL_JOBS:-$(nproc)}

install=1 mode=build
for arg in "$@"; do
    case $arg in
    --no-install) install=0 ;;
    --cached) mode=cached ;;
    --key) mode=key ;;
    --rebuild) mode=rebuild ;;
    -h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "guest-kernel.sh: unknown argument $arg (see --help)" >&2; exit 2 ;;
    esac
done

say() { echo "guest-kernel: $*" >&2; }
die() { echo "guest-kernel: $*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }

as_root() {
    [ "$(id -u)" = 0 ] && { "$@"; return; }
    have sudo || die "need root to run: $*"
    sudo "$@"
}

# add_backports: put bookworm-backports next to bookworm in apt's Debian source (deb822 or
# one-line format), then refresh the package lists.
add_backports() {
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -e "$f" ] || continue
        grep -q 'deb.debian.org/debian$\|/debian/\?$' "$f" || continue
        if ! grep -q '^Suites:.*bookworm-backports' "$f"; then
            say "adding bookworm-backports to $f"
            as_root sed -i '/^URIs:.*\/debian\/\?$/,/^$/ s/^Suites: *bookworm\b\(.*\)$/Suites: bookworm\1 bookworm-backports/' "$f"
        fi
    done
    if [ -f /etc/apt/sources.list ] && grep -q '^deb .*/debian/\? bookworm ' /etc/apt/sources.list &&
        ! grep -rq 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
        local line
        line=$(grep -m1 '^deb .*/debian/\? bookworm ' /etc/apt/sources.list | sed 's/ bookworm / bookworm-backports /')
        say "adding '$line' to /etc/apt/sources.list"
        echo "$line" | as_root tee -a /etc/apt/sources.list >/dev/null
    fi
    as_root apt-get update -q >&2 || die "apt-get update failed"
}

candidate() { apt-cache policy "$PACKAGE" 2>/dev/null | awk '/Candidate:/ { print $2 }'; }

ensure_packages() {
    local need=()
    for p in make gcc bc flex bison libelf-dev libssl-dev xz-utils cpio "$PACKAGE"; do
        installed "$p" || need+=("$p")
    done
    have virtme-configkernel || die "virtme-ng is missing (virtme-configkernel): pip install virtme-ng"
    ((${#need[@]})) || return 0
    ((install)) || die "missing packages ${need[*]}: install them (apt-get install ${need[*]}) or drop --no-install"
    local c
    c=$(candidate)
    if [ -z "$c" ] || [ "$c" = "(none)" ]; then
        add_backports
        c=$(candidate)
        { [ -n "$c" ] && [ "$c" != "(none)" ]; } || die "apt has no $PACKAGE even with bookworm-backports"
    fi
    say "installing ${need[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=600 \
        "${need[@]}" >&2 || die "apt-get install ${need[*]} failed"
}

source_version() { dpkg-query -W -f='${Version}' "$PACKAGE" 2>/dev/null; }

cache_key() {
    local version hash
    version=$(source_version)
    [ -n "$version" ] || die "$PACKAGE is not installed (run without --no-install, or apt-get install $PACKAGE)"
    hash=$({
        echo "recipe $RECIPE"
        virtme-configkernel --help >/dev/null 2>&1 && pip_version virtme-ng
        cat "$FRAGMENT"
    } | sha256sum | cut -c1-12)
    echo "${version//[~+:]/_}-$hash"
}

pip_version() { python3 -c 'import importlib.metadata as m, sys; print(m.version(sys.argv[1]))' "$1" 2>/dev/null || echo unknown; }

# check_config CONFIG: every `=y` and `is not set` line of the fragment holds in CONFIG (Kconfig
# silently drops an option whose dependencies are missing).
check_config() {
    local bad=() line sym
    while IFS= read -r line; do
        case $line in
        CONFIG_*=y)
            grep -qx "$line" "$1" || bad+=("${line%%=*} is $(grep -m1 "^${line%%=*}=\|^# ${line%%=*} is not set" "$1" || echo absent), wanted y") ;;
        '# CONFIG_'*' is not set')
            sym=${line#\# }; sym=${sym%% *}
            if grep -q "^$sym=[ym]" "$1"; then bad+=("$sym is set, wanted off"); fi ;;
        esac
    done <"$FRAGMENT"
    ((${#bad[@]} == 0)) && return 0
    printf 'guest-kernel: configuration check failed: %s\n' "${bad[@]}" >&2
    return 1
}

# children_cpu_seconds: user + system CPU seconds of this script's finished children (tar, make
# and every compiler under them): the build's cost whatever else the machine runs meanwhile.
children_cpu_seconds() { awk -v hz="$(getconf CLK_TCK)" '{ print int(($16 + $17) / hz) }' "/proc/$$/stat"; }

build() {
    local key=$1 out=$CACHE/$1 tree=$CACHE/build-$1 tarball src t0 load0 cpu0
    tarball=$(dpkg -L "$PACKAGE" | grep -m1 '/usr/src/linux-source-.*\.tar\.xz$') ||
        die "$PACKAGE has no source tarball under /usr/src"
    rm -rf "$tree" "$out.partial"
    mkdir -p "$tree" "$out.partial"
    t0=$SECONDS
    cpu0=$(children_cpu_seconds)
    load0=$(cut -d' ' -f1-3 /proc/loadavg)
    say "cold build of $key: extracting $tarball (nice 19, $JOBS jobs; log: $out.partial/build.log)"
    nice -n 19 tar -xJf "$tarball" -C "$tree"
    src=$(find "$tree" -mindepth 1 -maxdepth 1 -type d | head -1)
    # virtme-ng's minimal configuration with our fragment, then the fragment once more after
    # virtme-ng's trailing generic block, so our choices win everywhere.
    (cd "$src" && nice -n 19 virtme-configkernel --defconfig --custom "$FRAGMENT" &&
        cat "$FRAGMENT" >>.config && nice -n 19 make olddefconfig) >"$out.partial/build.log" 2>&1 ||
        { tail -20 "$out.partial/build.log" >&2; die "configuration failed"; }
    check_config "$src/.config" || die "the fragment does not apply to $(source_version); fix $FRAGMENT"
    say "configured in $((SECONDS - t0)) s; building bzImage"
    (cd "$src" && nice -n 19 make -j"$JOBS" bzImage) >>"$out.partial/build.log" 2>&1 ||
        { tail -30 "$out.partial/build.log" >&2; die "kernel build failed (log: $out.partial/build.log)"; }
    cp "$src/arch/x86/boot/bzImage" "$out.partial/bzImage"
    cp "$src/.config" "$out.partial/config"
    cat >"$out.partial/build-info" <<EOF
key=$key
package=$PACKAGE $(source_version)
release=$(cat "$src/include/config/kernel.release" 2>/dev/null || echo unknown)
seconds=$((SECONDS - t0))
cpu_seconds=$(($(children_cpu_seconds) - cpu0))
jobs=$JOBS
cores=$(nproc)
load_before=$load0
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
built=$(date -u +%Y-%m-%dT%H:%M:%SZ)
EOF
    rm -rf "$out"
    mv "$out.partial" "$out"
    [ "${GUEST_KERNEL_KEEP_TREE:-0}" = 1 ] || rm -rf "$tree"
    say "built $key in $((SECONDS - t0)) s, $(($(children_cpu_seconds) - cpu0)) CPU s (load before: $load0; after: $(cut -d' ' -f1-3 /proc/loadavg))"
}

if [ "$mode" = cached ] || [ "$mode" = key ]; then
    key=$(cache_key)
    [ "$mode" = key ] && { echo "$key"; exit 0; }
    [ -s "$CACHE/$key/bzImage" ] || { say "no cached kernel for $key"; exit 1; }
    echo "$CACHE/$key/bzImage"
    exit 0
fi

ensure_packages
key=$(cache_key)
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
if ! flock -n 9; then
    say "another build holds $CACHE/.lock; waiting"
    flock 9
fi
if [ "$mode" = rebuild ] || [ ! -s "$CACHE/$key/bzImage" ]; then
    build "$key"
else
    say "cached: $CACHE/$key ($(grep -m1 '^seconds=' "$CACHE/$key/build-info" 2>/dev/null | cut -d= -f2) s to build)"
fi
echo "$CACHE/$key/bzImage"
