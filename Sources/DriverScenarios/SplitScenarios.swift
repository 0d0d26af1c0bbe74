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
import NVMe
import NVMeSpec
import VFIO

/// Requests over MDTS through the token API's splitting helper (`SplittingQueuePair`, issue 18
/// item 7): three commands and a bit (so the last part is short) written and read back from
/// mid-page buffers with one completion each, in poll, interrupt and hybrid mode; then a split
/// Compare whose middle part differs from the media completes once with Compare Failure and gives
/// every command id back.
public enum SplitRequestsOverMDTS: NVMeScenario {
    public static let name = "split-token-api-over-mdts"
    public static let summary = "token-API reads/writes of 3 x MDTS + 1 block go as several commands with one completion (poll, interrupt, hybrid); a split Compare whose middle part differs fails once and frees every id"

    public static func run<Device: PCIFunction>(_ target: NVMeTarget<Device>) throws -> ScenarioOutcome {
        let rig = try NVMeScenarioRig(target)
        defer { try? rig.controller.close() }
        let info = rig.info
        guard info.metadataSize == 0 else {
            return .skip("namespace \(info.id) is formatted with metadata; SplittingQueuePair splits data-only requests (the blocking API splits those with metadata)")
        }
        let pieceBlocks = info.maximumBlocksPerCommand
        let blocks = 3 * pieceBlocks + 1
        let length = blocks * info.blockSize
        rig.log("split: \(blocks) blocks of \(info.blockSize) B, MDTS \(pieceBlocks) blocks, NOIOB \(info.optimalIOBoundary), NPWG \(info.preferredWriteGranularity)")
        let out = try rig.device.dma.allocate(length: length + 512)
        let back = try rig.device.dma.allocate(length: length + 512)
        let outSlice = out.slice(offset: 512, length: length)
        let backSlice = back.slice(offset: 512, length: length)
        for (slot, mode) in [CompletionMode.poll, .interrupt, .hybrid(idlePolls: 500)].enumerated() {
            var queue = SplittingQueuePair(try rig.controller.makeQueuePair(entries: 32, interrupts: mode.usesInterrupts))
            let lba = info.blockCount / 2 + UInt64(slot * blocks)
            fillPattern(outSlice, seed: 0x5E17 &+ UInt64(slot))
            memset(backSlice.address, 0, length)
            let parts = info.split(lba: lba, blocks: blocks, writing: true).count
            try expect(parts >= 4, "\(blocks) blocks became \(parts) commands; MDTS allows \(pieceBlocks) per command")
            try queue.submitWrite(namespace: info, lba: lba, blocks: blocks, from: outSlice, token: 1)
            try expect(queue.outstanding == 1 && queue.unpublishedSubmissions == parts,
                       "a split write counts \(queue.outstanding) outstanding with \(queue.unpublishedSubmissions) entries; want 1 with \(parts)")
            try finishOne(&queue, mode: mode, token: 1, status: nil)
            try queue.submitRead(namespace: info, lba: lba, blocks: blocks, into: backSlice, token: 2)
            try finishOne(&queue, mode: mode, token: 2, status: nil)
            try expect(memcmp(outSlice.address, backSlice.address, length) == 0, "split read-back (\(mode)) differs from the split write")
            // The middle part differs from the media: Compare Failure, reported once for the request.
            backSlice.bytes[(pieceBlocks + pieceBlocks / 2) * info.blockSize] ^= 0x5A
            try queue.submitCompare(namespace: info, lba: lba, blocks: blocks, with: backSlice, token: 3)
            try finishOne(&queue, mode: mode, token: 3, status: .compareFailure)
            // Every id came back: the whole depth takes one-command requests again.
            try expect(queue.outstanding == 0 && queue.pair.outstanding == 0, "ids still taken after the split Compare completed")
            let depth = queue.pair.depth
            for i in 0..<depth {
                try queue.submitRead(namespace: info, lba: lba, blocks: 1, into: backSlice.slice(offset: i % blocks * info.blockSize, length: info.blockSize), token: UInt64(10 + i))
            }
            queue.ringSubmissionDoorbell()
            var completed = 0
            var failed = 0
            while completed < depth {
                let n = try queue.waitForCompletions(atLeast: depth - completed, mode: mode, timeoutMilliseconds: 20_000) { c in
                    if !c.status.isSuccess { failed += 1 }
                }
                try expect(n > 0, "\(depth - completed) reads of the full queue never completed")
                completed += n
            }
            try expect(failed == 0 && queue.outstanding == 0, "\(failed) reads of the full queue failed")
            try expect(queue.statistics.invalidCompletions == 0, "\(queue.statistics.invalidCompletions) CQEs rejected")
            rig.log("split \(mode): queue \(queue.pair.id), \(parts) commands per request, \(queue.statistics.submitted) submitted")
        }
        return .pass
    }

    /// Rings, waits for exactly one completion (the request's) and checks its token and status.
    static func finishOne<Device: PCIFunction>(
        _ queue: inout SplittingQueuePair<Device>, mode: CompletionMode, token: UInt64, status expected: NVMeStatus?
    ) throws {
        queue.ringSubmissionDoorbell()
        var completions: [Completion] = []
        _ = try queue.waitForCompletions(atLeast: 1, mode: mode, timeoutMilliseconds: 20_000) { completions.append($0) }
        try expect(completions.count == 1 && completions[0].token == token,
                   "split request \(token) (\(mode)): \(completions.count) completions, tokens \(completions.map(\.token))")
        if let expected {
            try expect(completions[0].status.matches(expected), "split request \(token) (\(mode)) ended \(completions[0].status), want \(expected)")
        } else {
            try expect(completions[0].status.isSuccess, "split request \(token) (\(mode)) failed: \(completions[0].status)")
        }
        try expect(queue.outstanding == 0 && queue.pair.outstanding == 0,
                   "\(queue.outstanding) requests, \(queue.pair.outstanding) commands outstanding after split request \(token) completed")
    }
}
