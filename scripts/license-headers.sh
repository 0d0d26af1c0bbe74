#!/usr/bin/env bash
# Every tracked Swift and C source carries the project's licence header (the swift-nio style):
#
#   //===----------------------------------------------------------------------===//
#   //
#   // This source file is part of the swift-vfio open source project
#   //
#   // Copyright (c) 2026 the swift-vfio project authors
#   // Licensed under Apache License v2.0
#   //
#   // See LICENSE.txt for license information
#   //
#   // SPDX-License-Identifier: Apache-2.0
#   //
#   //===----------------------------------------------------------------------===//
#
#   scripts/license-headers.sh --check   names every file without it; exit 1 if any
#   scripts/license-headers.sh --fix     puts it at the top of those files (Package.swift keeps
#                                        its `// swift-tools-version` line first, as SwiftPM needs)
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-}
[[ $mode == --check || $mode == --fix ]] || { echo "license-headers: use --check or --fix" >&2; exit 2; }

header='//===----------------------------------------------------------------------===//
//
// This source file is part of the swift-vfio open source project
//
// Copyright (c) 2026 the swift-vfio project authors
// Licensed under Apache License v2.0
//
// See LICENSE.txt for license information
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//'
header_lines=$(printf '%s\n' "$header" | wc -l)

# The header starts at line 1, or at line 2 after Package.swift's tools-version line.
has_header() {
    local file=$1 skip=0
    [[ $(head -n 1 "$file") == "// swift-tools-version"* ]] && skip=1
    [[ $(tail -n +"$((skip + 1))" "$file" | head -n "$header_lines") == "$header" ]]
}

missing=()
while IFS= read -r -d '' file; do
    [[ -f $file ]] || continue
    has_header "$file" || missing+=("$file")
done < <(git ls-files -z -- '*.swift' '*.c' '*.h')

if [[ $mode == --check ]]; then
    if ((${#missing[@]})); then
        printf 'license-headers: no licence header: %s\n' "${missing[@]}" >&2
        echo "license-headers: ${#missing[@]} files; run scripts/license-headers.sh --fix" >&2
        exit 1
    fi
    exit 0
fi

for file in "${missing[@]}"; do
    tmp=$(mktemp)
    if [[ $(head -n 1 "$file") == "// swift-tools-version"* ]]; then
        { head -n 1 "$file"; printf '%s\n\n' "$header"; tail -n +2 "$file"; } >"$tmp"
    else
        { printf '%s\n\n' "$header"; cat "$file"; } >"$tmp"
    fi
    cat "$tmp" >"$file"
    rm -f "$tmp"
done
echo "license-headers: added to ${#missing[@]} files"
