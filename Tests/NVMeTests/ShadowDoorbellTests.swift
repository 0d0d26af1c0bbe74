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

/// Doorbell Buffer Config (shadow doorbells with event indexes), the driver and the emulated
/// controller together.
@Suite struct ShadowDoorbellTests {
    /// Writes `count` blocks and reads them back one at a time (QD1), checking the data; returns
    /// the pair's statistics for the reads.
    static func writeThenReadBack(_ rig: Rig, count: Int, mode: CompletionMode = .poll) throws -> QueueStatistics {
        var pair = try rig.controller.makeQueuePair(entries: 8)
        let source = try patternBuffer(rig.device.dma, bytes: count * 512, seed: 19)
        let target = try rig.device.dma.allocate(length: count * 512)
        for i in 0..<count {
            try pair.submitWrite(namespace: rig.namespace, lba: UInt64(i), blocks: 1, from: source.slice(offset: i * 512, length: 512), token: 0)
            pair.ringSubmissionDoorbell()
            _ = try pair.waitForCompletions(atLeast: 1, mode: mode, timeoutMilliseconds: 5000) { #expect($0.status.isSuccess) }
        }
        let before = pair.statistics
        for i in 0..<count {
            try pair.submitRead(namespace: rig.namespace, lba: UInt64(i), blocks: 1, into: target.slice(offset: i * 512, length: 512), token: 0)
            pair.ringSubmissionDoorbell()
            _ = try pair.waitForCompletions(atLeast: 1, mode: mode, timeoutMilliseconds: 5000) { #expect($0.status.isSuccess) }
        }
        #expect(equalBytes(source.slice(offset: 0, length: count * 512), target.slice(offset: 0, length: count * 512)))
        var reads = pair.statistics
        reads.submitted -= before.submitted
        reads.completed -= before.completed
        reads.submissionDoorbells -= before.submissionDoorbells
        reads.completionDoorbells -= before.completionDoorbells
        reads.shadowOnlyDoorbells -= before.shadowOnlyDoorbells
        return reads
    }

    @Test func needsEventIsTheEventIndexInsideThePublishedEntries() {
        for size in UInt32(2)...9 {
            for new in 0..<size {
                for moved in UInt32(1)...size {
                    // The entries just published: new - moved ..< new, around the ring.
                    let published = Set((1...moved).map { (new &+ size &* 2 &- $0) % size })
                    for event in Array(0..<(size + 3)) + [UInt32(0xFFFF), .max] {
                        let expected = event >= size || published.contains(event)
                        #expect(ShadowDoorbell.needsEvent(eventIndex: event, newValue: new, moved: moved, size: size) == expected,
                                "size \(size) new \(new) moved \(moved) event \(event)")
                    }
                }
            }
        }
    }

    @Test func advertisedShadowDoorbellsAreUsedAndSpareTheCompletionDoorbell() throws {
        let rig = try Rig { $0.doorbellBufferConfig = true }
        #expect(rig.controller.usesShadowDoorbells)
        #expect(rig.device.statistics.admin(0x7C).commands == 1)
        let reads = try Self.writeThenReadBack(rig, count: 40)
        #expect(reads.completed == 40)
        // The emulated controller reads the CQ head from the shadow and never asks for it by MMIO;
        // it wants an SQ kick once it has caught up, which at QD1 is every time.
        #expect(reads.completionDoorbells == 0)
        #expect(reads.submissionDoorbells == 40)
        #expect(reads.shadowOnlyDoorbells == 40)
        #expect(rig.device.statistics.shadowDoorbellUpdates >= 160)
    }

    @Test func theOptionTurnsShadowDoorbellsOff() throws {
        let rig = try Rig(shadowDoorbells: false) { $0.doorbellBufferConfig = true }
        #expect(!rig.controller.usesShadowDoorbells)
        #expect(rig.device.statistics.admin(0x7C).commands == 0)
        let reads = try Self.writeThenReadBack(rig, count: 20)
        #expect(reads.submissionDoorbells == 20 && reads.completionDoorbells == 20 && reads.shadowOnlyDoorbells == 0)
        #expect(rig.device.statistics.shadowDoorbellUpdates == 0)
    }

    @Test func aControllerWithoutTheCommandKeepsMMIODoorbells() throws {
        let rig = try Rig { $0.doorbellBufferConfig = false }
        #expect(!rig.controller.usesShadowDoorbells)
        let reads = try Self.writeThenReadBack(rig, count: 10)
        #expect(reads.completionDoorbells == 10 && reads.shadowOnlyDoorbells == 0)
    }

    @Test func aResetGivesTheControllerTheBuffersAgain() throws {
        let rig = try Rig { $0.doorbellBufferConfig = true }
        var pair = try rig.controller.makeQueuePair(entries: 8)
        let buffer = try patternBuffer(rig.device.dma, bytes: 4096, seed: 3)
        for i in 0..<5 {
            try pair.submitWrite(namespace: rig.namespace, lba: UInt64(i), blocks: 1, from: buffer.slice(offset: i * 512, length: 512), token: 0)
            pair.ringSubmissionDoorbell()
            _ = try pair.waitForCompletions(atLeast: 1, timeoutMilliseconds: 5000) { _ in }
        }
        #expect(rig.device.statistics.invalidDoorbellWrites == 0, "before reset")
        try rig.controller.reset()
        #expect(rig.device.statistics.invalidDoorbellWrites == 0, "after reset")
        #expect(rig.device.statistics.admin(0x7C).commands == 2)
        #expect(rig.controller.usesShadowDoorbells)
        // The pair rebuilds; its shadow tail starts from zero again with the queue (it was 5),
        // so the controller fetches exactly the new commands.
        #expect(try pair.recoverIfReset { _ in } == 0)
        let rebuilt = pair.statistics.rebuilds
        #expect(rebuilt == 1)
        #expect(rig.device.statistics.invalidDoorbellWrites == 0, "after rebuild")
        let shadowBefore = rig.device.statistics.shadowDoorbellUpdates
        let check = try rig.device.dma.allocate(length: 4096)
        for i in 0..<6 {
            try pair.submitRead(namespace: rig.namespace, lba: UInt64(i % 5), blocks: 1, into: check.slice(offset: (i % 5) * 512, length: 512), token: 2)
            pair.ringSubmissionDoorbell()
            _ = try pair.waitForCompletions(atLeast: 1, timeoutMilliseconds: 5000) { #expect($0.status.isSuccess) }
        }
        #expect(equalBytes(buffer.slice(offset: 0, length: 2560), check.slice(offset: 0, length: 2560)))
        #expect(rig.device.statistics.shadowDoorbellUpdates > shadowBefore)
        #expect(rig.device.statistics.invalidDoorbellWrites == 0)
    }

    @Test(arguments: [UInt32(8), 0xFFFF, .max])
    func anEventIndexOutsideTheRingMakesEveryUpdateAnMMIOWrite(forged: UInt32) throws {
        let rig = try Rig {
            $0.doorbellBufferConfig = true
            $0.forgedEventIndex = forged
        }
        #expect(rig.controller.usesShadowDoorbells)
        let reads = try Self.writeThenReadBack(rig, count: 20)
        #expect(reads.submissionDoorbells == 20 && reads.completionDoorbells == 20 && reads.shadowOnlyDoorbells == 0)
    }

    @Test func aLyingEventIndexEndsInATimeoutNotAHang() throws {
        // Event index 0 for ever: after the first command the driver sees no need to kick, and
        // this controller only reads the shadow tail after a kick. The wait must end.
        let rig = try Rig(recovery: .disabled) {
            $0.doorbellBufferConfig = true
            $0.forgedEventIndex = 0
        }
        var pair = try rig.controller.makeQueuePair(entries: 8)
        let buffer = try rig.device.dma.allocate(length: 4096)
        var timedOut = false
        for _ in 0..<4 where !timedOut {
            try pair.submitRead(namespace: rig.namespace, lba: 0, blocks: 1, into: buffer.slice(offset: 0, length: 512), token: 0)
            pair.ringSubmissionDoorbell()
            do {
                _ = try pair.waitForCompletions(atLeast: 1, timeoutMilliseconds: 300) { _ in }
            } catch {
                guard case .timedOut = error else { throw error }
                timedOut = true
            }
        }
        #expect(timedOut)
        #expect(pair.statistics.shadowOnlyDoorbells >= 1)
    }

    @Test func threadedControllerAndDriverAgreeOnEveryDoorbell() throws {
        // The controller runs on its own thread, so event index stores race shadow stores: a
        // lost kick would leave commands unfetched and end in a timeout.
        let rig = try Rig(mode: .threaded) { $0.doorbellBufferConfig = true }
        var pair = try rig.controller.makeQueuePair(entries: 32)
        let source = try patternBuffer(rig.device.dma, bytes: 32 * 512, seed: 23)
        let target = try rig.device.dma.allocate(length: 32 * 512)
        for round in 0..<20 {
            for i in 0..<31 {
                let lba = UInt64((round * 31 + i) % 32)
                try pair.submitWrite(namespace: rig.namespace, lba: lba, blocks: 1, from: source.slice(offset: Int(lba) * 512, length: 512), token: 0)
                if i % 3 == 0 { pair.ringSubmissionDoorbell() }
            }
            pair.ringSubmissionDoorbell()
            var done = 0
            while done < 31 {
                done += try pair.waitForCompletions(atLeast: 1, timeoutMilliseconds: 10_000) { #expect($0.status.isSuccess) }
            }
        }
        for half in 0..<2 {
            for i in half * 16..<half * 16 + 16 {
                try pair.submitRead(namespace: rig.namespace, lba: UInt64(i), blocks: 1, into: target.slice(offset: i * 512, length: 512), token: 0)
                pair.ringSubmissionDoorbell()
            }
            var done = 0
            while done < 16 {
                done += try pair.waitForCompletions(atLeast: 1, timeoutMilliseconds: 10_000) { #expect($0.status.isSuccess) }
            }
        }
        #expect(equalBytes(source.whole, target.whole))
        #expect(pair.statistics.completionDoorbells < pair.statistics.completed)
    }
}
