#!/usr/bin/env bash
# Runs the test suite: shellcheck over the scripts, unit tests, the emulated NVMe controller, and
# the driver against it; then builds the DocC documentation, failing on any warning.
# Tests that need a real VFIO device are skipped on the host with a visible reason; they run in
# the QEMU VM through scripts/hil-test.sh.
#
# The output must stay clean, so that a real problem is not lost among expected noise: the run
# fails if the build printed a warning, or if a passing test printed a swift-log line at warning
# level or above (a test that expects log lines captures them, see Tests/NVMeTests/LogCapture.swift).
# An incremental build prints the warnings of the files it recompiles only; CI builds from clean.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
shellcheck -x scripts/*.sh scripts/*/*.sh .ci/run
# Every Swift and C source starts with the licence header (README, License).
scripts/license-headers.sh --check

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

# Compiler and SwiftPM warnings: `file.swift:12:5: warning: ...` and `warning: ...`.
warnings() { grep -E '(^|: )warning: ' "$1" || true; }
# swift-log's StreamLogHandler lines: `2026-12-02T17:55:55+0000 warning label: ...`.
log_lines() { grep -E '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]+[+-][0-9]{4} (warning|error|critical) ' "$1" || true; }

# The checks must find what they look for, or a clean result means nothing.
printf '%s\n' 'Sources/A/B.swift:3:9: warning: variable was never mutated' \
    '2026-12-02T17:55:55+0000 error swift-vfio.nvme: [NVMe] reset failed' > "$logs/sample"
[[ $(warnings "$logs/sample" | wc -l) == 1 && $(log_lines "$logs/sample" | wc -l) == 1 ]] ||
    { echo "test.sh: the output checks do not recognize a warning or a log line" >&2; exit 1; }

swift build --build-tests 2>&1 | tee "$logs/build"
# Swift Testing only: every test is an @Test, so XCTest's part of the run is empty
# ("Executed 0 tests").
swift test --skip-build --disable-xctest "$@" 2>&1 | tee "$logs/test"
# A run whose output ends without Swift Testing's summary did not finish, whatever its status
# (seen once: the output stopped mid-run and the script still exited 0).
if ! grep -qE 'Test run with [0-9]+ tests? in [0-9]+ suites? passed' "$logs/test"; then
    echo "test.sh: swift test ended without its 'Test run with N tests ... passed' summary; rerun it and look at the end of its output" >&2
    exit 1
fi

found=$(warnings "$logs/build")
if [[ -n $found ]]; then
    printf 'test.sh: the build printed warnings; fix them:\n%s\n' "$found" >&2
    exit 1
fi
found=$(log_lines "$logs/test")
if [[ -n $found ]]; then
    printf 'test.sh: the tests passed but logged at warning level or above; capture the lines in the test that expects them (LogCapture) or fix the cause:\n%s\n' "$found" >&2
    exit 1
fi

# Every DocC catalog builds without a warning (a broken symbol link is one): a few seconds a
# target once the build above is done, plus half a minute the first time for the plugin's helper.
for target in VFIO NVMe NIC NVMeEmulator; do
    swift package generate-documentation --target "$target" --warnings-as-errors
done
