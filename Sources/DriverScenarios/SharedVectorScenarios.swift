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

#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import NVMe
import VFIO

/// Four queue pairs on fewer MSI-X vectors than pairs (QEMU's `msix_qsize=2`): each pair on its
/// own thread writes, reads back and compares, then runs QD1 reads for a figure, all in one
/// completion mode, so that completions of different CQs fire the same vector while other
/// waiters sleep on it. Skips on a controller with a vector per pair.
enum SharedVectorRun {
    static let lanes = 4
    static let reads = 200

    static func run<Device: PCIFunction>(_ target: NVMeTarget<Device>, mode: CompletionMode) throws -> ScenarioOutcome {
        let rig = try NVMeScenarioRig(target)
        defer { try? rig.controller.close() }
        let controller = rig.controller
        guard controller.grantedQueuePairs >= lanes else {
            return .skip("the controller granted \(controller.grantedQueuePairs) queue pairs; this scenario uses \(lanes)")
        }
        guard controller.interruptVectors >= 2, controller.interruptVectors - 1 < lanes else {
            return .skip("\(controller.interruptVectors) MSI-X vectors: every one of \(lanes) queue pairs has its own")
        }
        let failures = Mutex<[String]>([])
        let unheard = Atomic<Int>(0)
        let vectors = Mutex<[Int?]>([])
        let start = MonotonicClock.nanoseconds()
        // The rig is a struct over Sendable references; each lane borrows it on its own thread.
        nonisolated(unsafe) let shared = rig
        let work: @Sendable (Int) -> Void = { lane in
            do {
                var pair = try shared.controller.makeQueuePair(entries: 16, interrupts: true)
                vectors.withLock { $0.append(pair.interruptVector) }
                try shared.roundTrip(&pair, mode: mode, bytes: 64 << 10, offset: 64 * lane, slot: lane)
                let info = shared.info
                let buffer = try shared.device.dma.allocate(length: info.blockSize)
                for i in 0..<reads {
                    try pair.submitRead(namespace: info, lba: UInt64(lane * reads + i), blocks: 1, into: buffer.whole, token: UInt64(i))
                    pair.ringSubmissionDoorbell()
                    var ok = false
                    let n = try pair.waitForCompletions(atLeast: 1, mode: mode, timeoutMilliseconds: 20_000) { c in
                        ok = c.status.isSuccess && c.token == UInt64(i)
                    }
                    try expect(n == 1 && ok, "lane \(lane): read \(i) did not complete successfully")
                }
                let stats = pair.statistics
                // A pair that slept and woke, yet never had a message handed on to its own eventfd.
                if stats.interruptWakeups > 0 && stats.interrupts == 0 { unheard.add(1, ordering: .relaxed) }
                shared.log("lane \(lane) (\(mode)): vector \(pair.interruptVector.map(String.init) ?? "none"), \(stats)")
            } catch {
                failures.withLock { $0.append("lane \(lane): \(error)") }
            }
        }
        do {
            // All four run at once; one that fails to start leaves the started ones joined on drop.
            let t0 = try OSThread(name: "shared-vector-0") { work(0) }
            let t1 = try OSThread(name: "shared-vector-1") { work(1) }
            let t2 = try OSThread(name: "shared-vector-2") { work(2) }
            let t3 = try OSThread(name: "shared-vector-3") { work(3) }
            t0.join(); t1.join(); t2.join(); t3.join()
        }
        let seconds = Double(MonotonicClock.nanoseconds() - start) / 1e9
        try expect(failures.withLock { $0 }.isEmpty, failures.withLock { $0.joined(separator: "; ") })
        let used = vectors.withLock { $0 }
        try expect(Set(used.compactMap { $0 }).count < lanes, "the \(lanes) queue pairs got vectors \(used), not shared ones")
        try expect(unheard.load(ordering: .relaxed) == 0, "\(unheard.load(ordering: .relaxed)) queue pairs never had a message of their shared vector handed on")
        rig.log("\(lanes) queue pairs on \(controller.interruptVectors - 1) I/O vector(s), \(mode): \(lanes * reads) verified-pair QD1 reads in \(seconds) s")
        return .pass
    }
}

public enum SharedVectorInterrupt: NVMeScenario {
    public static let name = "shared-vector-interrupt"
    public static let summary = "four queue pairs on fewer MSI-X vectors (msix_qsize=2), one thread each, interrupt mode: write/read-back and QD1 reads; every waiter woken"

    public static func run<Device: PCIFunction>(_ target: NVMeTarget<Device>) throws -> ScenarioOutcome {
        try SharedVectorRun.run(target, mode: .interrupt)
    }
}

public enum SharedVectorHybrid: NVMeScenario {
    public static let name = "shared-vector-hybrid"
    public static let summary = "four queue pairs on fewer MSI-X vectors, hybrid mode: the shared vector is masked only while every pair polls"

    public static func run<Device: PCIFunction>(_ target: NVMeTarget<Device>) throws -> ScenarioOutcome {
        try SharedVectorRun.run(target, mode: .hybrid(idlePolls: 500))
    }
}
