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

import NVMeEmulator
import NVMeSpec
import Testing
import VFIO

/// SGL data pointers (NVMe base 1.4, 4.4) on a controller that advertises them, and every way a
/// hostile SGL must end in the status the spec names, never a trap or an endless walk.
@Suite struct SGLTests {
    static func sglController(_ sgls: SGLSupport = .qemu) -> EmulatedNVMeConfiguration {
        var configuration = EmulatedNVMeConfiguration()
        configuration.sgls = sgls
        return configuration
    }

    /// A read or write of `blocks` 512-byte blocks at `lba` with `sgl1`.
    func command(write: Bool, lba: UInt64 = 0, blocks: Int, _ sgl1: SGLDescriptor) -> SubmissionQueueEntry {
        var sqe = write ? SubmissionQueueEntry.write(namespaceID: 1, lba: lba, blocks: blocks)
            : SubmissionQueueEntry.read(namespaceID: 1, lba: lba, blocks: blocks)
        sqe.dataPointerType = DataPointerType.sgl.rawValue
        sqe.sgl1 = sgl1
        return sqe
    }

    func store(_ descriptors: [SGLDescriptor], in buffer: borrowing DMABuffer, at offset: Int = 0) {
        for (i, d) in descriptors.enumerated() { d.store(to: buffer.address, at: offset + i * 16) }
    }

    @Test func identifyControllerAdvertisesConfiguredSGLS() throws {
        let (host, _) = try TestHost.ready(Self.sglController())
        let sink = try host.controller.dma.allocate(length: 4096)
        var identify = SubmissionQueueEntry.identify(cns: .controller)
        identify.prp1 = sink.iova.rawValue
        #expect(host.adminCommand(identify).status == .success)
        let id = try IdentifyController(bytes: UnsafeRawBufferPointer(start: sink.address, count: 4096))
        #expect(id.sgls == 0x0001_0001 && id.sglSupport.supported)
        // The default configuration is PRP-only: SGLS 0, and PSDT 01b is an invalid field.
        let (prpHost, prpQueue) = try TestHost.ready()
        var plain = SubmissionQueueEntry.identify(cns: .controller)
        let other = try prpHost.controller.dma.allocate(length: 4096)
        plain.prp1 = other.iova.rawValue
        #expect(prpHost.adminCommand(plain).status == .success)
        #expect(try IdentifyController(bytes: UnsafeRawBufferPointer(start: other.address, count: 4096)).sgls == 0)
        #expect(prpQueue.execute(command(write: false, blocks: 1, .dataBlock(address: other.iova.rawValue, length: 512)))
            .status.matches(.invalidFieldInCommand))
    }

    @Test func dataBlockInTheCommandMovesDataBothWays() throws {
        let (host, queue) = try TestHost.ready(Self.sglController())
        let source = try host.controller.dma.allocate(length: 16384)
        let sink = try host.controller.dma.allocate(length: 16384)
        let data = pattern(8192, seed: 3)
        // Byte offsets no PRP could carry: SGLS 01b has no alignment rule.
        source.fill(data, at: 1)
        #expect(queue.execute(command(write: true, lba: 40, blocks: 16, .dataBlock(address: source.iova.rawValue + 1, length: 8192))).status == .success)
        #expect(queue.execute(command(write: false, lba: 40, blocks: 16, .dataBlock(address: sink.iova.rawValue + 3, length: 8192))).status == .success)
        #expect(sink.read(8192, at: 3) == data)
    }

    @Test func lastSegmentScattersOneTransferOverThreeBuffers() throws {
        let (host, queue) = try TestHost.ready(Self.sglController())
        let a = try host.controller.dma.allocate(length: 4096)
        let b = try host.controller.dma.allocate(length: 8192)
        let c = try host.controller.dma.allocate(length: 4096)
        let list = try host.controller.dma.allocate(length: 4096)
        let data = pattern(6144, seed: 9)
        a.fill(Array(data[0..<1000]), at: 24)
        b.fill(Array(data[1000..<5000]), at: 4000)
        c.fill(Array(data[5000...]), at: 0)
        store([.dataBlock(address: a.iova.rawValue + 24, length: 1000),
               .dataBlock(address: b.iova.rawValue + 4000, length: 4000),
               .dataBlock(address: c.iova.rawValue, length: 1144)], in: list)
        #expect(queue.execute(command(write: true, lba: 7, blocks: 12, .lastSegment(address: list.iova.rawValue, descriptors: 3))).status == .success)
        let sink = try host.controller.dma.allocate(length: 8192)
        var read = SubmissionQueueEntry.read(namespaceID: 1, lba: 7, blocks: 12)
        (read.prp1, read.prp2) = (sink.iova.rawValue, sink.iova.rawValue + 4096)
        #expect(queue.execute(read).status == .success)
        #expect(sink.read(6144) == data)
    }

    @Test func segmentsChainUntilTheLastSegment() throws {
        let (host, queue) = try TestHost.ready(Self.sglController())
        let data = try host.controller.dma.allocate(length: 8192)
        let lists = try host.controller.dma.allocate(length: 4096)
        let bytes = pattern(4096, seed: 4)
        data.fill(bytes)
        // Segment 1 (at 0): a data block, then a Segment to segment 2 (at 512): a data block and a
        // Last Segment to segment 3 (at 1024): two data blocks.
        store([.dataBlock(address: data.iova.rawValue, length: 512),
               .segment(address: lists.iova.rawValue + 512, descriptors: 2)], in: lists)
        store([.dataBlock(address: data.iova.rawValue + 512, length: 1536),
               .lastSegment(address: lists.iova.rawValue + 1024, descriptors: 2)], in: lists, at: 512)
        store([.dataBlock(address: data.iova.rawValue + 2048, length: 0),
               .dataBlock(address: data.iova.rawValue + 2048, length: 2048)], in: lists, at: 1024)
        #expect(queue.execute(command(write: true, blocks: 8, .segment(address: lists.iova.rawValue, descriptors: 2))).status == .success)
        #expect(queue.execute(command(write: false, blocks: 8, .dataBlock(address: data.iova.rawValue + 4096, length: 4096))).status == .success)
        #expect(data.read(4096, at: 4096) == bytes)
    }

    @Test func bitBucketDiscardsPartOfARead() throws {
        let (host, queue) = try TestHost.ready(Self.sglController())
        let source = try host.controller.dma.allocate(length: 4096)
        let sink = try host.controller.dma.allocate(length: 4096)
        let list = try host.controller.dma.allocate(length: 4096)
        let data = pattern(4096, seed: 5)
        source.fill(data)
        #expect(queue.execute(command(write: true, blocks: 8, .dataBlock(address: source.iova.rawValue, length: 4096))).status == .success)
        sink.fill([UInt8](repeating: 0xAB, count: 4096))
        // The first 512 and the last 1024 bytes land; the 2560 between go into the bucket.
        store([.dataBlock(address: sink.iova.rawValue, length: 512), .bitBucket(length: 2560),
               .dataBlock(address: sink.iova.rawValue + 512, length: 1024)], in: list)
        #expect(queue.execute(command(write: false, blocks: 8, .lastSegment(address: list.iova.rawValue, descriptors: 3))).status == .success)
        #expect(sink.read(512) == Array(data[0..<512]))
        #expect(sink.read(1024, at: 512) == Array(data[3072...]))
        #expect(sink.read(2560, at: 1536) == [UInt8](repeating: 0xAB, count: 2560))
    }

    @Test func bitBucketIsRefusedForWritesAndWhereNotAdvertised() throws {
        let (host, queue) = try TestHost.ready(Self.sglController())
        let list = try host.controller.dma.allocate(length: 4096)
        store([.dataBlock(address: list.iova.rawValue + 2048, length: 512), .bitBucket(length: 512)], in: list)
        let withBucket = SGLDescriptor.lastSegment(address: list.iova.rawValue, descriptors: 2)
        #expect(queue.execute(command(write: true, blocks: 2, withBucket)).status.matches(.sglDescriptorTypeInvalid))
        let (otherHost, noBucket) = try TestHost.ready(Self.sglController(.supportedUnaligned))
        let otherList = try otherHost.controller.dma.allocate(length: 4096)
        store([.dataBlock(address: otherList.iova.rawValue + 2048, length: 512), .bitBucket(length: 512)], in: otherList)
        #expect(noBucket.execute(command(write: false, blocks: 2, .lastSegment(address: otherList.iova.rawValue, descriptors: 2)))
            .status.matches(.sglDescriptorTypeInvalid))
    }

    @Test func segmentPointingAtItselfEndsWithInvalidNumberOfDescriptors() throws {
        let (host, queue) = try TestHost.ready(Self.sglController())
        let list = try host.controller.dma.allocate(length: 4096)
        // A zero-length data block then a Segment back to the same list: an endless chain.
        store([.dataBlock(address: list.iova.rawValue, length: 0), .segment(address: list.iova.rawValue, descriptors: 2)], in: list)
        let status = queue.execute(command(write: false, blocks: 1, .segment(address: list.iova.rawValue, descriptors: 2))).status
        #expect(status.matches(.invalidNumberOfSGLDescriptors))
    }

    @Test func misplacedOrMalformedSegmentDescriptorsAreInvalid() throws {
        let (host, queue) = try TestHost.ready(Self.sglController())
        let list = try host.controller.dma.allocate(length: 4096)
        let data = list.iova.rawValue + 2048
        // A Segment descriptor that is not the last of its list.
        store([.lastSegment(address: list.iova.rawValue + 1024, descriptors: 1), .dataBlock(address: data, length: 512)], in: list)
        #expect(queue.execute(command(write: false, blocks: 1, .lastSegment(address: list.iova.rawValue, descriptors: 2)))
            .status.matches(.invalidSGLSegmentDescriptor))
        // A Segment inside the last segment.
        store([.dataBlock(address: data, length: 256), .segment(address: list.iova.rawValue + 1024, descriptors: 1)], in: list)
        #expect(queue.execute(command(write: false, blocks: 1, .lastSegment(address: list.iova.rawValue, descriptors: 2)))
            .status.matches(.invalidSGLSegmentDescriptor))
        // A Segment (not Last) whose list ends without chaining on.
        store([.dataBlock(address: data, length: 512)], in: list)
        #expect(queue.execute(command(write: false, blocks: 1, .segment(address: list.iova.rawValue, descriptors: 1)))
            .status.matches(.invalidSGLSegmentDescriptor))
        // Lengths that are not a whole number of descriptors, or none.
        for length: UInt32 in [0, 8, 24] {
            let bad = SGLDescriptor(address: list.iova.rawValue, length: length, dword3: 0x3000_0000)
            #expect(queue.execute(command(write: false, blocks: 1, bad)).status.matches(.invalidSGLSegmentDescriptor))
        }
        // A segment the IOMMU does not map.
        #expect(queue.execute(command(write: false, blocks: 1, .lastSegment(address: 0x7_0000_0000, descriptors: 1)))
            .status.matches(.dataTransferError))
    }

    @Test func lengthMismatchTypesAndSubtypesAreRefused() throws {
        let (host, queue) = try TestHost.ready(Self.sglController())
        let buffer = try host.controller.dma.allocate(length: 8192)
        let address = buffer.iova.rawValue
        // Shorter and longer than the 1024-byte transfer (SGLS bit 18 is not advertised).
        #expect(queue.execute(command(write: false, blocks: 2, .dataBlock(address: address, length: 1000))).status.matches(.dataSGLLengthInvalid))
        #expect(queue.execute(command(write: false, blocks: 2, .dataBlock(address: address, length: 1536))).status.matches(.dataSGLLengthInvalid))
        // Keyed, transport, vendor and reserved types; an offset sub type.
        for dword3: UInt32 in [0x4000_0000, 0x5000_0000, 0xF000_0000, 0x7000_0000, 0x0100_0000] {
            let d = SGLDescriptor(address: address, length: 1024, dword3: dword3)
            #expect(queue.execute(command(write: false, blocks: 2, d)).status.matches(.sglDescriptorTypeInvalid), "\(dword3)")
        }
        // A data block that wraps past 2^64.
        #expect(queue.execute(command(write: false, blocks: 2, .dataBlock(address: UInt64.max - 100, length: 1024))).status.matches(.dataTransferError))
        // PSDT 10b (MPTR as a segment) and 11b are not offered.
        var psdt2 = command(write: false, blocks: 2, .dataBlock(address: address, length: 1024))
        psdt2.dataPointerType = DataPointerType.sglMetadataSegment.rawValue
        #expect(queue.execute(psdt2).status.matches(.invalidFieldInCommand))
        psdt2.dataPointerType = 3
        #expect(queue.execute(psdt2).status.matches(.invalidFieldInCommand))
    }

    @Test func dwordAlignedSGLSRefusesByteGranularDataBlocks() throws {
        let (host, queue) = try TestHost.ready(Self.sglController(.supportedDwordAligned))
        let buffer = try host.controller.dma.allocate(length: 8192)
        let list = try host.controller.dma.allocate(length: 4096)
        store([.dataBlock(address: buffer.iova.rawValue, length: 510), .dataBlock(address: buffer.iova.rawValue + 1024, length: 2)], in: list)
        #expect(queue.execute(command(write: false, blocks: 1, .lastSegment(address: list.iova.rawValue, descriptors: 2)))
            .status.matches(.sglDataBlockGranularityInvalid))
        #expect(queue.execute(command(write: false, blocks: 1, .dataBlock(address: buffer.iova.rawValue + 2, length: 512)))
            .status.matches(.sglDataBlockGranularityInvalid))
        #expect(queue.execute(command(write: false, blocks: 1, .dataBlock(address: buffer.iova.rawValue + 4, length: 512))).status == .success)
    }

    @Test func datasetManagementRangesComeThroughAnSGL() throws {
        let (host, queue) = try TestHost.ready(Self.sglController())
        let buffer = try host.controller.dma.allocate(length: 4096)
        buffer.fill(pattern(4096, seed: 1))
        #expect(queue.execute(command(write: true, lba: 64, blocks: 8, .dataBlock(address: buffer.iova.rawValue, length: 4096))).status == .success)
        let range = DatasetManagementRange(lengthInBlocks: 8, startingLBA: 64)
        let ranges = try host.controller.dma.allocate(length: 4096)
        try range.encode(into: UnsafeMutableRawBufferPointer(start: ranges.address + 5, count: 16))
        var trim = SubmissionQueueEntry.datasetManagement(namespaceID: 1, ranges: 1)
        trim.dataPointerType = DataPointerType.sgl.rawValue
        trim.sgl1 = .dataBlock(address: ranges.iova.rawValue + 5, length: 16)
        #expect(queue.execute(trim).status == .success)
        #expect(queue.execute(command(write: false, lba: 64, blocks: 8, .dataBlock(address: buffer.iova.rawValue, length: 4096))).status == .success)
        #expect(buffer.read(4096) == [UInt8](repeating: 0, count: 4096))
    }
}
