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

/// The emulated IOMMU: the controller reaches host memory only through mappings; anything else is
/// a recorded fault and a Data Transfer Error, never an access.
@Suite struct DMAFaultTests {
    @Test func readIntoAnUnmappedIOVAFaults() throws {
        let (host, queue) = try TestHost.ready()
        var read = SubmissionQueueEntry.read(namespaceID: 1, lba: 0, blocks: 1)
        read.prp1 = 0x7_0000_0000
        let cqe = queue.execute(read)
        #expect(cqe.status.matches(.dataTransferError))
        let fault = try #require(host.controller.dmaFaults.last)
        #expect(fault.iova == 0x7_0000_0000 && fault.length == 512)
        #expect(fault.direction == .deviceWrite && fault.reason == .unmapped)
    }

    @Test func writeFromAPartlyUnmappedBufferChangesNothing() throws {
        let (host, queue) = try TestHost.ready()
        let buffer = try host.controller.dma.allocate(length: 4096)
        buffer.fill(pattern(4096, seed: 9))
        // First page mapped, second page not: nothing may reach the media.
        var write = SubmissionQueueEntry.write(namespaceID: 1, lba: 0, blocks: 16)
        write.prp1 = buffer.iova.rawValue
        write.prp2 = 0x9_0000_0000
        #expect(queue.execute(write).status.matches(.dataTransferError))
        var read = SubmissionQueueEntry.read(namespaceID: 1, lba: 0, blocks: 8)
        read.prp1 = buffer.iova.rawValue
        #expect(queue.execute(read).status == .success)
        #expect(buffer.read(4096) == [UInt8](repeating: 0, count: 4096))
    }

    @Test func unmappedPRPListFaults() throws {
        let (host, queue) = try TestHost.ready()
        let buffer = try host.controller.dma.allocate(length: 16384)
        var read = SubmissionQueueEntry.read(namespaceID: 1, lba: 0, blocks: 24)
        read.prp1 = buffer.iova.rawValue
        read.prp2 = 0xA_0000_0000
        #expect(queue.execute(read).status.matches(.dataTransferError))
        #expect(host.controller.dmaFaults.last?.direction == .deviceRead)
    }

    @Test func aReleasedBufferIsNoLongerReachable() throws {
        let (host, queue) = try TestHost.ready()
        var iova: UInt64 = 0
        do {
            let buffer = try host.controller.dma.allocate(length: 4096)
            iova = buffer.iova.rawValue
        }
        var read = SubmissionQueueEntry.read(namespaceID: 1, lba: 0, blocks: 8)
        read.prp1 = iova
        #expect(queue.execute(read).status.matches(.dataTransferError))
        #expect(host.controller.iommu.faultCount == 1)
    }

    @Test func unmappedSubmissionQueueIsFatal() throws {
        let host = try TestHost()
        try host.enable()
        _ = host.setNumberOfQueues(1)
        let cqMemory = try host.controller.dma.allocate(length: 4096)
        #expect(host.adminCommand(.createIOCompletionQueue(id: 1, size: 16, baseIOVA: cqMemory.iova.rawValue, interruptsEnabled: false)).status == .success)
        #expect(host.adminCommand(.createIOSubmissionQueue(id: 1, size: 16, baseIOVA: 0xB_0000_0000, completionQueue: 1)).status == .success)
        host.bar.doorbell(at: 0x1000 + 2 * host.stride).ring(1)
        host.controller.service()
        #expect(host.status.controllerFatalStatus)
        #expect(host.controller.isHalted)
        #expect(host.controller.dmaFaults.last?.iova == 0xB_0000_0000)
    }

    @Test func apertureHasTheMSIHole() throws {
        let iommu = EmulatedIOMMU()
        #expect(iommu.iovaRanges.count == 2)
        #expect(!iommu.iovaRanges.contains { $0.overlaps(EmulatedIOMMU.msiWindow) })
        let page = UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 4096)
        defer { page.deallocate() }
        #expect(throws: VFIOError.self) { try iommu.map(address: page, length: 4096, iova: IOVA(0xFEE0_0000)) }
        #expect(throws: VFIOError.self) { try iommu.map(address: page, length: 4096, iova: IOVA(1 << 48)) }
        try iommu.map(address: page, length: 4096, iova: IOVA(0xFEF0_0000))
        #expect(throws: VFIOError.self) { try iommu.map(address: page, length: 4096, iova: IOVA(0xFEF0_0000)) }
        #expect(throws: VFIOError.self) { try iommu.unmap(iova: IOVA(0xFEF0_1000), length: 4096) }
        try iommu.unmap(iova: IOVA(0xFEF0_0000), length: 4096)
        #expect(iommu.mappingCount == 0)
    }

    @Test func allocatorSkipsTheHole() throws {
        // A small aperture below the hole forces the allocator to continue above it.
        let iommu = EmulatedIOMMU(ranges: [0xFED0_0000..<0xFEE0_0000, 0xFEF0_0000..<0x1_0000_0000])
        let allocator = DMAAllocator(mapper: iommu, policy: DMAMemoryPolicy(hugepages: .never))
        let a = try allocator.allocate(length: 1 << 20)
        let b = try allocator.allocate(length: 1 << 20)
        #expect(a.iova.rawValue == 0xFED0_0000)
        #expect(b.iova.rawValue >= 0xFEF0_0000)
        #expect(iommu.mappingCount == 2)
    }

    @Test func mappingLimitIsEnforced() throws {
        let iommu = EmulatedIOMMU(mappingLimit: 1)
        let allocator = DMAAllocator(mapper: iommu, policy: DMAMemoryPolicy(hugepages: .never))
        let a = try allocator.allocate(length: 4096)
        #expect(throws: VFIOError.self) { _ = try allocator.allocate(length: 4096) }
        _ = a
    }
}
