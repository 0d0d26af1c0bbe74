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

    /// Both emulators start their thread through `start(for:)`: none in stepped mode (the
    /// driver's `service()` does the work), a running one in threaded mode, stopped by emptying
    /// the mutex (what `close()` and `deinit` do).
    @Test func startRunsAThreadOnlyInThreadedModeAndEmptyingTheMutexStopsIt() throws {
        let stepped = CountingWorker()
        let none = try DeviceRunLoop.start(for: .stepped, name: "stepped device", spinNanoseconds: 1_000_000, worker: stepped, orThrow: StandInEmulatorError.init)
        usleep(20_000)
        #expect(stepped.rounds.load(ordering: .relaxed) == 0)
        #expect(none.withLock { $0 == nil })

        let threaded = CountingWorker()
        let loop = try DeviceRunLoop.start(for: .threaded, name: "threaded device", spinNanoseconds: 1_000_000, worker: threaded, orThrow: StandInEmulatorError.init)
        for _ in 0..<2000 where threaded.rounds.load(ordering: .relaxed) < 10 { usleep(1000) }
        #expect(threaded.rounds.load(ordering: .relaxed) >= 10)
        loop.withLock { $0 = nil }
        let after = threaded.rounds.load(ordering: .relaxed)
        usleep(20_000)
        #expect(threaded.rounds.load(ordering: .relaxed) == after)
    }

    /// A BAR the system cannot map is reported as the emulator's own error, with the length.
    @Test func unmappableBARIsReportedAsTheEmulatorsError() {
        let length = 1 << 60
        #expect(throws: StandInEmulatorError(length: length, errno: ENOMEM)) {
            _ = try EmulatedBAR.map(length: length, orThrow: StandInEmulatorError.init)
        }
    }
}

struct StandInEmulatorError: Error, Equatable {
    var length = 0
    var errno: Int32
    init(errno: Int32) { self.errno = errno }
    init(length: Int, errno: Int32) { self.length = length; self.errno = errno }
}
