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

import PCIEmulation
import Synchronization
import Testing
import VFIO
#if canImport(Glibc)
import Glibc
#endif

final class CountingWorker: DeviceWorker {
    let rounds = Atomic<Int>(0)
    func serviceOnce() -> DeviceWork {
        rounds.add(1, ordering: .relaxed)
        return DeviceWork(worked: false, waitingOnTime: false)
    }
}

/// The threaded run loop: works on its own thread, and stops when dropped.
@Suite struct DeviceRunLoopTests {
    @Test func runLoopWorksUntilDroppedAndThenStops() throws {
        let worker = CountingWorker()
        var loop: DeviceRunLoop? = try DeviceRunLoop(name: "test device", spinNanoseconds: 1_000_000, worker: worker)
        for _ in 0..<2000 where worker.rounds.load(ordering: .relaxed) < 10 { usleep(1000) }
        #expect(worker.rounds.load(ordering: .relaxed) >= 10)
        loop = nil
        let after = worker.rounds.load(ordering: .relaxed)
        usleep(20_000)
        #expect(worker.rounds.load(ordering: .relaxed) == after)
        _ = loop
    }
}
