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
import VFIO

/// Data described by SGLs (Identify Controller SGLS), forced on a queue pair, against PRPs on the
/// same pair (`setDataPointers`): a contiguous transfer starting mid-page as one Data Block, in
/// poll and interrupt mode; a write scattered over three slices that do not meet at page
/// boundaries, as one command with a segment list, which PRPs cannot describe (with PRPs the pair
/// must refuse it before submitting); PRPs then read those blocks back, and a scattered SGL read
/// returns them again, so the two descriptions cross-check each other. Skips without SGL support.
public enum SGLRoundTrip: NVMeScenario {
    public static let name = "sgl-round-trip"
    public static let summary = "SGLs forced on a pair: mid-page Data Block write/read in poll and interrupt mode, a 3-slice scattered write (one command, segment list) that a PRP pair refuses, read back through PRPs and through a scattered SGL read"

    public static func run<Device: PCIFunction>(_ target: NVMeTarget<Device>) throws -> ScenarioOutcome {
        let rig = try NVMeScenarioRig(target)
        defer { try? rig.controller.close() }
        let controller = rig.controller
        let support = controller.identity.sglSupport
        guard support.supported else {
            return .skip("the controller does not support SGLs (Identify Controller SGLS 0x\(String(support.rawValue, radix: 16)))")
        }
        let info = rig.info
        guard info.metadataSize == 0 else { return .skip("namespace \(info.id) is formatted with metadata; the SGL data path is proven on one without") }

        var pair = try controller.makeQueuePair(entries: 32, interrupts: controller.interruptVectors > 0)
        try pair.setDataPointers(.sgl)
        try expect(pair.usesSGLs && pair.prpTransferLimit < 0, "queue pair \(pair.id) does not send every transfer as SGLs after setDataPointers(.sgl)")
        let modes: [CompletionMode] = controller.interruptVectors > 0 ? [.poll, .interrupt] : [.poll]
        for (slot, mode) in modes.enumerated() {
            // 516 bytes into the page: a Data Block only needs dword alignment.
            try rig.roundTrip(&pair, mode: mode, bytes: 24 << 10, offset: 516, slot: slot)
        }

        let ns = try controller.namespace(info.id)
        // Three pieces of one buffer, dword sized and aligned, none meeting another at a page
        // boundary; together one 4 KiB transfer (8 blocks of 512 B, or one of 4 KiB).
        let bytes = 4096
        guard bytes % info.blockSize == 0 else { return .skip("namespace \(info.id) has \(info.blockSize)-byte blocks; this scenario writes 4 KiB") }
        let blocks = bytes / info.blockSize
        let lba = info.blockCount / 2 + 3 * UInt64((4 << 20) / info.blockSize)
        let scattered = try controller.device.dma.allocate(length: 3 * 4096)
        let pieces = [scattered.slice(offset: 4, length: 1028), scattered.slice(offset: 4096 + 12, length: 2052), scattered.slice(offset: 8192 + 2000, length: 1016)]
        for (i, piece) in pieces.enumerated() { fillPattern(piece, seed: 0x5C1 &+ UInt64(i)) }
        let expected = try controller.device.dma.allocate(length: bytes)
        var at = 0
        for piece in pieces {
            memcpy(expected.address + at, piece.address, piece.length)
            at += piece.length
        }

        // PRPs cannot describe it: refused before anything is written to the SQ.
        try pair.setDataPointers(.prp)
        let refused: Bool = pieces.withUnsafeBufferPointer { slices in
            do {
                try pair.submitWrite(namespace: info, lba: lba, blocks: blocks, from: slices, token: 1)
                return false
            } catch { return true }
        }
        try expect(refused && pair.outstanding == 0, "with PRPs the pair took a scattered request whose pieces do not meet at page boundaries")
        try pair.setDataPointers(.sgl)

        _ = try pieces.withUnsafeBufferPointer { slices in
            try pair.submitWrite(namespace: info, lba: lba, blocks: blocks, from: slices, token: 2)
        }
        pair.ringSubmissionDoorbell()
        var status: [String] = []
        _ = try pair.waitForCompletions(atLeast: 1, mode: .poll, timeoutMilliseconds: 20_000) { c in
            if !c.status.isSuccess { status.append("\(c.status)") }
        }
        try expect(status.isEmpty, "the scattered SGL write failed: \(status)")

        try pair.setDataPointers(.prp)
        let back = try controller.device.dma.allocate(length: bytes)
        try ns.read(lba: lba, blocks: blocks, into: back.slice(offset: 0, length: bytes), using: &pair, mode: .poll)
        try expect(memcmp(back.address, expected.address, bytes) == 0, "blocks written from three SGL pieces read back through PRPs differ from the pieces")
        try pair.setDataPointers(.sgl)

        // And a scattered read through SGLs into pieces of other sizes returns the same bytes.
        let gather = try controller.device.dma.allocate(length: 3 * 4096)
        let targets = [gather.slice(offset: 8, length: 2044), gather.slice(offset: 4096 + 100, length: 1000), gather.slice(offset: 8192 + 44, length: 1052)]
        _ = try targets.withUnsafeBufferPointer { slices in
            try pair.submitRead(namespace: info, lba: lba, blocks: blocks, into: slices, token: 3)
        }
        pair.ringSubmissionDoorbell()
        _ = try pair.waitForCompletions(atLeast: 1, mode: .poll, timeoutMilliseconds: 20_000) { c in
            if !c.status.isSuccess { status.append("\(c.status)") }
        }
        try expect(status.isEmpty, "the scattered SGL read failed: \(status)")
        at = 0
        for piece in targets {
            try expect(memcmp(piece.address, expected.address + at, piece.length) == 0, "a scattered SGL read returned other bytes at offset \(at) than were written")
            at += piece.length
        }
        rig.log("sgl: queue pair \(pair.id), \(pair.statistics)")
        return .pass
    }
}
