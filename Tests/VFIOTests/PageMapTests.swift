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
import CShims
import Synchronization
import Testing
@testable import VFIO

/// `/proc/self/pagemap` entries and the physical addresses no-IOMMU DMA takes from them.
@Suite struct PageMapTests {
    static let present: UInt64 = 1 << 63
    static let swapped: UInt64 = 1 << 62

    static func entries(_ frames: [UInt64], flags: UInt64 = present) -> [PageMapEntry] {
        frames.map { PageMapEntry(rawValue: flags | $0) }
    }

    @Test func entryBitsFollowTheKernelDocumentation() {
        // Present, exclusively mapped (56) and soft-dirty (55) set, frame 0x12345.
        let entry = PageMapEntry(rawValue: 1 << 63 | 1 << 56 | 1 << 55 | 0x12345)
        #expect(entry.isPresent && !entry.isSwapped)
        #expect(entry.frameNumber == 0x12345)
        #expect(PageMapEntry(rawValue: 1 << 62 | 0x7).isSwapped)
        #expect(!PageMapEntry(rawValue: 0).isPresent)
        // Bits 0-54 only: bit 54 belongs to the frame number, bit 55 does not.
        #expect(PageMapEntry(rawValue: 1 << 63 | 1 << 54).frameNumber == 1 << 54)
    }

    @Test func consecutiveFramesGiveTheFirstFramesAddressPlusTheOffset() throws {
        let address = try PageMap.physicalAddress(of: 0x7f00_0000_0123, length: 8192, entries: Self.entries([0x500, 0x501, 0x502]), pageSize: 4096)
        #expect(address == 0x50_0123)
        // A hugepage: 512 base pages on consecutive frames.
        let huge = try PageMap.physicalAddress(of: 0x7f00_0020_0000, length: 2 << 20, entries: Self.entries((0..<512).map { 0x4_0000 + $0 }), pageSize: 4096)
        #expect(huge == 0x4000_0000)
    }

    @Test func aGapBetweenFramesRefusesTheBuffer() {
        #expect(throws: VFIOError.physicalMemory("the 12288-byte buffer is not physically contiguous (page 2 is on another frame run); reserve 2 MiB hugepages: echo 512 > /proc/sys/vm/nr_hugepages")) {
            _ = try PageMap.physicalAddress(of: 0x1000, length: 12288, entries: Self.entries([0x500, 0x501, 0x900]), pageSize: 4096)
        }
    }

    @Test func zeroFramesMeanTheProcessLacksCapSysAdmin() {
        #expect(throws: VFIOError.physicalMemory("/proc/self/pagemap hides frame numbers from this process: reading them needs CAP_SYS_ADMIN; run as root")) {
            _ = try PageMap.physicalAddress(of: 0x1000, length: 4096, entries: Self.entries([0]), pageSize: 4096)
        }
    }

    @Test func absentOrSwappedPagesAreRefused() {
        #expect(throws: VFIOError.self) {
            _ = try PageMap.physicalAddress(of: 0x1000, length: 4096, entries: Self.entries([0x500], flags: 0), pageSize: 4096)
        }
        #expect(throws: VFIOError.self) {
            _ = try PageMap.physicalAddress(of: 0x1000, length: 4096, entries: Self.entries([0x500], flags: Self.present | Self.swapped), pageSize: 4096)
        }
    }

    @Test func tooFewEntriesForTheRangeAreRefused() {
        // 0x1800 + 4096 bytes spans two pages.
        #expect(throws: VFIOError.physicalMemory("pagemap gave 1 entries for 2 pages")) {
            _ = try PageMap.physicalAddress(of: 0x1800, length: 4096, entries: Self.entries([0x500]), pageSize: 4096)
        }
    }

    /// Reads this process's own pagemap: resident after mlock; frame numbers only for root.
    @Test func aLockedPageOfThisProcessIsPresentInItsPagemap() throws {
        let memory = try #require(shim_mmap_anonymous(4096, 0))
        defer { _ = shim_munmap(memory, 4096) }
        memory.storeBytes(of: 0xa5, as: UInt8.self)
        guard mlock(memory, 4096) == 0 else {
            Issue.record("mlock of one page failed: errno \(errno)")
            return
        }
        defer { _ = munlock(memory, 4096) }
        let entries = try PageMap.entries(of: UInt(bitPattern: memory), pages: 1, pageSize: 4096)
        #expect(entries.count == 1 && entries[0].isPresent)
        if geteuid() == 0 {
            #expect(entries[0].frameNumber != 0)
        } else {
            #expect(entries[0].frameNumber == 0, "the kernel hides frames from unprivileged readers")
        }
    }

    /// The no-IOMMU allocator path: pinned memory whose IOVA is its physical address, never mapped.
    @Test(.enabled(if: geteuid() == 0, "reading frame numbers needs CAP_SYS_ADMIN"))
    func noIOMMUBuffersCarryTheirPhysicalAddressAndAreNeverMapped() throws {
        let mapper = PhysicalMapper()
        let dma = DMAAllocator(mapper: mapper, policy: DMAMemoryPolicy(hugepages: .never))
        let buffer = try dma.allocate(length: 100)
        #expect(buffer.length == 4096)
        #expect(buffer.iova.rawValue != 0 && buffer.iova.rawValue % 4096 == 0)
        let entries = try PageMap.entries(of: UInt(bitPattern: buffer.address), pages: 1, pageSize: 4096)
        #expect(buffer.iova.rawValue == entries[0].frameNumber * 4096)
        #expect(mapper.calls.withLock { $0 } == 0)
    }

    final class PhysicalMapper: DMAMapper {
        let iovaRanges: [Range<UInt64>] = []
        let mappingLimit: Int? = nil
        let pinsMemory = true
        let calls = Mutex(0)
        var usesPhysicalAddresses: Bool { true }
        func map(address: UnsafeMutableRawPointer, length: Int, iova: IOVA) throws(VFIOError) { calls.withLock { $0 += 1 } }
        func unmap(iova: IOVA, length: Int) throws(VFIOError) { calls.withLock { $0 += 1 } }
    }
}
