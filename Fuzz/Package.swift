// swift-tools-version: 6.1
//===----------------------------------------------------------------------===//
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
//===----------------------------------------------------------------------===//

import Foundation
import PackageDescription

/// libFuzzer targets for swift-vfio, in their own package so the root build never sees
/// `-sanitize=fuzzer`. Build and run them with scripts/fuzz.sh (or scripts/reliability.sh):
///
///     swift build -c release --package-path Fuzz --scratch-path <dir> \
///         -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library
///     <dir>/release/fuzz-decoders -max_total_time=30 Fuzz/Corpus/decoders
///
/// Each target exports `LLVMFuzzerTestOneInput`, and its entry point (SwiftPM links `main` to
/// `<module>_main`) hands it to libFuzzer's driver (`LLVMFuzzerRunDriver`).
///
/// The root package is a path dependency, whose identity is its directory's name.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent

func fuzzer(_ name: String, _ directory: String, _ more: [Target.Dependency] = []) -> Target {
    .executableTarget(
        name: name,
        dependencies: [
            "FuzzSupport",
            .product(name: "NVMe", package: root), .product(name: "NVMeEmulator", package: root),
            .product(name: "VFIO", package: root),
        ] + more,
        path: "Sources/\(directory)")
}

let package = Package(
    name: "swift-vfio-fuzz",
    dependencies: [
        .package(path: ".."),
        // The same swift-log the root package uses, to silence the driver's logging while fuzzing.
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: [
        .target(name: "CFuzzer", path: "Sources/CFuzzer"),
        .target(
            name: "FuzzSupport", dependencies: ["CFuzzer", .product(name: "Logging", package: "swift-log")],
            path: "Sources/FuzzSupport"),
        fuzzer("fuzz-decoders", "FuzzDecoders"),
        fuzzer("fuzz-completions", "FuzzCompletions"),
        fuzzer("fuzz-emulator-commands", "FuzzEmulatorCommands"),
        fuzzer("fuzz-bring-up", "FuzzBringUp"),
        .executableTarget(
            name: "fuzz-frames", dependencies: ["FuzzSupport", .product(name: "NetFrames", package: root)],
            path: "Sources/FuzzFrames"),
        fuzzer("fuzz-tcp-pdu", "FuzzTCPPDU", [.product(name: "NVMeTCPTarget", package: root)]),
        fuzzer("fuzz-tcp-target", "FuzzTCPTarget", [.product(name: "NVMeTCPTarget", package: root)]),
    ],
    swiftLanguageModes: [.v6]
)
