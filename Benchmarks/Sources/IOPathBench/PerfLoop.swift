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

import CReferenceDriver
import NVMe
import NVMeWorkload
import NullNVMe
import VFIO

/// `vfioctl nvme perf`'s whole per-queue loop (`WorkloadRunner`: slot stack, random LBA, tick
/// reads, latency histogram, the library's poll-mode wait, progress counter, deadline check)
/// over the null device, random 4 KiB reads at a fixed depth. The driver's own share is what
/// `SwiftIOPath` measures; this adds what a user of the library's perf engine pays around it.
///
/// `@unchecked Sendable`: used by one thread (the runner's own worker thread does the I/O).
public final class SwiftPerfLoop: @unchecked Sendable {
    public let device: NullNVMeController
    let controller: Controller<NullNVMeController>
    let depth: Int

    public init(depth: Int = 1, entries: Int = 256) throws(NVMeError) {
        device = NullNVMeController()
        controller = try Controller(device: device, options: ControllerOptions(ioQueuePairs: 1, ioQueueEntries: entries, interrupts: false))
        self.depth = depth
    }

    /// Runs `count` I/Os through `WorkloadRunner.run`; returns how many completed without error
    /// (which must be `count`), or `.max` if the run failed.
    public func run(_ count: Int) -> UInt64 {
        let spec = WorkloadSpec(pattern: .randread, blockSize: 4096, queueDepth: depth, queuePairs: 1, ios: count, mode: .poll)
        guard let result = try? WorkloadRunner(controller: controller).run(spec), result.errors == 0 else { return .max }
        return result.ios
    }
}

/// The C twin of that loop (`ref_perf.c`) over the C reference driver and the same null device
/// engine, with the same tick source as `TickClock.shared`, so the ratio compares like with like.
public final class CPerfLoop: @unchecked Sendable {
    let bench: OpaquePointer
    let loop: OpaquePointer

    public init?(depth: Int = 1, entries: Int = 256) {
        guard let b = ref_bench_create(UInt32(entries), 4096) else { return nil }
        // The Swift loop's working set: the null namespace's 4 KiB units.
        let units = NullNVMeController.defaultNamespaceBlocks * 512 / 4096
        let ticks = TickClock.shared
        let nanosecondsPerTickQ32 = UInt64((4_294_967_296 * 1e9 / ticks.frequency).rounded())
        guard let p = ref_perf_create(b, UInt32(depth), units, ticks.source == .tsc ? 1 : 0, nanosecondsPerTickQ32) else {
            ref_bench_destroy(b)
            return nil
        }
        bench = b
        loop = p
    }

    deinit {
        ref_perf_destroy(loop)
        ref_bench_destroy(bench)
    }

    /// Same result as `SwiftPerfLoop.run`: the I/Os that completed without error.
    public func run(_ count: Int) -> UInt64 {
        let before = ref_perf_recorded(loop)
        let completed = ref_perf_run(loop, UInt64(count))
        return ref_perf_recorded(loop) - before == completed ? completed : .max
    }
}
