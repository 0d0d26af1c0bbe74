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

import NVMe
import NVMeEmulator
import Testing
import VFIO

/// The low-level submit/reap API against the emulated controller in stepped mode.
@Suite struct QueuePairTests {
    @Test func fullSubmissionQueueGivesBackpressure() throws {
        let rig = try Rig()
        var pair = try rig.controller.makeQueuePair(entries: 8)
        #expect(pair.depth == 7)
        let buffer = try patternBuffer(rig.device.dma, bytes: 8 * 512, seed: 2)
        for i in 0..<7 {
            try pair.submitWrite(namespace: rig.namespace, lba: UInt64(i), blocks: 1, from: buffer.slice(offset: i * 512, length: 512), token: UInt64(i))
        }
        let full = !pair.canSubmit
        #expect(full)
        #expect(throws: NVMeError.submissionQueueFull(queue: pair.id)) {
            try pair.submitWrite(namespace: rig.namespace, lba: 7, blocks: 1, from: buffer.slice(offset: 0, length: 512), token: 99)
        }
        #expect(pair.statistics.backpressure == 1)
        // Nothing was overwritten: the seven submitted commands complete, each exactly once.
        pair.ringSubmissionDoorbell()
        var tokens: [UInt64] = []
        let n = try pair.waitForCompletions(atLeast: 7, timeoutMilliseconds: 2000) { c in
            #expect(c.status.isSuccess)
            tokens.append(c.token)
        }
        #expect(n == 7 && tokens.sorted() == Array(0..<7))
        #expect(rig.device.statistics.io(IOOpcode.write.rawValue).commands == 7)
        let free = pair.canSubmit
        #expect(free)
    }

    @Test func batchedSubmissionsRingTheDoorbellOnce() throws {
        let rig = try Rig()
        var pair = try rig.controller.makeQueuePair()
        let buffer = try rig.device.dma.allocate(length: 16 * 512)
        rig.device.service()  // let the controller see the admin CQ head of the queue creation
        let before = rig.device.statistics.doorbellWrites
        for i in 0..<16 {
            try pair.submitRead(namespace: rig.namespace, lba: UInt64(i), blocks: 1, into: buffer.slice(offset: i * 512, length: 512), token: UInt64(i))
        }
        #expect(pair.unpublishedSubmissions == 16)
        pair.ringSubmissionDoorbell()
        pair.ringSubmissionDoorbell()  // nothing new: no store
        rig.device.service()
        #expect(rig.device.statistics.doorbellWrites - before == 1)
        #expect(rig.device.statistics.io(IOOpcode.read.rawValue).commands == 16)
        // One reap consumes all 16 CQEs and writes the CQ head doorbell once.
        #expect(pair.reap { _ in } == 16)
        // The doorbell registers hold the new tail and head.
        let bar = try rig.device.region(bar: 0)
        let id = pair.id
        #expect(bar.load32(at: ControllerRegisterOffset.doorbellOffset(queue: id, completion: true, stride: 0)) == 16)
        #expect(bar.load32(at: ControllerRegisterOffset.doorbellOffset(queue: id, completion: false, stride: 0)) == 16)
        rig.device.service()
        #expect(rig.device.statistics.doorbellWrites - before == 2)
        #expect(pair.statistics.submissionDoorbells == 1)
        #expect(pair.statistics.completionDoorbells == 1)

        // Unbatched, for contrast: one doorbell per command.
        for i in 0..<4 {
            try pair.submitRead(namespace: rig.namespace, lba: 0, blocks: 1, into: buffer.slice(offset: i * 512, length: 512), token: 0)
            pair.ringSubmissionDoorbell()
            rig.device.service()
        }
        #expect(rig.device.statistics.doorbellWrites - before == 6)
        _ = try pair.waitForCompletions(atLeast: 4, timeoutMilliseconds: 1000) { _ in }
    }

    @Test func commandIDIsNeverReusedBeforeItsCompletion() throws {
        let rig = try Rig()
        var pair = try rig.controller.makeQueuePair(entries: 16)
        let buffer = try rig.device.dma.allocate(length: 4096)
        var generator = SeededGenerator(seed: 7)
        var outstanding: Set<UInt16> = []
        var reused = 0
        for _ in 0..<400 {
            // Submit a random number, reap a random number, in random order of arrival.
            let submits = Int.random(in: 0...pair.depth, using: &generator)
            for _ in 0..<submits where pair.canSubmit {
                let cid = try pair.submitRead(namespace: rig.namespace, lba: 0, blocks: 1, into: buffer.slice(offset: 0, length: 512), token: 0)
                if outstanding.contains(cid) { reused += 1 }
                let isOutstanding = pair.isOutstanding(commandID: cid)
                #expect(isOutstanding)
                outstanding.insert(cid)
            }
            pair.ringSubmissionDoorbell()
            rig.device.service()
            _ = pair.reap(limit: Int.random(in: 0...pair.depth, using: &generator)) { c in
                #expect(outstanding.remove(c.commandID) != nil, "completion for a command id not outstanding")
            }
        }
        #expect(reused == 0)
        _ = try pair.waitForCompletions(atLeast: pair.outstanding, timeoutMilliseconds: 1000) { c in outstanding.remove(c.commandID) }
        #expect(outstanding.isEmpty && pair.outstanding == 0)
    }

    /// A depth that is a power of two (16) fills its tag field but for the all-ones tag, which
    /// names no slot: every id keeps its slot's tag, each reuse of a slot bumps the generation by
    /// one step (32: five tag bits), an id comes back only after all 2048 generations, and none is
    /// 0xFFFF ("no command" in the Error Information log), with no test for it on the I/O path.
    @Test func everyReuseOfASlotBumpsItsGenerationAndNoIDIsFFFF() throws {
        let rig = try Rig()
        var pair = try rig.controller.makeQueuePair(entries: 17, interrupts: false)
        #expect(pair.depth == 16)
        var last = [UInt16?](repeating: nil, count: 16)
        var first = [UInt16?](repeating: nil, count: 16)
        for round in 0..<2049 {
            for _ in 0..<16 {
                let cid = try pair.submitFlush(namespace: rig.namespace, token: 0)
                let tag = Int(cid & 31)
                #expect(tag < 16 && cid != 0xFFFF)
                if let previous = last[tag] { #expect(cid == previous &+ 32, "round \(round), tag \(tag)") }
                if round == 2048 { #expect(cid == first[tag], "an id repeats after 2048 generations") }
                if first[tag] == nil { first[tag] = cid }
                last[tag] = cid
            }
            pair.ringSubmissionDoorbell()
            rig.device.service()
            var failed = 0
            let reaped = pair.reap { if !$0.status.isSuccess { failed += 1 } }
            #expect(reaped == 16 && failed == 0)
        }
    }

    @Test func completionWithUnknownCommandIDIsRejected() throws {
        let rig = try Rig()
        var pair = try rig.controller.makeQueuePair()
        let buffer = try rig.device.dma.allocate(length: 4096)
        rig.device.setFaultPlan(FaultPlan(rules: [.io(.read, .nth(1), .badCommandID)]))
        let cid = try pair.submitRead(namespace: rig.namespace, lba: 0, blocks: 1, into: buffer.whole, token: 1)
        pair.ringSubmissionDoorbell()
        rig.device.service()
        var completed = 0
        #expect(pair.reap { _ in completed += 1 } == 0)
        #expect(completed == 0)
        #expect(pair.statistics.invalidCompletions == 1)
        #expect(pair.statistics.lastInvalidCompletion?.commandID != cid)
        // The real command is still outstanding: its id is not free, and a wait for it times out.
        let stillOutstanding = pair.isOutstanding(commandID: cid)
        #expect(stillOutstanding)
        #expect(throws: NVMeError.self) { _ = try pair.waitForCompletions(atLeast: 1, timeoutMilliseconds: 30) { _ in } }
        // The queue still works for new commands.
        try pair.submitRead(namespace: rig.namespace, lba: 1, blocks: 1, into: buffer.whole, token: 2)
        pair.ringSubmissionDoorbell()
        var tokens: [UInt64] = []
        _ = try pair.waitForCompletions(atLeast: 1, timeoutMilliseconds: 1000) { tokens.append($0.token) }
        #expect(tokens == [2])
    }

    @Test func duplicateCompletionIsRejected() throws {
        let rig = try Rig()
        var pair = try rig.controller.makeQueuePair()
        let buffer = try rig.device.dma.allocate(length: 4096)
        rig.device.setFaultPlan(FaultPlan(rules: [.io(.read, .always, .duplicateCompletion)]))
        for i in 0..<5 {
            try pair.submitRead(namespace: rig.namespace, lba: UInt64(i), blocks: 1, into: buffer.slice(offset: i * 512, length: 512), token: UInt64(i))
        }
        pair.ringSubmissionDoorbell()
        rig.device.service()
        var tokens: [UInt64] = []
        _ = pair.reap { tokens.append($0.token) }
        #expect(tokens.sorted() == [0, 1, 2, 3, 4])
        #expect(pair.statistics.invalidCompletions == 5)
        #expect(pair.outstanding == 0)
    }

    @Test func droppedCompletionTimesOutAndAbortRecoversIt() throws {
        let rig = try Rig()
        var pair = try rig.controller.makeQueuePair()
        let buffer = try rig.device.dma.allocate(length: 4096)
        rig.device.setFaultPlan(FaultPlan(rules: [.io(.read, .nth(1), .dropCompletion)]))
        let cid = try pair.submitRead(namespace: rig.namespace, lba: 0, blocks: 1, into: buffer.whole, token: 42)
        pair.ringSubmissionDoorbell()
        #expect(throws: NVMeError.self) { _ = try pair.waitForCompletions(atLeast: 1, timeoutMilliseconds: 20) { _ in } }
        #expect(pair.overdueCommands(olderThan: 0).map(\.commandID) == [cid])
        #expect(try rig.controller.abort(queue: pair.id, commandID: cid))
        var status: NVMeStatus?
        var token: UInt64?
        _ = try pair.waitForCompletions(atLeast: 1, timeoutMilliseconds: 1000) {
            status = $0.status
            token = $0.token
        }
        #expect(status?.matches(.abortRequested) == true && token == 42)
        let released = !pair.isOutstanding(commandID: cid)
        #expect(released)
    }
}
