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

import NVMeSpec
import NVMeEmulator
import Testing
import VFIO

/// Threaded mode: the controller runs on its own thread, the host only touches memory and
/// doorbells. Longer than the stepped tests (a few hundred milliseconds); run under
/// ThreadSanitizer to check the handoff (`swift test --sanitize=thread`).
@Suite struct ThreadedModeTests {
    @Test func manyCommandsOnTwoQueuesComplete() throws {
        var configuration = EmulatedNVMeConfiguration(mode: .threaded)
        configuration.namespaces = [EmulatedNamespace(blockSize: 512, capacityInBlocks: 1 << 16)]
        let host = try TestHost(configuration)
        try host.controller.enableInterrupts(.msix, count: 3)
        try host.enable()
        #expect(host.setNumberOfQueues(2).status == .success)
        let q1 = try host.createQueuePair(id: 1, entries: 32, vector: 1)
        let q2 = try host.createQueuePair(id: 2, entries: 32, vector: 2)
        let buffers = try host.controller.dma.allocate(length: 64 * 4096)
        let rounds = 40
        var expected: [UInt64: [UInt8]] = [:]
        for round in 0..<rounds {
            // 16 writes per queue per round, one doorbell each, then reap.
            for (q, queue) in [q1, q2].enumerated() {
                for i in 0..<16 {
                    let slot = q * 16 + i
                    let lba = UInt64((round * 32 + slot) % 4096) * 8
                    let data = pattern(4096, seed: lba ^ UInt64(round))
                    buffers.fill(data, at: slot * 4096)
                    expected[lba] = data
                    var w = SubmissionQueueEntry.write(namespaceID: 1, lba: lba, blocks: 8)
                    w.prp1 = buffers.iova.rawValue + UInt64(slot * 4096)
                    queue.place(w)
                }
                queue.ring()
            }
            for queue in [q1, q2] {
                let done = queue.reap(16, timeoutMilliseconds: 10_000)
                #expect(done.count == 16 && done.allSatisfy { $0.status == .success })
            }
        }
        // Read everything back through one queue and compare.
        let readBuffer = try host.controller.dma.allocate(length: 4096)
        for (lba, data) in expected.sorted(by: { $0.key < $1.key }).prefix(64) {
            var r = SubmissionQueueEntry.read(namespaceID: 1, lba: lba, blocks: 8)
            r.prp1 = readBuffer.iova.rawValue
            #expect(q1.execute(r).status == .success)
            #expect(readBuffer.read(4096) == data)
        }
        let eventFD = try #require(host.controller.interruptEventFD(vector: 1))
        _ = eventFD
        #expect(host.controller.statistics.interruptsSignalled > 0)
        #expect(host.controller.statistics.io(IOOpcode.write.rawValue).commands == rounds * 32)
        host.controller.close()
    }

    @Test func interruptWakesAWaiterWithoutStepping() throws {
        let host = try TestHost(EmulatedNVMeConfiguration(mode: .threaded))
        try host.controller.enableInterrupts(.msix, count: 2)
        try host.enable()
        _ = host.setNumberOfQueues(1)
        let queue = try host.createQueuePair(id: 1, entries: 16, vector: 1)
        let fd = try #require(host.controller.interruptEventFD(vector: 1))
        for _ in 0..<20 {
            let cid = queue.submit(.flush(namespaceID: 1))
            // Sleep on the eventfd as an interrupt-driven driver would; nobody calls service().
            #expect(EventFD.wait(fd, milliseconds: 5000))
            #expect(EventFD.drain(fd) >= 1)
            let cqe = try #require(queue.poll())
            #expect(cqe.commandID == cid && cqe.status == .success)
            queue.acknowledge()
        }
        #expect(host.controller.statistics.interruptsSignalled >= 20)
    }

    @Test func latencyIsHonouredByTheThread() throws {
        var configuration = EmulatedNVMeConfiguration(mode: .threaded)
        configuration.commandLatencyNanoseconds = 2_000_000
        let (host, queue) = try TestHost.ready(configuration)
        let start = host.now()
        #expect(queue.execute(.flush(namespaceID: 1)).status == .success)
        #expect(host.now() - start >= 2_000_000)
    }

    @Test func serviceDoesNothingInThreadedMode() throws {
        let (host, queue) = try TestHost.ready(EmulatedNVMeConfiguration(mode: .threaded))
        host.controller.close()
        queue.submit(.flush(namespaceID: 1))
        for _ in 0..<10 { host.controller.service() }
        #expect(queue.poll() == nil)
        #expect(host.controller.statistics.io(IOOpcode.flush.rawValue).commands == 0)
    }

    @Test func controllerIsReleasedWithItsThread() throws {
        weak var weakController: EmulatedNVMeController?
        do {
            let (host, queue) = try TestHost.ready(EmulatedNVMeConfiguration(mode: .threaded))
            #expect(queue.execute(.flush(namespaceID: 1)).status == .success)
            weakController = host.controller
        }
        // The thread holds the engine, not the controller object: dropping the last reference
        // stops and joins the thread.
        #expect(weakController == nil)
    }

    /// Host-side calls that take the controller's locks (statistics, masking, DMA allocation)
    /// while the controller thread runs I/O: under ThreadSanitizer this exercises the contended
    /// lock handoff, which must be reported as synchronised.
    @Test func concurrentControlCallsWhileRunning() async throws {
        let host = try TestHost(EmulatedNVMeConfiguration(mode: .threaded))
        try host.controller.enableInterrupts(.msix, count: 2)
        try host.enable()
        _ = host.setNumberOfQueues(1)
        let queue = try host.createQueuePair(id: 1, entries: 32, vector: 1)
        let controller = host.controller
        let poker = Task.detached {
            var seen = 0
            for i in 0..<300 {
                seen = max(seen, controller.statistics.completionsPosted)
                controller.setInterruptMasked(vector: 1, i % 2 == 0)
                if let buffer = try? controller.dma.allocate(length: 4096) { _ = buffer.iova }
            }
            controller.setInterruptMasked(vector: 1, false)
            return seen
        }
        for _ in 0..<50 {
            for _ in 0..<8 { queue.place(.flush(namespaceID: 1)) }
            queue.ring()
            #expect(queue.reap(8, timeoutMilliseconds: 10_000).allSatisfy { $0.status == .success })
        }
        #expect(await poker.value >= 0)
        #expect(controller.statistics.io(IOOpcode.flush.rawValue).commands == 400)
    }
}
