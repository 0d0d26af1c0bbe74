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

/// The driver's SGL data path (NVMe base 1.4, 4.4) against the emulated controller: the policy
/// that picks SGLs or PRPs, a contiguous slice as a Data Block in the command, a scattered request
/// as one command with a segment, and the PRP fallback's page rule.
@Suite struct SGLDataPathTests {
    struct SGLRig {
        let device: EmulatedNVMeController
        let controller: Controller<EmulatedNVMeController>

        init(sgls: SGLSupport = .qemu, policy: DataPointerPolicy = .automatic) throws {
            var configuration = EmulatedNVMeConfiguration(namespaces: [EmulatedNamespace(blockSize: 512, capacityInBlocks: 16384)])
            configuration.sgls = sgls
            device = try EmulatedNVMeController(configuration: configuration)
            var options = ControllerOptions(ioQueuePairs: 2, ioQueueEntries: 32, ioTimeoutMilliseconds: 5000)
            options.dataPointers = policy
            controller = try Controller(device: device, options: options)
        }

        var namespace: NamespaceInfo { controller.namespaces[0] }
    }

    /// Waits for one completion on `pair` and returns its status.
    func complete(_ pair: inout QueuePair<EmulatedNVMeController>) throws -> NVMeStatus {
        pair.ringSubmissionDoorbell()
        var status = NVMeStatus.success
        let n = try pair.waitForCompletions(atLeast: 1, mode: .poll, timeoutMilliseconds: 2000) { status = $0.status }
        #expect(n == 1)
        return status
    }

    @Test func automaticPolicyUsesSGLsAboveTheThresholdWhereAdvertisedAndPRPsElsewhere() throws {
        let rig = try SGLRig()
        var pair = try rig.controller.makeQueuePair()
        let (usesSGLs, limit) = (pair.usesSGLs, pair.prpTransferLimit)
        #expect(usesSGLs && limit == DataPointerPolicy.sglThreshold)
        let out = try patternBuffer(rig.device.dma, bytes: 65536, seed: 2)
        let back = try rig.device.dma.allocate(length: 65536)
        // 8 KiB: PRP1 and PRP2.
        try pair.submitWrite(namespace: rig.namespace, lba: 16, blocks: 16, from: out.slice(offset: 0, length: 8192), token: 1)
        #expect(try complete(&pair).isSuccess)
        #expect(rig.device.statistics.sglTransfers == 0)
        // 64 KiB, above the threshold: one Data Block in SGL1 each way, no segment read.
        try pair.submitWrite(namespace: rig.namespace, lba: 16, blocks: 128, from: out.whole, token: 2)
        #expect(try complete(&pair).isSuccess)
        try pair.submitRead(namespace: rig.namespace, lba: 16, blocks: 128, into: back.whole, token: 3)
        #expect(try complete(&pair).isSuccess)
        #expect(equalBytes(out.whole, back.whole))
        #expect(rig.device.statistics.sglTransfers == 2 && rig.device.statistics.sglSegmentsRead == 0)

        let prpOnly = try SGLRig(sgls: SGLSupport(rawValue: 0))
        var prpPair = try prpOnly.controller.makeQueuePair()
        let prpPairUsesSGLs = prpPair.usesSGLs
        #expect(!prpPairUsesSGLs)
        let buffer = try prpOnly.device.dma.allocate(length: 65536)
        try prpPair.submitRead(namespace: prpOnly.namespace, lba: 0, blocks: 128, into: buffer.whole, token: 3)
        #expect(try complete(&prpPair).isSuccess)
        #expect(prpOnly.device.statistics.sglTransfers == 0)
    }

    @Test func forcingSGLsOnAPRPOnlyControllerIsRefusedWithTheReason() throws {
        #expect {
            _ = try SGLRig(sgls: SGLSupport(rawValue: 0), policy: .sgl)
        } throws: { error in
            "\(error)".contains("SGLS") && "\(error)".contains(".prp")
        }
        let rig = try SGLRig(sgls: SGLSupport(rawValue: 0))
        var pair = try rig.controller.makeQueuePair()
        var refused = false
        do { try pair.setDataPointers(.sgl) } catch { refused = true }
        let stillPRP = !pair.usesSGLs
        #expect(refused && stillPRP)
    }

    @Test func forcedPRPsOnAnSGLControllerAndPerPairSwitching() throws {
        let rig = try SGLRig(policy: .prp)
        var pair = try rig.controller.makeQueuePair()
        let forcedPRP = !pair.usesSGLs
        #expect(forcedPRP)
        let buffer = try patternBuffer(rig.device.dma, bytes: 4096, seed: 5)
        try pair.submitWrite(namespace: rig.namespace, lba: 0, blocks: 8, from: buffer.whole, token: 1)
        #expect(try complete(&pair).isSuccess)
        #expect(rig.device.statistics.sglTransfers == 0)
        try pair.setDataPointers(.sgl)
        let switched = pair.usesSGLs
        #expect(switched)
        try pair.submitRead(namespace: rig.namespace, lba: 0, blocks: 8, into: buffer.whole, token: 2)
        #expect(try complete(&pair).isSuccess)
        #expect(rig.device.statistics.sglTransfers == 1)
    }

    @Test func scatteredRequestIsOneCommandWithAnSGLSegment() throws {
        let rig = try SGLRig()
        var pair = try rig.controller.makeQueuePair()
        let a = try rig.device.dma.allocate(length: 4096)
        let b = try rig.device.dma.allocate(length: 8192)
        let c = try rig.device.dma.allocate(length: 4096)
        let expected = try patternBuffer(rig.device.dma, bytes: 4096, seed: 11)
        // Pieces at dword offsets inside their pages: no PRP could carry them in one command.
        let pieces = [a.slice(offset: 4, length: 1000), b.slice(offset: 4092, length: 2000), c.slice(offset: 400, length: 1096)]
        var offset = 0
        for piece in pieces {
            piece.bytes.copyMemory(from: UnsafeRawBufferPointer(rebasing: expected.bytes[offset..<(offset + piece.length)]))
            offset += piece.length
        }
        _ = try pieces.withUnsafeBufferPointer { slices throws(NVMeError) in
            try pair.submitWrite(namespace: rig.namespace, lba: 100, blocks: 8, from: slices, token: 1)
        }
        #expect(try complete(&pair).isSuccess)
        #expect(rig.device.statistics.io(0x01).commands == 1)
        #expect(rig.device.statistics.sglSegmentsRead == 1)
        let back = try rig.device.dma.allocate(length: 4096)
        try pair.submitRead(namespace: rig.namespace, lba: 100, blocks: 8, into: back.whole, token: 2)
        #expect(try complete(&pair).isSuccess)
        #expect(equalBytes(back.whole, expected.whole))
        // And read back scattered into the same pieces, cleared first.
        for piece in pieces { piece.bytes.initializeMemory(as: UInt8.self, repeating: 0) }
        _ = try pieces.withUnsafeBufferPointer { slices throws(NVMeError) in
            try pair.submitRead(namespace: rig.namespace, lba: 100, blocks: 8, into: slices, token: 3)
        }
        #expect(try complete(&pair).isSuccess)
        offset = 0
        for piece in pieces {
            #expect(piece.bytes.elementsEqual(expected.bytes[offset..<(offset + piece.length)]))
            offset += piece.length
        }
    }

    @Test func scatteredRequestWithPRPsNeedsPiecesThatMeetAtPageBoundaries() throws {
        let rig = try SGLRig(sgls: SGLSupport(rawValue: 0))
        var pair = try rig.controller.makeQueuePair()
        let a = try rig.device.dma.allocate(length: 4096)
        let b = try rig.device.dma.allocate(length: 8192)
        let c = try rig.device.dma.allocate(length: 4096)
        let expected = try patternBuffer(rig.device.dma, bytes: 3584 + 8192 + 512, seed: 12)
        let pieces = [a.slice(offset: 512, length: 3584), b.slice(offset: 0, length: 8192), c.slice(offset: 0, length: 512)]
        var offset = 0
        for piece in pieces {
            piece.bytes.copyMemory(from: UnsafeRawBufferPointer(rebasing: expected.bytes[offset..<(offset + piece.length)]))
            offset += piece.length
        }
        _ = try pieces.withUnsafeBufferPointer { slices throws(NVMeError) in
            try pair.submitWrite(namespace: rig.namespace, lba: 0, blocks: 24, from: slices, token: 1)
        }
        #expect(try complete(&pair).isSuccess)
        #expect(rig.device.statistics.io(0x01).commands == 1)
        let back = try rig.device.dma.allocate(length: expected.length)
        try pair.submitRead(namespace: rig.namespace, lba: 0, blocks: 24, into: back.whole, token: 2)
        #expect(try complete(&pair).isSuccess)
        #expect(equalBytes(back.whole, expected.whole))
        // Two pieces that meet inside a page: refused, with the reason, and nothing submitted.
        let odd = [a.slice(offset: 0, length: 1024), b.slice(offset: 1024, length: 1024)]
        #expect {
            try odd.withUnsafeBufferPointer { slices throws(NVMeError) in
                try pair.submitRead(namespace: rig.namespace, lba: 0, blocks: 4, into: slices, token: 3)
            }
        } throws: { "\($0)".contains("page boundary") }
        let untouched = pair.outstanding == 0 && pair.unpublishedSubmissions == 0
        #expect(untouched)
    }

    @Test func sliceCountAndTotalLengthAreChecked() throws {
        let rig = try SGLRig()
        var pair = try rig.controller.makeQueuePair()
        let buffer = try rig.device.dma.allocate(length: 2 << 20)
        let empty: [DMASlice] = []
        let tooMany = (0..<257).map { buffer.slice(offset: $0 * 512, length: 512) }
        let short = [buffer.slice(offset: 0, length: 512), buffer.slice(offset: 4096, length: 508)]
        let long = [buffer.slice(offset: 0, length: 512), buffer.slice(offset: 4096, length: 516)]
        let blank = [buffer.slice(offset: 0, length: 1024), buffer.slice(offset: 4096, length: 0)]
        for (slices, blocks) in [(empty, 1), (tooMany, 257), (short, 2), (long, 2), (blank, 2)] {
            #expect(throws: NVMeError.self) {
                try slices.withUnsafeBufferPointer { s throws(NVMeError) in
                    try pair.submitRead(namespace: rig.namespace, lba: 0, blocks: blocks, into: s, token: 1)
                }
            }
        }
        let untouched = pair.outstanding == 0 && pair.unpublishedSubmissions == 0
        #expect(untouched)
        // 256 slices are one command.
        let most = (0..<256).map { buffer.slice(offset: $0 * 8192 + 8, length: 512) }
        _ = try most.withUnsafeBufferPointer { s throws(NVMeError) in
            try pair.submitRead(namespace: rig.namespace, lba: 0, blocks: 256, into: s, token: 2)
        }
        #expect(try complete(&pair).isSuccess)
    }
}
