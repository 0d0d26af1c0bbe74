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

import PackageDescription

/// Benchmarks of swift-vfio's I/O path, a separate package so that the root package's build (and
/// its CI) never compiles the benchmark dependencies. Depends on the root package by path.
///
///     swift build -c release --package-path Benchmarks --scratch-path .build-bench
///     swift package --package-path Benchmarks --scratch-path .build-bench benchmark
///     scripts/bench.sh            # the quick set, with callgrind and the vfioctl perf table
let package = Package(
    name: "swift-vfio-benchmarks",
    dependencies: [
        .package(name: "swift-vfio", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.0", traits: ["MallocInterposer"]),
    ],
    targets: [
        /// The null device's completion engine, shared by the Swift and C paths.
        .target(name: "CNullDevice"),
        /// The C reference driver (same ring protocol and checks as the Swift queue pair).
        .target(name: "CReferenceDriver", dependencies: ["CNullDevice"]),
        /// The null devices' IOMMU: IOVA to host address, used at setup only.
        .target(name: "NullDMA", dependencies: [.product(name: "VFIO", package: "swift-vfio")]),
        /// A `PCIFunction` whose I/O queues complete at once without touching data.
        .target(
            name: "NullNVMe",
            dependencies: [
                "CNullDevice", "NullDMA",
                .product(name: "NVMe", package: "swift-vfio"),
                .product(name: "VFIO", package: "swift-vfio"),
            ]),
        /// An 82574L whose descriptors are written back at once without touching frames.
        .target(
            name: "NullNIC",
            dependencies: [
                "CNullDevice", "NullDMA",
                .product(name: "E1000ESpec", package: "swift-vfio"),
                .product(name: "NetFrames", package: "swift-vfio"),
                .product(name: "VFIO", package: "swift-vfio"),
            ]),
        /// The measured loops, Swift and C, used by the benchmark and by iopath-count.
        .target(
            name: "IOPathBench",
            dependencies: [
                "NullNVMe", "NullNIC", "CReferenceDriver",
                .product(name: "NIC", package: "swift-vfio"),
                .product(name: "NVMe", package: "swift-vfio"),
                .product(name: "NVMeWorkload", package: "swift-vfio"),
                .product(name: "VFIO", package: "swift-vfio"),
            ]),
        /// N I/Os through one path, for callgrind (instructions per I/O) and quick timings.
        .executableTarget(name: "iopath-count", dependencies: ["IOPathBench", "NullNIC"]),
        .executableTarget(
            name: "IOPath",
            dependencies: [.product(name: "Benchmark", package: "benchmark"), "IOPathBench"],
            path: "Benchmarks/IOPath",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
