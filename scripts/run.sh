#!/usr/bin/env bash
# The main job: builds vfioctl (release) and runs its demo: identify, a verified 1 MiB write and
# read-back, and a short perf run in each completion mode. On the emulated NVMe controller by
# default; pass --device BDF --overwrite for a real controller bound to vfio-pci (the demo writes
# the first 16 MiB of its first namespace; see README).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release --product vfioctl
exec .build/release/vfioctl demo "$@"
