#!/usr/bin/env bash
# Runs the test suite: shellcheck over the scripts, unit tests, the emulated NVMe controller, and
# the driver against it.
# Tests that need a real VFIO device are skipped on the host with a visible reason; they run in
# the QEMU VM through scripts/hil-test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
shellcheck -x scripts/*.sh scripts/*/*.sh .ci/run
swift build --build-tests
swift test --skip-build "$@"
