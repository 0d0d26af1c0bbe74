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
import NVMeSpec
import Testing
import VFIO

/// Requests over MDTS through the token API's splitting helper (`SplittingQueuePair`: several
/// commands, one completion) and NOIOB/NPWG in every API, against the emulated controller with
/// MDTS 2 (16 KiB: 32 blocks of 512 bytes).
@Suite struct SplitRequestTests {
    static let modes: [CompletionMode] = [.poll, .interrupt, .hybrid]

    func rig(entries: Int = 64, noiob: UInt16 = 0, npwg: UInt16 = 0, mode: EmulationMode = .threaded) throws -> Rig {
        var namespace = EmulatedNamespace(blockSize: 512, capacityInBlocks: 16384)
        namespace.optimalIOBoundary = noiob
        namespace.preferredWriteGranularity = npwg
        return try Rig(mode: mode, entries: entries, mdts: 2, namespaces: [namespace])
    }

    func readCommands(_ rig: Rig) -> Int { rig.device.statistics.io(IOOpcode.read.rawValue).commands }
    func writeCommands(_ rig: Rig) -> Int { rig.device.statistics.io(IOOpcode.write.rawValue).commands }

    @Test(arguments: modes)
    func splittingPairSendsARequestOverMDTSAsCommandsAndCompletesItOnce(mode: CompletionMode) throws {
        let rig = try rig()
        #expect(rig.namespace.maximumBlocksPerCommand == 32)
        var queue = SplittingQueuePair(try rig.controller.makeQueuePair(interrupts: mode.usesInterrupts))
        // 64 KiB + 8 bytes in: four commands each way, from and into mid-page slices.
        let out = try patternBuffer(rig.device.dma, bytes: 128 * 512 + 8, seed: 7)
        let back = try rig.device.dma.allocate(length: 128 * 512 + 16)
        try queue.submitWrite(namespace: rig.namespace, lba: 100, blocks: 128, from: out.slice(offset: 8, length: 128 * 512), token: 41)
        #expect(queue.outstanding == 1 && queue.pair.outstanding == 4 && queue.unpublishedSubmissions == 4)
        queue.ringSubmissionDoorbell()
        var completions: [Completion] = []
        _ = try queue.waitForCompletions(atLeast: queue.outstanding, mode: mode, timeoutMilliseconds: 5000) { completions.append($0) }
        #expect(completions.map(\.token) == [41] && completions[0].status.isSuccess)
        #expect(writeCommands(rig) == 4 && queue.outstanding == 0 && queue.pair.outstanding == 0)

        let cid = try queue.submitRead(namespace: rig.namespace, lba: 100, blocks: 128, into: back.slice(offset: 16, length: 128 * 512), token: 42)
        queue.ringSubmissionDoorbell()
        completions = []
        _ = try queue.waitForCompletions(atLeast: 1, mode: mode, timeoutMilliseconds: 5000) { completions.append($0) }
        #expect(completions.map(\.token) == [42] && completions[0].status.isSuccess)
        #expect(completions[0].commandID == cid)
        #expect(readCommands(rig) == 4 && queue.outstanding == 0)
        #expect(back.bytes[16..<(16 + 128 * 512)].elementsEqual(out.bytes[8..<(8 + 128 * 512)]))
        #expect(queue.statistics.invalidCompletions == 0)
    }

    @Test func requestsThatFitGoAsTheirOwnCommandBesideSplitOnes() throws {
        let rig = try rig(mode: .stepped)
        var queue = SplittingQueuePair(try rig.controller.makeQueuePair())
        let buffer = try rig.device.dma.allocate(length: 128 * 512)
        try queue.submitRead(namespace: rig.namespace, lba: 0, blocks: 32, into: buffer.whole, token: 1)
        try queue.submitRead(namespace: rig.namespace, lba: 0, blocks: 33, into: buffer.whole, token: 2)
        try queue.submitRead(namespace: rig.namespace, lba: 64, blocks: 8, into: buffer.whole, token: 3)
        #expect(queue.unpublishedSubmissions == 4 && queue.outstanding == 3)
        queue.ringSubmissionDoorbell()
        var tokens: [UInt64] = []
        _ = try queue.waitForCompletions(atLeast: 3, timeoutMilliseconds: 5000) { tokens.append($0.token) }
        #expect(tokens.sorted() == [1, 2, 3] && queue.outstanding == 0)
        #expect(readCommands(rig) == 4)
    }

    @Test func plainQueuePairStillRefusesARequestOverMDTS() throws {
        let rig = try rig(mode: .stepped)
        var pair = try rig.controller.makeQueuePair()
        let buffer = try rig.device.dma.allocate(length: 128 * 512)
        #expect(throws: NVMeError.transferTooLarge(bytes: 128 * 512, maximum: 32 * 512)) {
            try pair.submitRead(namespace: rig.namespace, lba: 0, blocks: 128, into: buffer.whole, token: 1)
        }
        #expect(pair.outstanding == 0 && pair.unpublishedSubmissions == 0)
    }

    @Test(arguments: modes)
    func failedMiddlePartFailsTheRequestOnceAndReleasesEveryCommand(mode: CompletionMode) throws {
        let rig = try rig(entries: 8)
        var queue = SplittingQueuePair(try rig.controller.makeQueuePair(interrupts: mode.usesInterrupts))
        #expect(queue.pair.depth == 7)
        // The second of four parts fails; the others succeed.
        rig.device.setFaultPlan(FaultPlan(rules: [.io(.read, .nth(2), .completeWithStatus(.unrecoveredReadError))]))
        let buffer = try rig.device.dma.allocate(length: 7 * 32 * 512)
        try queue.submitRead(namespace: rig.namespace, lba: 0, blocks: 128, into: buffer.whole, token: 5)
        queue.ringSubmissionDoorbell()
        var completions: [Completion] = []
        _ = try queue.waitForCompletions(atLeast: 1, mode: mode, timeoutMilliseconds: 5000) { completions.append($0) }
        #expect(completions.count == 1)
        #expect(completions.first?.token == 5)
        #expect(completions.first?.status == .unrecoveredReadError)
        #expect(readCommands(rig) == 4 && queue.outstanding == 0 && queue.pair.outstanding == 0)
        // Every id and SQ entry came back: a request of seven commands (the whole depth) goes in.
        rig.device.setFaultPlan(FaultPlan())
        try queue.submitRead(namespace: rig.namespace, lba: 0, blocks: 7 * 32, into: buffer.whole, token: 6)
        queue.ringSubmissionDoorbell()
        completions = []
        _ = try queue.waitForCompletions(atLeast: 1, mode: mode, timeoutMilliseconds: 5000) { completions.append($0) }
        #expect(completions.map(\.token) == [6] && completions[0].status.isSuccess)
        #expect(queue.statistics.invalidCompletions == 0)
    }

    @Test func splitRequestGoesInWholeOrNotAtAll() throws {
        let rig = try rig(entries: 8, mode: .stepped)
        var queue = SplittingQueuePair(try rig.controller.makeQueuePair())
        let buffer = try rig.device.dma.allocate(length: 128 * 512)
        try queue.submitRead(namespace: rig.namespace, lba: 0, blocks: 128, into: buffer.whole, token: 1)
        #expect(queue.unpublishedSubmissions == 4 && queue.outstanding == 1)
        // Four more commands do not fit in the three entries left: refused, nothing written.
        let backpressure = queue.statistics.backpressure
        #expect(throws: NVMeError.submissionQueueFull(queue: queue.pair.id)) {
            try queue.submitRead(namespace: rig.namespace, lba: 0, blocks: 128, into: buffer.whole, token: 2)
        }
        #expect(queue.unpublishedSubmissions == 4 && queue.outstanding == 1)
        #expect(queue.statistics.backpressure == backpressure + 1)
        // More commands than the queue holds at all: a one-line refusal, not backpressure.
        let large = try rig.device.dma.allocate(length: 8 * 32 * 512)
        #expect(throws: NVMeError.transferTooLarge(bytes: 8 * 32 * 512, maximum: 7 * 32 * 512)) {
            try queue.submitRead(namespace: rig.namespace, lba: 0, blocks: 8 * 32, into: large.whole, token: 3)
        }
        // A buffer too small for the request: refused before anything is written.
        #expect(throws: NVMeError.bufferTooSmall(needed: 64 * 512, actual: 32 * 512)) {
            try queue.submitRead(namespace: rig.namespace, lba: 0, blocks: 64, into: buffer.slice(offset: 0, length: 32 * 512), token: 4)
        }
        #expect(queue.unpublishedSubmissions == 4 && queue.outstanding == 1)
        // A request that fits in one command still goes beside it.
        try queue.submitRead(namespace: rig.namespace, lba: 0, blocks: 32, into: buffer.whole, token: 5)
        queue.ringSubmissionDoorbell()
        var tokens: [UInt64] = []
        _ = try queue.waitForCompletions(atLeast: 2, timeoutMilliseconds: 5000) { tokens.append($0.token) }
        #expect(tokens.sorted() == [1, 5] && queue.outstanding == 0)
    }

    @Test func splitRequestEndedByAResetCompletesOnceWithAbortedByHost() throws {
        let rig = try rig(mode: .stepped)
        var queue = SplittingQueuePair(try rig.controller.makeQueuePair())
        // The third part is never completed by the device; the reset ends the request.
        rig.device.setFaultPlan(FaultPlan(rules: [.io(.read, .nth(3), .dropCompletion)]))
        let buffer = try rig.device.dma.allocate(length: 128 * 512)
        try queue.submitRead(namespace: rig.namespace, lba: 0, blocks: 128, into: buffer.whole, token: 9)
        queue.ringSubmissionDoorbell()
        var completions: [Completion] = []
        #expect(throws: NVMeError.self) {
            _ = try queue.waitForCompletions(atLeast: 1, timeoutMilliseconds: 200) { completions.append($0) }
        }
        #expect(completions.isEmpty && queue.outstanding == 1 && queue.pair.outstanding == 1)
        try rig.controller.reset()
        let ended = try queue.recoverIfReset { completions.append($0) }
        #expect(ended == 1)
        #expect(completions.map(\.token) == [9] && completions.first?.status == .abortedByHost)
        #expect(queue.outstanding == 0 && queue.pair.outstanding == 0)
        rig.device.setFaultPlan(FaultPlan())
        try queue.submitRead(namespace: rig.namespace, lba: 0, blocks: 128, into: buffer.whole, token: 10)
        queue.ringSubmissionDoorbell()
        _ = try queue.waitForCompletions(atLeast: 1, timeoutMilliseconds: 5000) { completions.append($0) }
        #expect(completions.map(\.token) == [9, 10] && completions.last?.status.isSuccess == true)
    }

    @Test(arguments: modes)
    func resetFoundByTheWaitEndsASplitRequestOnce(mode: CompletionMode) throws {
        let rig = try rig()
        var queue = SplittingQueuePair(try rig.controller.makeQueuePair(interrupts: mode.usesInterrupts))
        // Two parts never complete; the wait's idle check finds the reset and ends the request.
        rig.device.setFaultPlan(FaultPlan(rules: [.io(.write, .nth(2), .dropCompletion), .io(.write, .nth(4), .dropCompletion)]))
        let buffer = try rig.device.dma.allocate(length: 128 * 512)
        try queue.submitWrite(namespace: rig.namespace, lba: 0, blocks: 128, from: buffer.whole, token: 3)
        queue.ringSubmissionDoorbell()
        var completions: [Completion] = []
        // The two other parts complete (consumed here; the request does not).
        let deadline = MonotonicClock.nanoseconds() + 10_000_000_000
        while queue.pair.outstanding > 2 && MonotonicClock.nanoseconds() < deadline {
            _ = queue.reap { completions.append($0) }
        }
        #expect(completions.isEmpty && queue.pair.outstanding == 2 && queue.outstanding == 1)
        try rig.controller.reset()
        _ = try queue.waitForCompletions(atLeast: 1, mode: mode, timeoutMilliseconds: 5000) { completions.append($0) }
        #expect(completions.map(\.token) == [3] && completions.first?.status == .abortedByHost)
        #expect(queue.outstanding == 0 && queue.pair.outstanding == 0 && queue.statistics.endedByReset == 2)
    }

    @Test func piecesDoNotCrossTheNamespacesOptimalIOBoundary() throws {
        // NOIOB 24 blocks: 64 blocks from LBA 8 are 16 + 24 + 24 (MDTS alone would make 32 + 32).
        let rig = try rig(noiob: 24, mode: .stepped)
        #expect(rig.namespace.optimalIOBoundary == 24)
        let ns = try rig.controller.namespace(1)
        let buffer = try patternBuffer(rig.device.dma, bytes: 64 * 512, seed: 3)
        try ns.write(lba: 8, blocks: 64, from: buffer.whole)
        #expect(writeCommands(rig) == 3)
        var queue = SplittingQueuePair(try rig.controller.makeQueuePair())
        try queue.submitRead(namespace: rig.namespace, lba: 8, blocks: 64, into: buffer.whole, token: 0)
        #expect(queue.unpublishedSubmissions == 3)
        queue.ringSubmissionDoorbell()
        _ = try queue.waitForCompletions(atLeast: 1, timeoutMilliseconds: 5000) { #expect($0.status.isSuccess) }
        #expect(readCommands(rig) == 3)
    }

    @Test func splitWritesEndOnThePreferredWriteGranularity() throws {
        // NPWG 8 blocks, MDTS 32: 64 blocks from LBA 3 are 29 (to LBA 32) + 32 + 3 for writes;
        // reads ignore NPWG: 32 + 32.
        let rig = try rig(npwg: 8, mode: .stepped)
        #expect(rig.namespace.preferredWriteGranularity == 8)
        #expect(rig.namespace.split(lba: 3, blocks: 64, writing: true).map(\.blocks) == [29, 32, 3])
        #expect(rig.namespace.split(lba: 3, blocks: 64, writing: false).map(\.blocks) == [32, 32])
        let ns = try rig.controller.namespace(1)
        let out = try patternBuffer(rig.device.dma, bytes: 64 * 512, seed: 4)
        let back = try rig.device.dma.allocate(length: 64 * 512)
        try ns.write(lba: 3, blocks: 64, from: out.whole)
        try ns.read(lba: 3, blocks: 64, into: back.whole)
        #expect(writeCommands(rig) == 3 && readCommands(rig) == 2)
        #expect(back.bytes.elementsEqual(out.bytes))
        var queue = SplittingQueuePair(try rig.controller.makeQueuePair())
        try queue.submitWrite(namespace: rig.namespace, lba: 3, blocks: 64, from: out.whole, token: 0)
        #expect(queue.unpublishedSubmissions == 3)
        queue.ringSubmissionDoorbell()
        _ = try queue.waitForCompletions(atLeast: 1, timeoutMilliseconds: 5000) { #expect($0.status.isSuccess) }
    }

    @Test(arguments: modes)
    func asyncAPISplitsAtMDTSAndTheBoundary(mode: CompletionMode) async throws {
        let rig = try rig(noiob: 24)
        let pool = try rig.controller.startWorkers(1, mode: mode)
        let out = try patternBuffer(rig.device.dma, bytes: 64 * 512, seed: 5)
        let back = try rig.device.dma.allocate(length: 64 * 512)
        try await pool.write(rig.namespace, lba: 8, blocks: 64, from: out.whole)
        try await pool.read(rig.namespace, lba: 8, blocks: 64, into: back.whole)
        #expect(back.bytes.elementsEqual(out.bytes))
        #expect(writeCommands(rig) == 3 && readCommands(rig) == 3)
        pool.stop()
        try rig.controller.close()
    }

    @Test(arguments: modes)
    func asyncRequestWhoseMiddlePieceFailsThrowsItsStatus(mode: CompletionMode) async throws {
        let rig = try rig()
        let pool = try rig.controller.startWorkers(1, mode: mode)
        rig.device.setFaultPlan(FaultPlan(rules: [.io(.write, .nth(2), .completeWithStatus(.writeFault))]))
        let buffer = try rig.device.dma.allocate(length: 128 * 512)
        await #expect(throws: NVMeError.commandFailed(command: "Write", status: .writeFault)) {
            try await pool.write(rig.namespace, lba: 0, blocks: 128, from: buffer.whole)
        }
        #expect(writeCommands(rig) == 4)
        try await pool.write(rig.namespace, lba: 0, blocks: 128, from: buffer.whole)
        pool.stop()
        try rig.controller.close()
    }
}
