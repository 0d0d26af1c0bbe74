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

import Logging
import NVMe
import NVMeEmulator
import Testing
import VFIO

/// Freed DMA memory is not handed out again at once (issue 16 items 2 and 11): a late device write
/// through a stale IOVA must fault in the IOMMU instead of landing in the memory of whoever
/// allocated next, and memory whose unmap failed is never recycled.
@Suite struct DMAQuarantineTests {
    /// A stray write of `length` bytes by the emulated device at `iova`, through its IOMMU: true
    /// when it reached memory, false when the IOMMU refused it (and recorded a fault).
    static func lateDeviceWrite(_ iommu: EmulatedIOMMU, at iova: IOVA, length: Int = 64) -> Bool {
        iommu.withTranslation { translator -> Bool in
            guard let host = translator.translate(iova.rawValue, length: length, direction: .deviceWrite) else { return false }
            host.initializeMemory(as: UInt8.self, repeating: 0xEE, count: length)
            return true
        }
    }

    @Test func lateWriteToAFreedBufferFaultsInsteadOfLandingInTheNextBuffer() throws {
        let rig = try Rig()
        let device = rig.device
        var freed: IOVA
        do {
            let first = try device.dma.allocate(length: 4096)
            freed = first.iova
        }
        let next = try device.dma.allocate(length: 4096)
        #expect(next.iova != freed, "the IOVA just freed was handed out again at once")
        let faultsBefore = device.iommu.faultCount
        #expect(!Self.lateDeviceWrite(device.iommu, at: freed), "a late write through the stale IOVA reached memory")
        #expect(device.iommu.faultCount == faultsBefore + 1)
        #expect(device.iommu.faults.last?.iova == freed.rawValue)
        #expect(next.bytes.allSatisfy { $0 == 0 }, "the next owner's memory was written")
        try rig.controller.close()
    }

    @Test func aNewQueuePairDoesNotReuseTheRingsOfTheOneDroppedBeforeIt() throws {
        let rig = try Rig()
        let iommu = rig.device.iommu
        let before = Set(iommu.mappedRanges)
        var pair: QueuePair<EmulatedNVMeController>? = try rig.controller.makeQueuePair()
        let firstPair = Set(iommu.mappedRanges).subtracting(before)
        #expect(!firstPair.isEmpty)
        pair = nil
        _ = pair
        let second = try rig.controller.makeQueuePair()
        let secondPair = Set(iommu.mappedRanges).subtracting(before)
        let reused = secondPair.filter { r in firstPair.contains { $0.overlaps(r) } }
        #expect(reused.isEmpty, "the new queue pair's memory sits at IOVAs of the dropped one: \(reused)")
        // The dropped pair's completion queue, written late by the device: refused, not delivered
        // into the new pair's rings.
        for range in firstPair {
            #expect(!Self.lateDeviceWrite(iommu, at: IOVA(range.lowerBound), length: 16))
        }
        _ = consume second
        try rig.controller.close()
    }

    @Test func quarantinedIOVAsAreReusedWhenNothingElseIsLeft() throws {
        // Four pages in all: the quarantine gives way rather than failing an allocation.
        let iommu = EmulatedIOMMU(ranges: [0x1000..<0x5000])
        let allocator = DMAAllocator(mapper: iommu, policy: DMAMemoryPolicy(hugepages: .never))
        let first = try allocator.allocate(length: 4096)
        let oldest = first.iova
        var a: DMABuffer? = consume first
        var b: DMABuffer? = try allocator.allocate(length: 4096)
        let c = try allocator.allocate(length: 4096)
        let d = try allocator.allocate(length: 4096)
        a = nil
        b = nil
        _ = a
        _ = b
        #expect(allocator.quarantinedRanges.count == 2)
        // The oldest release comes back first.
        let e = try allocator.allocate(length: 4096)
        #expect(e.iova == oldest)
        #expect(allocator.liveMappings == 3)
        _ = consume c
        _ = consume d
        _ = consume e
    }

    @Test func failedUnmapStaysOutOfReuseEvenWhenTheQuarantineGivesWay() throws {
        let capture = LogCapture()
        let iommu = EmulatedIOMMU(ranges: [0x1000..<0x5000])
        let allocator = DMAAllocator(mapper: iommu, policy: DMAMemoryPolicy(hugepages: .never), logger: capture.logger)
        let stuck: IOVA
        do {
            let buffer = try allocator.allocate(length: 4096)
            stuck = buffer.iova
            buffer.bytes.initializeMemory(as: UInt8.self, repeating: 0x11)
            iommu.failUnmaps(1)
        }
        #expect(capture.contains(.warning, "unmap of 4096 bytes at IOVA \(stuck) failed"))
        #expect(allocator.unmapFailures == 1 && allocator.keptMappings == 1)
        #expect(iommu.isMapped(stuck), "the mapping the kernel kept is still there")
        // The three other pages can be had; the stuck one never comes back, quarantine or not.
        let first = try allocator.allocate(length: 4096)
        let second = try allocator.allocate(length: 4096)
        let third = try allocator.allocate(length: 4096)
        #expect(first.iova != stuck && second.iova != stuck && third.iova != stuck)
        #expect(throws: VFIOError.iovaExhausted(requested: 4096)) { _ = try allocator.allocate(length: 4096) }
        _ = consume first
        _ = consume second
        _ = consume third
        // The memory behind it was not returned to the system: a late device write still lands
        // in the old buffer's pages (still mapped in the process), not in a stranger's.
        #expect(DMAQuarantineTests.lateDeviceWrite(iommu, at: stuck))
        #expect(iommu.faultCount == 0)
    }
}

/// A data buffer belongs to the device whose IOMMU mapped it (issue 16 item 3): handing another
/// device's slice to a controller is refused before anything reaches the device.
@Suite struct DMAOwnershipTests {
    @Test func sliceOfAnotherControllersMemoryIsRefusedAtSubmit() throws {
        let a = try Rig()
        let b = try Rig()
        let foreign = try patternBuffer(a.device.dma, bytes: 4096, seed: 7)
        #expect(foreign.domain != b.device.dma.domain)
        var pair = try b.controller.makeQueuePair()
        let expected = NVMeError.foreignDMAMemory(iova: foreign.iova.rawValue, buffer: a.device.dma.domain, device: b.device.dma.domain)
        do {
            try pair.submitRead(namespace: b.namespace, lba: 0, blocks: 8, into: foreign.whole, token: 1)
            Issue.record("a read into device A's memory was submitted to device B")
        } catch {
            #expect(error == expected)
        }
        do {
            try pair.submitWrite(namespace: b.namespace, lba: 0, blocks: 8, from: foreign.whole, token: 2)
            Issue.record("a write from device A's memory was submitted to device B")
        } catch {
            #expect(error == expected)
        }
        // Nothing was queued: no command id taken, no submission written.
        check(pair.outstanding == 0 && pair.unpublishedSubmissions == 0)
        // The blocking API and admin commands refuse it the same way.
        let ns = try b.controller.namespace(b.namespace.id)
        #expect(throws: expected) { try ns.read(lba: 0, blocks: 8, into: foreign.whole) }
        #expect(throws: expected) {
            try b.controller.adminCommand(.identify(cns: .controller), data: foreign.whole, name: "Identify Controller")
        }
        // The copy-A-to-B program done right: B's own buffer works.
        let own = try b.device.dma.allocate(length: 4096)
        own.bytes.copyMemory(from: UnsafeRawBufferPointer(foreign.bytes))
        try ns.write(lba: 0, blocks: 8, from: own.whole, using: &pair)
        _ = consume pair
        try a.controller.close()
        try b.controller.close()
    }
}

/// `#expect` on a condition read from a `~Copyable` value.
private func check(_ condition: Bool, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(condition, sourceLocation: sourceLocation)
}
