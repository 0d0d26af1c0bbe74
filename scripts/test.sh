#!/usr/bin/env bash
# Runs the test suite: shellcheck over the scripts, unit tests, the emulated NVMe controller, and
# the driver against it; then builds the DocC documentation, failing on any warning.
# Tests that need a real VFIO device are skipped on the host with a visible reason; they run in
# the QEMU VM through scripts/hil-test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
shellcheck -x scripts/*.sh scripts/*/*.sh .ci/run
swift build --build-tests
swift test --skip-build "$@"
# Every DocC catalog builds without a warning (a broken symbol link is one): a few seconds a
# target once the build above is done, plus half a minute the first time for the plugin's helper.
for target in VFIO NVMe NIC NVMeEmulator; do
    swift package generate-documentation --target "$target" --warnings-as-errors
done
