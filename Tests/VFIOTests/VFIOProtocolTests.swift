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

import CShims
import Testing
@testable import VFIO

/// The byte-level parts of the VFIO ABI: ioctl numbers, capability chains, `vfio_irq_set`.
@Suite struct VFIOProtocolTests {
    /// `_IO(';', 100 + n)` from <linux/vfio.h>, pinned as rust-vmm's vfio-ioctls does.
    @Test func ioctlNumbersMatchTheKernelABI() {
        #expect(SHIM_VFIO_GET_API_VERSION == 0x3b64)
        #expect(SHIM_VFIO_CHECK_EXTENSION == 0x3b65)
        #expect(SHIM_VFIO_SET_IOMMU == 0x3b66)
        #expect(SHIM_VFIO_GROUP_GET_STATUS == 0x3b67)
        #expect(SHIM_VFIO_GROUP_SET_CONTAINER == 0x3b68)
        #expect(SHIM_VFIO_GROUP_UNSET_CONTAINER == 0x3b69)
        #expect(SHIM_VFIO_GROUP_GET_DEVICE_FD == 0x3b6a)
        #expect(SHIM_VFIO_DEVICE_GET_INFO == 0x3b6b)
        #expect(SHIM_VFIO_DEVICE_GET_REGION_INFO == 0x3b6c)
        #expect(SHIM_VFIO_DEVICE_GET_IRQ_INFO == 0x3b6d)
        #expect(SHIM_VFIO_DEVICE_SET_IRQS == 0x3b6e)
        #expect(SHIM_VFIO_DEVICE_RESET == 0x3b6f)
        #expect(SHIM_VFIO_IOMMU_GET_INFO == 0x3b70)
        #expect(SHIM_VFIO_IOMMU_MAP_DMA == 0x3b71)
        #expect(SHIM_VFIO_IOMMU_UNMAP_DMA == 0x3b72)
    }

    @Test func structLayoutsMatchTheKernelABI() {
        #expect(MemoryLayout<vfio_region_info>.size == 32)
        #expect(MemoryLayout<vfio_irq_info>.size == 16)
        #expect(MemoryLayout<vfio_iommu_type1_info>.size == 24)
        #expect(MemoryLayout<vfio_iommu_type1_dma_map>.size == 32)
        #expect(MemoryLayout<vfio_iommu_type1_dma_unmap>.size == 24)
        #expect(MemoryLayout<vfio_group_status>.size == 8)
    }

    /// A little-endian byte buffer to build info answers in.
    struct Bytes {
        var bytes: [UInt8]
        init(count: Int) { bytes = [UInt8](repeating: 0, count: count) }
        mutating func put<T: FixedWidthInteger>(_ value: T, at offset: Int) {
            withUnsafeBytes(of: value.littleEndian) { raw in
                for (i, b) in raw.enumerated() { bytes[offset + i] = b }
            }
        }
        mutating func header(at offset: Int, id: UInt16, version: UInt16 = 1, next: UInt32) {
            put(id, at: offset)
            put(version, at: offset + 2)
            put(next, at: offset + 4)
        }
    }

    @Test func capabilityChainIsWalkedInOrder() throws {
        var b = Bytes(count: 64)
        b.header(at: 24, id: 3, next: 40)
        b.header(at: 40, id: 1, version: 2, next: 0)
        let chain = try b.bytes.withUnsafeBytes { raw throws(VFIOError) in try VFIOCapabilityChain.walk(raw, first: 24) }
        #expect(chain == [VFIOCapability(id: 3, version: 1, offset: 24), VFIOCapability(id: 1, version: 2, offset: 40)])
    }

    @Test func capabilityChainGoingBackwardsIsRefusedNotLooped() {
        var b = Bytes(count: 64)
        b.header(at: 24, id: 3, next: 40)
        b.header(at: 40, id: 1, next: 24)
        #expect(throws: VFIOError.self) {
            try b.bytes.withUnsafeBytes { raw throws(VFIOError) in try VFIOCapabilityChain.walk(raw, first: 24) }
        }
    }

    @Test func capabilityOutsideTheBufferIsRefused() {
        var b = Bytes(count: 48)
        b.header(at: 24, id: 3, next: 44)
        #expect(throws: VFIOError.self) {
            try b.bytes.withUnsafeBytes { raw throws(VFIOError) in try VFIOCapabilityChain.walk(raw, first: 24) }
        }
    }

    @Test func iovaRangesAreDecodedAsHalfOpenRanges() throws {
        var b = Bytes(count: 24 + 16 + 32)
        b.header(at: 24, id: UInt16(VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE), next: 0)
        b.put(UInt32(2), at: 32)
        b.put(UInt64(0), at: 40); b.put(UInt64(0xfedf_ffff), at: 48)
        b.put(UInt64(0xfef0_0000), at: 56); b.put(UInt64.max, at: 64)
        let ranges = try b.bytes.withUnsafeBytes { raw throws(VFIOError) in
            try VFIOCapabilityChain.iovaRanges(raw, at: VFIOCapability(id: 1, version: 1, offset: 24))
        }
        #expect(ranges == [0..<0xfee0_0000, 0xfef0_0000..<UInt64.max])
    }

    @Test func iovaRangeCountLargerThanTheBufferIsRefused() {
        var b = Bytes(count: 24 + 16 + 16)
        b.header(at: 24, id: 1, next: 0)
        b.put(UInt32(1000), at: 32)
        #expect(throws: VFIOError.self) {
            try b.bytes.withUnsafeBytes { raw throws(VFIOError) in
                try VFIOCapabilityChain.iovaRanges(raw, at: VFIOCapability(id: 1, version: 1, offset: 24))
            }
        }
    }

    @Test func regionInfoDecodesFlagsSparseAreasAndMSIXMappable() throws {
        var b = Bytes(count: 32 + 16 + 32 + 8)
        let flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE | VFIO_REGION_INFO_FLAG_MMAP | VFIO_REGION_INFO_FLAG_CAPS
        b.put(UInt32(b.bytes.count), at: 0)
        b.put(UInt32(flags), at: 4)
        b.put(UInt32(0), at: 8)          // index
        b.put(UInt32(32), at: 12)        // cap_offset
        b.put(UInt64(0x4000), at: 16)    // size
        b.put(UInt64(0), at: 24)         // offset
        b.header(at: 32, id: UInt16(VFIO_REGION_INFO_CAP_SPARSE_MMAP), next: 80)
        b.put(UInt32(2), at: 40)
        b.put(UInt64(0), at: 48); b.put(UInt64(0x2000), at: 56)
        b.put(UInt64(0x3000), at: 64); b.put(UInt64(0x1000), at: 72)
        b.header(at: 80, id: UInt16(VFIO_REGION_INFO_CAP_MSIX_MAPPABLE), next: 0)
        let info = try b.bytes.withUnsafeBytes { raw throws(VFIOError) in try VFIORegionInfo.decode(raw) }
        #expect(info.size == 0x4000 && info.isReadable && info.isWritable && info.isMappable)
        #expect(info.sparseAreas == [0..<0x2000, 0x3000..<0x4000])
        #expect(info.msixMappable)
        #expect(info.capabilities.map(\.id) == [1, 3])
    }

    static func region(size: UInt64, mappable: Bool = true, sparse: [Range<UInt64>]? = nil) -> VFIORegionInfo {
        VFIORegionInfo(index: 0, size: size, offset: 0, isReadable: true, isWritable: true, isMappable: mappable, sparseAreas: sparse)
    }

    @Test func wholeBARIsMappedWhenThereAreNoSparseAreas() throws {
        let plan = try BARMappingPlan.make(Self.region(size: 0x4000), pageSize: 4096)
        #expect(plan == BARMappingPlan(areas: [0..<0x4000], windowLength: 0x4000, accessibleLength: 0x4000, isSparse: false))
    }

    @Test func subPageBARIsMappedAsOnePage() throws {
        let plan = try BARMappingPlan.make(Self.region(size: 0x100), pageSize: 4096)
        #expect(plan.windowLength == 4096 && plan.accessibleLength == 0x100)
    }

    @Test func sparseBARExposesTheRunFromOffsetZero() throws {
        // Registers and doorbells in [0, 0x2000), the MSI-X table left out, PBA page after it.
        let plan = try BARMappingPlan.make(Self.region(size: 0x4000, sparse: [0x3000..<0x4000, 0..<0x2000]), pageSize: 4096)
        #expect(plan.areas == [0..<0x2000, 0x3000..<0x4000])
        #expect(plan.accessibleLength == 0x2000)
        #expect(plan.windowLength == 0x4000 && plan.isSparse)
    }

    @Test func adjacentSparseAreasJoinIntoOneAccessibleRun() throws {
        let plan = try BARMappingPlan.make(Self.region(size: 0x4000, sparse: [0..<0x1000, 0x1000..<0x3000]), pageSize: 4096)
        #expect(plan.accessibleLength == 0x3000)
    }

    @Test func unmappableRegionsAreRefusedWithTheReason() {
        #expect(throws: VFIOError.self) { try BARMappingPlan.make(Self.region(size: 0), pageSize: 4096) }
        #expect(throws: VFIOError.self) { try BARMappingPlan.make(Self.region(size: 0x4000, mappable: false), pageSize: 4096) }
        // Nothing mapped at offset 0: the registers would be unreachable.
        #expect(throws: VFIOError.self) { try BARMappingPlan.make(Self.region(size: 0x4000, sparse: [0x1000..<0x2000]), pageSize: 4096) }
    }

    @Test func malformedSparseAreasAreRefused() {
        for sparse: [Range<UInt64>] in [[0..<0x5000], [0x800..<0x1000], [0..<0x2000, 0x1000..<0x3000]] {
            #expect(throws: VFIOError.self, "\(sparse)") {
                try BARMappingPlan.make(Self.region(size: 0x4000, sparse: sparse), pageSize: 4096)
            }
        }
    }

    @Test func irqSetRequestCarriesEventFDsAfterTheHeader() {
        let fds: [Int32] = [7, 9]
        let data = fds.withUnsafeBytes { Array($0) }
        let request = VFIODevice.irqSetRequest(flags: UInt32(VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER),
                                               index: 2, start: 0, count: 2, data: data)
        func word(_ i: Int) -> UInt32 { request.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self) } }
        #expect(request.count == 28)
        #expect(word(0) == 28)            // argsz
        #expect(word(1) == 0x24)          // DATA_EVENTFD | ACTION_TRIGGER
        #expect(word(2) == 2)             // MSI-X index
        #expect(word(3) == 0 && word(4) == 2)
        #expect(word(5) == 7 && word(6) == 9)
    }

    @Test func irqDisableRequestIsAHeaderWithCountZero() {
        let request = VFIODevice.irqSetRequest(flags: UInt32(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER),
                                               index: 1, start: 0, count: 0)
        #expect(request == [20, 0, 0, 0, 0x21, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    }
}
