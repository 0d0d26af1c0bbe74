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
#if canImport(Glibc)
import Glibc
#endif

/// Every fault of the fault plan, its counter, and the plan's determinism.
@Suite struct FaultPlanTests {
    func ready(_ rules: [FaultRule], seed: UInt64 = 1) throws -> (TestHost, TestQueue) {
        var configuration = EmulatedNVMeConfiguration()
        configuration.faultPlan = FaultPlan(seed: seed, rules: rules)
        return try TestHost.ready(configuration)
    }

    @Test func dropCompletion() throws {
        let (host, queue) = try ready([.io(.flush, .nth(2), .dropCompletion)])
        #expect(queue.execute(.flush(namespaceID: 1)).status == .success)
        queue.submit(.flush(namespaceID: 1))
        #expect(queue.drain().isEmpty)
        #expect(queue.execute(.flush(namespaceID: 1)).status == .success)
        #expect(host.controller.faultCounters[.dropCompletion] == 1)
        #expect(host.controller.statistics.io(IOOpcode.flush.rawValue).commands == 3)
    }

    @Test func delayCompletion() throws {
        let (host, queue) = try ready([.io(.flush, .always, .delayCompletion(nanoseconds: 100_000_000))])
        let start = host.now()
        queue.submit(.flush(namespaceID: 1))
        #expect(queue.drain().isEmpty)
        #expect(queue.reap(1).count == 1)
        #expect(host.now() - start >= 100_000_000)
        #expect(host.controller.faultCounters[.delayCompletion] == 1)
    }

    @Test func delayedCompletionDoesNotBlockOthers() throws {
        let (_, queue) = try ready([.io(.flush, .nth(1), .delayCompletion(nanoseconds: 300_000_000))])
        let slow = queue.place(.flush(namespaceID: 1))
        let fast = queue.place(.flush(namespaceID: 1))
        queue.ring()
        let first = queue.reap(1)
        #expect(first.first?.commandID == fast)
        let second = queue.reap(1)
        #expect(second.first?.commandID == slow)
    }

    @Test func completeWithChosenStatusSkipsTheCommand() throws {
        let (host, queue) = try ready([.io(.write, .always, .completeWithStatus(.writeFault))])
        let buffer = try host.controller.dma.allocate(length: 4096)
        buffer.fill([UInt8](repeating: 0xAB, count: 4096))
        var w = SubmissionQueueEntry.write(namespaceID: 1, lba: 0, blocks: 8)
        w.prp1 = buffer.iova.rawValue
        #expect(queue.execute(w).status.matches(.writeFault))
        var r = SubmissionQueueEntry.read(namespaceID: 1, lba: 0, blocks: 8)
        r.prp1 = buffer.iova.rawValue
        #expect(queue.execute(r).status == .success)
        #expect(buffer.read(4096) == [UInt8](repeating: 0, count: 4096))
        #expect(host.controller.faultCounters[.completeWithStatus] == 1)
    }

    @Test func duplicateCompletion() throws {
        let (host, queue) = try ready([.io(.flush, .nth(1), .duplicateCompletion)])
        let cid = queue.submit(.flush(namespaceID: 1))
        let done = queue.reap(2)
        #expect(done.map(\.commandID) == [cid, cid])
        #expect(host.controller.faultCounters[.duplicateCompletion] == 1)
    }

    @Test func badCommandID() throws {
        let (host, queue) = try ready([.io(.flush, .nth(1), .badCommandID)])
        let cid = queue.submit(.flush(namespaceID: 1))
        let done = queue.reap(1)
        #expect(done.first?.commandID != cid)
        #expect(host.controller.faultCounters[.badCommandID] == 1)
        // The real command is still findable by Abort.
        let abort = host.adminCommand(.abort(submissionQueue: 1, commandID: cid))
        #expect(abort.commandSpecific & 1 == 0)
        #expect(queue.reap(1).first?.commandID == cid)
    }

    @Test func corruptPhaseHidesTheEntry() throws {
        let (host, queue) = try ready([.io(.flush, .nth(1), .corruptPhase)])
        queue.submit(.flush(namespaceID: 1))
        #expect(queue.drain().isEmpty)
        #expect(host.controller.statistics.completionsPosted >= 1)
        // The slot was written, with the previous pass's phase.
        let word = queue.completionMemory.address.load(fromByteOffset: 12, as: UInt32.self)
        #expect((word >> 16) & 1 == 0)
        #expect(word & 0xFFFF == 1)
        #expect(host.controller.faultCounters[.corruptPhase] == 1)
    }

    @Test func controllerFatalStatus() throws {
        let (host, queue) = try ready([.io(.read, .nth(1), .controllerFatalStatus)])
        queue.submit(.read(namespaceID: 1, lba: 0, blocks: 1))
        #expect(queue.drain().isEmpty)
        #expect(host.status.controllerFatalStatus)
        #expect(host.controller.faultCounters[.controllerFatalStatus] == 1)
        // Only a reset recovers.
        host.configuration = ControllerConfiguration(enable: false)
        host.wait("reset") { !host.status.ready && !host.status.controllerFatalStatus }
        try host.enable()
        #expect(host.adminCommand(.getFeatures(.arbitration)).status == .success)
    }

    @Test func stopResponding() throws {
        let (host, queue) = try ready([.io(.flush, .nth(2), .stopResponding)])
        #expect(queue.execute(.flush(namespaceID: 1)).status == .success)
        queue.submit(.flush(namespaceID: 1))
        #expect(queue.drain().isEmpty)
        #expect(host.controller.isHalted)
        #expect(!host.status.controllerFatalStatus)
        // The admin queue is dead too.
        host.admin.submit(.getFeatures(.arbitration))
        #expect(host.admin.drain().isEmpty)
        host.configuration = ControllerConfiguration(enable: false)
        host.wait("reset") { !host.status.ready }
        #expect(!host.controller.isHalted)
        #expect(host.controller.faultCounters[.stopResponding] == 1)
    }

    @Test func injectedDMAFault() throws {
        let (host, queue) = try ready([.io(.read, .nth(1), .dmaFault)])
        let buffer = try host.controller.dma.allocate(length: 4096)
        var r = SubmissionQueueEntry.read(namespaceID: 1, lba: 0, blocks: 1)
        r.prp1 = buffer.iova.rawValue
        #expect(queue.execute(r).status.matches(.dataTransferError))
        #expect(host.controller.dmaFaults.last?.reason == .injected)
        #expect(queue.execute(r).status == .success)
        #expect(host.controller.faultCounters[.dmaFault] == 1)
    }

    @Test func withheldInterrupt() throws {
        var configuration = EmulatedNVMeConfiguration()
        configuration.faultPlan = FaultPlan(rules: [.io(.flush, .nth(1), .withholdInterrupt)])
        let host = try TestHost(configuration)
        try host.controller.enableInterrupts(.msix, count: 2)
        try host.enable()
        _ = host.setNumberOfQueues(1)
        let queue = try host.createQueuePair(id: 1, entries: 16, vector: 1)
        let fd = try #require(host.controller.interruptEventFD(vector: 1))
        var value: UInt64 = 0
        #expect(queue.execute(.flush(namespaceID: 1)).status == .success)
        #expect(read(fd, &value, 8) < 0)  // nothing to read: no interrupt
        #expect(queue.execute(.flush(namespaceID: 1)).status == .success)
        #expect(read(fd, &value, 8) == 8 && value == 1)
        #expect(host.controller.faultCounters[.withholdInterrupt] == 1)
    }

    @Test func adminRulesMatchAdminOpcodesOnly() throws {
        let (host, queue) = try ready([.admin(.getFeatures, .always, .completeWithStatus(.internalError))])
        #expect(host.adminCommand(.getFeatures(.arbitration)).status.matches(.internalError))
        // I/O opcode 0x0A is not matched by the admin rule.
        #expect(queue.execute(SubmissionQueueEntry(opcode: 0x0A, namespaceID: 1)).status.matches(.invalidCommandOpcode))
    }

    @Test func everyNthAndLimit() throws {
        let (host, queue) = try ready([.io(.flush, .every(2), .completeWithStatus(.internalError), limit: 2)])
        let statuses = (0..<8).map { _ in queue.execute(.flush(namespaceID: 1)).status.isSuccess }
        #expect(statuses == [true, false, true, false, true, true, true, true])
        #expect(host.controller.faultCounters.total == 2)
    }

    @Test func probabilityIsDeterministicForASeed() throws {
        func run(seed: UInt64) throws -> [Bool] {
            let (_, queue) = try ready([FaultRule(queue: .queue(1), trigger: .probability(0.3), action: .completeWithStatus(.internalError))], seed: seed)
            return (0..<64).map { _ in queue.execute(.flush(namespaceID: 1)).status.isSuccess }
        }
        let a = try run(seed: 42)
        let b = try run(seed: 42)
        let c = try run(seed: 43)
        #expect(a == b)
        #expect(a != c)
        let failures = a.filter { !$0 }.count
        #expect(failures > 5 && failures < 40)
    }

    @Test func planCanBeReplacedAtRunTime() throws {
        let (host, queue) = try ready([])
        #expect(queue.execute(.flush(namespaceID: 1)).status == .success)
        host.controller.setFaultPlan(FaultPlan(rules: [.io(.flush, .always, .completeWithStatus(.internalError))]))
        #expect(queue.execute(.flush(namespaceID: 1)).status.matches(.internalError))
        host.controller.setFaultPlan(.none)
        #expect(queue.execute(.flush(namespaceID: 1)).status == .success)
    }
}
