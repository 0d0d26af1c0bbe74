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

import Benchmark
import IOPathBench

// The driver's I/O path against the null device (Sources/NullNVMe), Swift and the C reference
// side by side. One benchmark iteration = 1000 I/Os (scalingFactor .kilo), so time is reported
// per I/O; malloc and ARC counts are per 1000 I/Os, and the static thresholds in
// Benchmarks/Thresholds (all 0) make `swift package benchmark thresholds check` fail as soon as
// one malloc, retain or release appears in 1000 I/Os.
//
// The objects are reached through `Unmanaged` so that the harness itself adds no retain/release
// to the measured closure: what the ARC counters see is the driver's.

/// Holds a path created in `setup` and released in `teardown`.
final class Slot<T: AnyObject>: @unchecked Sendable {
    var object: Unmanaged<T>?
    func set(_ value: T) { object = .passRetained(value) }
    func clear() { object?.release(); object = nil }
}

let swiftPath = Slot<SwiftIOPath>()
let cPath = Slot<CIOPath>()

func setUpSwift(transfer: Int) throws {
    swiftPath.set(try SwiftIOPath(entries: 256, transferBytes: transfer))
}

func setUpC(transfer: Int) throws {
    guard let c = CIOPath(entries: 256, transferBytes: transfer) else {
        throw BenchmarkSetupFailure(what: "C reference setup")
    }
    cPath.set(c)
}

struct BenchmarkSetupFailure: Error {
    let what: String
}

/// Fails the benchmark when the path reported a failed I/O (wrong checksum).
func check(_ benchmark: Benchmark, _ sum: UInt64, _ count: Int) {
    if sum != expectedTokenSum(count) { benchmark.error("I/Os failed or completed with the wrong token") }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal, .retainCount, .releaseCount],
        timeUnits: .nanoseconds,
        warmupIterations: 10,
        scalingFactor: .kilo,
        maxDuration: .seconds(2),
        maxIterations: .kilo(20)
    )

    Benchmark(
        "SwiftQD1",
        closure: { benchmark in
            let n = benchmark.scaledIterations.count
            check(benchmark, swiftPath.object!._withUnsafeGuaranteedRef { $0.qd1(n) }, n)
        },
        setup: { try setUpSwift(transfer: 4096) }, teardown: { swiftPath.clear() })

    Benchmark(
        "CQD1",
        closure: { benchmark in
            let n = benchmark.scaledIterations.count
            check(benchmark, cPath.object!._withUnsafeGuaranteedRef { $0.qd1(n) }, n)
        },
        setup: { try setUpC(transfer: 4096) }, teardown: { cPath.clear() })

    Benchmark(
        "SwiftQD1Wait",
        closure: { benchmark in
            let n = benchmark.scaledIterations.count
            check(benchmark, swiftPath.object!._withUnsafeGuaranteedRef { $0.qd1Wait(n) }, n)
        },
        setup: { try setUpSwift(transfer: 4096) }, teardown: { swiftPath.clear() })

    Benchmark(
        "SwiftBatch32",
        closure: { benchmark in
            let n = benchmark.scaledIterations.count
            check(benchmark, swiftPath.object!._withUnsafeGuaranteedRef { $0.batched(n, batch: 32) }, n)
        },
        setup: { try setUpSwift(transfer: 4096) }, teardown: { swiftPath.clear() })

    Benchmark(
        "CBatch32",
        closure: { benchmark in
            let n = benchmark.scaledIterations.count
            check(benchmark, cPath.object!._withUnsafeGuaranteedRef { $0.batched(n, batch: 32) }, n)
        },
        setup: { try setUpC(transfer: 4096) }, teardown: { cPath.clear() })

    Benchmark(
        "SwiftQD1PRPList64K",
        closure: { benchmark in
            let n = benchmark.scaledIterations.count
            check(benchmark, swiftPath.object!._withUnsafeGuaranteedRef { $0.qd1(n) }, n)
        },
        setup: { try setUpSwift(transfer: 65536) }, teardown: { swiftPath.clear() })

    Benchmark(
        "CQD1PRPList64K",
        closure: { benchmark in
            let n = benchmark.scaledIterations.count
            check(benchmark, cPath.object!._withUnsafeGuaranteedRef { $0.qd1(n) }, n)
        },
        setup: { try setUpC(transfer: 65536) }, teardown: { cPath.clear() })
}
