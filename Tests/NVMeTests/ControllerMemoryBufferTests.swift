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

/// I/O submission queues in the Controller Memory Buffer (QEMU's `cmb_size_mb`): placed there on
/// request, fetched by the controller from BAR2, with a fallback to host memory, and every
/// CMBLOC/CMBSZ value checked before it is used.
@Suite struct ControllerMemoryBufferTests {
    static func controller(
        mode: EmulationMode = .stepped, bytes: Int = 1 << 20, forged: ForgedControllerMemoryBuffer? = nil, inBuffer: Bool = true
    ) throws -> (EmulatedNVMeController, Controller<EmulatedNVMeController>) {
        var configuration = EmulatedNVMeConfiguration(
            namespaces: [EmulatedNamespace(blockSize: 512, capacityInBlocks: 16384)], maxIOQueuePairs: 4, mode: mode)
        configuration.controllerMemoryBufferBytes = bytes
        configuration.forgedControllerMemoryBuffer = forged
        let device = try EmulatedNVMeController(configuration: configuration)
        var options = ControllerOptions(ioQueuePairs: 4, ioQueueEntries: 64, ioTimeoutMilliseconds: 5000)
        options.submissionQueuesInControllerMemory = inBuffer
        return (device, try Controller(device: device, options: options))
    }

    /// BIR 2, offset 0 (CMBLOC); SQS, 4 KiB units (CMBSZ).
    static func forged(bar: UInt32 = 2, offsetUnits: UInt32 = 0, sizeUnit: UInt32 = 0, units: UInt32, sqs: Bool = true) -> ForgedControllerMemoryBuffer {
        ForgedControllerMemoryBuffer(location: bar | offsetUnits << 12, size: (sqs ? 1 : 0) | sizeUnit << 8 | units << 12)
    }

    @Test func bufferIsFoundValidatedAndReported() throws {
        let (device, controller) = try Self.controller()
        let info = try #require(controller.controllerMemoryBuffer)
        #expect(info.bar == 2 && info.offset == 0 && info.bytes == 1 << 20)
        #expect(info.size.submissionQueues && !info.size.completionQueues)
        // The controller address is BAR2's bus address, and no DMA buffer may get an IOVA there.
        #expect(info.controllerAddress == 0x4000_0000_0000)
        let buffer = try device.dma.allocate(length: 4096)
        #expect(!(info.controllerAddress..<(info.controllerAddress + info.bytes)).contains(buffer.iova.rawValue))
        #expect(controller.controllerMemoryBufferUnusable == nil)
        try controller.close()
    }

    /// Writes and reads back through a pair whose SQ is in the buffer, in every completion mode,
    /// against the threaded controller; the entries are where the controller fetched them.
    @Test(arguments: [CompletionMode.poll, .interrupt, .hybrid])
    func ioThroughASubmissionQueueInTheBuffer(mode: CompletionMode) throws {
        let (device, controller) = try Self.controller(mode: .threaded)
        var pair = try controller.makeQueuePair(interrupts: mode.usesInterrupts)
        #expect(pair.submissionQueueInControllerMemory == true)
        let ns = try controller.namespace(1)
        let out = try patternBuffer(device.dma, bytes: 64 << 10, seed: 18)
        let back = try device.dma.allocate(length: 64 << 10)
        for round in 0..<8 {
            let lba = UInt64(round * 128)
            try ns.write(lba: lba, blocks: 128, from: out.whole, using: &pair, mode: mode)
            try ns.read(lba: lba, blocks: 128, into: back.whole, using: &pair, mode: mode)
            #expect(equalBytes(out.whole, back.whole), "round \(round)")
        }
        // Slot 0 of the SQ, at the start of BAR2, holds the first command: a Write (01h).
        let bar2 = try device.region(bar: 2)
        #expect(bar2.load8(at: 0) == 0x01)
        #expect(device.dmaFaults.isEmpty)
        try controller.close()
    }

    @Test func pairsFallBackToHostMemoryWhenTheBufferIsFull() throws {
        // 8 KiB: two SQs of 64 entries (4 KiB each), the third goes to host memory.
        let (device, controller) = try Self.controller(forged: Self.forged(units: 2))
        var a = try controller.makeQueuePair()
        let b = try controller.makeQueuePair()
        var c = try controller.makeQueuePair()
        let both = a.submissionQueueInControllerMemory && b.submissionQueueInControllerMemory
        #expect(both)
        #expect(c.submissionQueueInControllerMemory == false)
        let ns = try controller.namespace(1)
        let buffer = try device.dma.allocate(length: 4096)
        try ns.read(lba: 0, blocks: 8, into: buffer.whole, using: &a)
        try ns.read(lba: 0, blocks: 8, into: buffer.whole, using: &c)
        // A dropped pair gives its piece back.
        _ = consume b
        let d = try controller.makeQueuePair()
        #expect(d.submissionQueueInControllerMemory == true)
        // Asked per pair: host memory even with the option on.
        let e = try controller.makeQueuePair(submissionQueueInControllerMemory: false)
        #expect(e.submissionQueueInControllerMemory == false)
        try controller.close()
    }

    @Test func bufferWithoutSubmissionQueueSupportIsNotUsedForThem() throws {
        let (_, controller) = try Self.controller(forged: Self.forged(units: 256, sqs: false))
        #expect(controller.controllerMemoryBuffer?.size.submissionQueues == false)
        let pair = try controller.makeQueuePair()
        #expect(pair.submissionQueueInControllerMemory == false)
        try controller.close()
    }

    /// Device values that would map the wrong memory: each is refused with a reason, and the
    /// controller still works with its SQs in host memory.
    @Test(arguments: [
        (ControllerMemoryBufferTests.forged(bar: 0, units: 1), "BAR0"),
        (ControllerMemoryBufferTests.forged(bar: 1, units: 1), "BIR 1"),
        (ControllerMemoryBufferTests.forged(bar: 4, units: 1), "BAR4"),
        (ControllerMemoryBufferTests.forged(units: 257), "BAR2, which has"),
        (ControllerMemoryBufferTests.forged(offsetUnits: 256, units: 1), "BAR2, which has"),
        (ControllerMemoryBufferTests.forged(offsetUnits: 1 << 19, sizeUnit: 6, units: 1), "BAR2, which has"),
        (ControllerMemoryBufferTests.forged(sizeUnit: 7, units: 1), "reserved"),
    ])
    func hostileBufferRegistersAreRefused(forged: ForgedControllerMemoryBuffer, reason: String) throws {
        let (device, controller) = try Self.controller(forged: forged)
        #expect(controller.controllerMemoryBuffer == nil)
        let why = try #require(controller.controllerMemoryBufferUnusable)
        #expect(why.contains(reason), "\(why)")
        var pair = try controller.makeQueuePair()
        #expect(pair.submissionQueueInControllerMemory == false)
        let buffer = try device.dma.allocate(length: 4096)
        try controller.namespace(1).read(lba: 0, blocks: 8, into: buffer.whole, using: &pair)
        try controller.close()
    }

    @Test func controllerWithoutBufferReportsNone() throws {
        let (_, controller) = try Self.controller(bytes: 0)
        #expect(controller.controllerMemoryBuffer == nil && controller.controllerMemoryBufferUnusable == nil)
        let pair = try controller.makeQueuePair()
        #expect(pair.submissionQueueInControllerMemory == false)
        try controller.close()
    }

    /// After a controller reset the pair is rebuilt with its SQ at the same controller address.
    @Test func submissionQueueInTheBufferSurvivesAReset() throws {
        let (device, controller) = try Self.controller()
        var pair = try controller.makeQueuePair()
        let ns = try controller.namespace(1)
        let out = try patternBuffer(device.dma, bytes: 4096, seed: 5)
        let back = try device.dma.allocate(length: 4096)
        try ns.write(lba: 40, blocks: 8, from: out.whole, using: &pair)
        try controller.reset()
        try ns.read(lba: 40, blocks: 8, into: back.whole, using: &pair)
        #expect(pair.statistics.rebuilds == 1)
        #expect(pair.submissionQueueInControllerMemory == true)
        #expect(equalBytes(out.whole, back.whole))
        try controller.close()
    }
}
