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

/// Completion queue mechanics (NVMe base 1.4, 4.1, 4.6): phase tags, SQ head, CQ full, latency,
/// doorbell stride and doorbell validation.
@Suite struct CompletionQueueTests {
    @Test func phaseTagFlipsOnEveryWrap() throws {
        let (_, queue) = try TestHost.ready(entries: 4)
        var phases: [Bool] = []
        for _ in 0..<10 {
            let expectedPhase = queue.phase
            let cqe = queue.execute(.flush(namespaceID: 1))
            #expect(cqe.status == .success)
            #expect(cqe.phase == expectedPhase)
            phases.append(cqe.phase)
        }
        // 4 entries per pass: 1,1,1,1,0,0,0,0,1,1
        #expect(phases == [true, true, true, true, false, false, false, false, true, true])
    }

    @Test func everyCompletionCarriesSQHeadAndID() throws {
        let (host, queue) = try TestHost.ready(entries: 8)
        let second = try host.createQueuePair(id: 2, entries: 8)
        for _ in 0..<3 { queue.place(.flush(namespaceID: 1)) }
        queue.ring()
        let done = queue.reap(3)
        #expect(done.map(\.submissionQueueID) == [1, 1, 1])
        // All three were fetched before the first was posted: SQHD is 3 in each.
        #expect(done.allSatisfy { $0.submissionQueueHead == 3 })
        let other = second.execute(.flush(namespaceID: 1))
        #expect(other.submissionQueueID == 2 && other.submissionQueueHead == 1)
    }

    @Test func fullCompletionQueueHoldsCompletionsUntilTheHeadMoves() throws {
        let host = try TestHost()
        try host.enable()
        _ = host.setNumberOfQueues(1)
        // SQ of 16 entries on a CQ of 4: the CQ holds at most 3.
        let sq = try host.controller.dma.allocate(length: 16 * 64)
        let cqQueue = try TestQueue(host: host, id: 1, entries: 4)
        #expect(host.adminCommand(.createIOCompletionQueue(id: 1, size: 4, baseIOVA: cqQueue.completionMemory.iova.rawValue, interruptsEnabled: false)).status == .success)
        #expect(host.adminCommand(.createIOSubmissionQueue(id: 1, size: 16, baseIOVA: sq.iova.rawValue, completionQueue: 1)).status == .success)
        // Write 10 SQEs by hand into the 16-entry SQ.
        for i in 0..<10 {
            var sqe = SubmissionQueueEntry.flush(namespaceID: 1)
            sqe.commandID = UInt16(100 + i)
            withUnsafeBytes(of: sqe) { (sq.address + i * 64).copyMemory(from: $0.baseAddress!, byteCount: 64) }
        }
        host.bar.doorbell(at: 0x1000 + 2 * host.stride).ring(10)
        for _ in 0..<5 { host.controller.service() }
        var seen: [UInt16] = []
        while let e = cqQueue.poll() { seen.append(e.commandID) }
        #expect(seen == [100, 101, 102])
        #expect(host.controller.statistics.completionQueueFullStalls > 0)
        // Nothing more until the head doorbell moves; then the rest arrive in order.
        for _ in 0..<3 { host.controller.service() }
        #expect(cqQueue.poll() == nil)
        while seen.count < 10 {
            cqQueue.acknowledge()
            host.controller.service()
            while let e = cqQueue.poll() { seen.append(e.commandID) }
        }
        #expect(seen == (100..<110).map { UInt16($0) })
    }

    @Test func latencyHoldsCompletions() throws {
        var configuration = EmulatedNVMeConfiguration()
        configuration.commandLatencyNanoseconds = 100_000_000  // wide margin: ThreadSanitizer runs are slow
        let (host, queue) = try TestHost.ready(configuration)
        let start = host.now()
        queue.submit(.flush(namespaceID: 1))
        host.controller.service()
        #expect(queue.poll() == nil)
        #expect(host.controller.owedCompletions == 1)
        #expect(queue.reap(1).count == 1)
        #expect(host.now() - start >= 100_000_000)
    }

    @Test func nonZeroDoorbellStrideWorks() throws {
        let configuration = EmulatedNVMeConfiguration(doorbellStride: 4)  // 64-byte stride
        let (host, queue) = try TestHost.ready(configuration)
        #expect(host.stride == 64)
        let second = try host.createQueuePair(id: 3, entries: 16)
        let buffer = try host.controller.dma.allocate(length: 4096)
        buffer.fill(pattern(4096, seed: 11))
        var w = SubmissionQueueEntry.write(namespaceID: 1, lba: 0, blocks: 8)
        w.prp1 = buffer.iova.rawValue
        #expect(second.execute(w).status == .success)
        let sink = try host.controller.dma.allocate(length: 4096)
        var r = SubmissionQueueEntry.read(namespaceID: 1, lba: 0, blocks: 8)
        r.prp1 = sink.iova.rawValue
        #expect(queue.execute(r).status == .success)
        #expect(sink.read(4096) == pattern(4096, seed: 11))
        // A write at the stride-0 offset of queue 1's SQ doorbell (0x1008) is not a doorbell of
        // queue 1 here; nothing happens for queue 1.
        #expect(host.controller.statistics.invalidDoorbellWrites == 0)
    }

    @Test func tailBeyondTheQueueIsIgnoredAndReported() throws {
        let (host, queue) = try TestHost.ready(entries: 8)
        host.bar.doorbell(at: queue.sqDoorbell).ring(8)
        for _ in 0..<3 { host.controller.service() }
        #expect(queue.poll() == nil)
        #expect(host.controller.statistics.invalidDoorbellWrites == 1)
        #expect(host.controller.statistics.io(IOOpcode.flush.rawValue).commands == 0)
        // The queue still works afterwards.
        queue.tail = 0
        #expect(queue.execute(.flush(namespaceID: 1)).status == .success)
    }

    @Test func headBeyondTheTailIsIgnoredAndReported() throws {
        let (host, queue) = try TestHost.ready(entries: 8)
        #expect(queue.execute(.flush(namespaceID: 1)).status == .success)
        host.bar.doorbell(at: queue.cqDoorbell).ring(5)  // only one entry was posted
        host.controller.service()
        #expect(host.controller.statistics.invalidDoorbellWrites == 1)
        host.bar.doorbell(at: queue.cqDoorbell).ring(1)
        #expect(queue.execute(.flush(namespaceID: 1)).status == .success)
    }

    @Test func arbitrationBurstAlternatesBetweenQueues() throws {
        let (host, q1) = try TestHost.ready(entries: 16)
        let q2 = try host.createQueuePair(id: 2, entries: 16)
        // AB 1: two commands from each SQ per round. Both CQs are separate, so compare the order
        // of execution through the SQ head each completion reports at the time it was posted.
        #expect(host.adminCommand(.setFeatures(.arbitration, cdw11: Arbitration(burst: 1).dword)).status == .success)
        for _ in 0..<6 { q1.place(.flush(namespaceID: 1)) }
        for _ in 0..<6 { q2.place(.flush(namespaceID: 1)) }
        q1.ring()
        q2.ring()
        host.controller.service()
        let first = q1.reap(6)
        let second = q2.reap(6)
        // Completions are posted after each round: SQ 1's first two see head 2, the next two 4...
        #expect(first.map(\.submissionQueueHead) == [2, 2, 4, 4, 6, 6])
        #expect(second.map(\.submissionQueueHead) == [2, 2, 4, 4, 6, 6])
        // Without a limit, one SQ is drained in one turn.
        #expect(host.adminCommand(.setFeatures(.arbitration, cdw11: Arbitration(burst: 7).dword)).status == .success)
        for _ in 0..<6 { q1.place(.flush(namespaceID: 1)) }
        q1.ring()
        #expect(q1.reap(6).map(\.submissionQueueHead) == [12, 12, 12, 12, 12, 12])
    }

    @Test func queueCountIsLimited() throws {
        let host = try TestHost(EmulatedNVMeConfiguration(maxIOQueuePairs: 2))
        try host.enable()
        #expect(NumberOfQueues(dword: host.setNumberOfQueues(8).commandSpecific).submissionQueues == 2)
        try host.createQueuePair(id: 1, entries: 8)
        try host.createQueuePair(id: 2, entries: 8)
        let memory = try host.controller.dma.allocate(length: 4096)
        #expect(host.adminCommand(.createIOCompletionQueue(id: 3, size: 8, baseIOVA: memory.iova.rawValue, interruptsEnabled: false)).status.matches(.invalidQueueIdentifier))
    }
}
