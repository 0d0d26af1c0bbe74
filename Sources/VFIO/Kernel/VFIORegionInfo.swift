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

/// A device region as `VFIO_DEVICE_GET_REGION_INFO` describes it (`struct vfio_region_info` and
/// its capability chain). For vfio-pci, indices 0-5 are BAR0-BAR5, 6 the ROM, 7 config space,
/// 8 VGA; size 0 means not implemented.
public struct VFIORegionInfo: Sendable, Equatable {
    public struct RegionType: Sendable, Equatable {
        public var type: UInt32
        public var subtype: UInt32
    }

    public var index: Int
    public var size: UInt64
    /// Where the region starts in the device fd (for pread/pwrite and mmap).
    public var offset: UInt64
    public var isReadable: Bool
    public var isWritable: Bool
    /// `VFIO_REGION_INFO_FLAG_MMAP`.
    public var isMappable: Bool
    /// `VFIO_REGION_INFO_CAP_SPARSE_MMAP`: only these areas (relative to the region) may be
    /// mapped; nil when the capability is absent (the whole region may be).
    public var sparseAreas: [Range<UInt64>]?
    /// `VFIO_REGION_INFO_CAP_MSIX_MAPPABLE`: the MSI-X table in this BAR may be mapped too.
    public var msixMappable: Bool
    /// `VFIO_REGION_INFO_CAP_TYPE`, for device-specific regions.
    public var regionType: RegionType?
    /// Every capability in the chain, including ones not decoded above.
    public var capabilities: [VFIOCapability]

    public init(index: Int, size: UInt64, offset: UInt64, isReadable: Bool, isWritable: Bool, isMappable: Bool,
                sparseAreas: [Range<UInt64>]? = nil, msixMappable: Bool = false, regionType: RegionType? = nil,
                capabilities: [VFIOCapability] = []) {
        self.index = index
        self.size = size
        self.offset = offset
        self.isReadable = isReadable
        self.isWritable = isWritable
        self.isMappable = isMappable
        self.sparseAreas = sparseAreas
        self.msixMappable = msixMappable
        self.regionType = regionType
        self.capabilities = capabilities
    }

    /// vfio-pci's fixed region indices (`VFIO_PCI_*_REGION_INDEX`).
    public static let romIndex = 6
    public static let configIndex = 7
    public static let vgaIndex = 8

    /// Decodes an answer of `VFIO_DEVICE_GET_REGION_INFO`, capability chain included.
    static func decode(_ buffer: UnsafeRawBufferPointer) throws(VFIOError) -> VFIORegionInfo {
        guard buffer.count >= MemoryLayout<vfio_region_info>.size else {
            throw .deviceMisbehaved("region info of \(buffer.count) bytes")
        }
        let raw = buffer.loadUnaligned(as: vfio_region_info.self)
        var info = VFIORegionInfo(
            index: Int(raw.index), size: raw.size, offset: raw.offset,
            isReadable: raw.flags & UInt32(VFIO_REGION_INFO_FLAG_READ) != 0,
            isWritable: raw.flags & UInt32(VFIO_REGION_INFO_FLAG_WRITE) != 0,
            isMappable: raw.flags & UInt32(VFIO_REGION_INFO_FLAG_MMAP) != 0)
        // Untrusted: a region that wraps around the fd's offset space is refused.
        guard raw.offset.addingReportingOverflow(raw.size).overflow == false else {
            throw .deviceMisbehaved("region \(raw.index) at offset \(raw.offset) with size \(raw.size) wraps around")
        }
        if raw.flags & UInt32(VFIO_REGION_INFO_FLAG_CAPS) != 0, raw.cap_offset != 0 {
            let chain = try VFIOCapabilityChain.walk(buffer, first: Int(raw.cap_offset))
            info.capabilities = chain
            for capability in chain {
                switch Int32(capability.id) {
                case VFIO_REGION_INFO_CAP_SPARSE_MMAP:
                    info.sparseAreas = try VFIOCapabilityChain.sparseAreas(buffer, at: capability)
                case VFIO_REGION_INFO_CAP_MSIX_MAPPABLE:
                    info.msixMappable = true
                case VFIO_REGION_INFO_CAP_TYPE:
                    info.regionType = try VFIOCapabilityChain.regionType(buffer, at: capability)
                default:
                    break
                }
            }
        }
        return info
    }
}

/// An interrupt index as `VFIO_DEVICE_GET_IRQ_INFO` describes it (`struct vfio_irq_info`).
/// For vfio-pci, index 0 is INTx, 1 MSI, 2 MSI-X, 3 error, 4 request.
public struct VFIOIRQInfo: Sendable, Equatable {
    public var index: Int
    public var count: Int
    /// `VFIO_IRQ_INFO_EVENTFD`: can signal an eventfd.
    public var supportsEventFD: Bool
    /// `VFIO_IRQ_INFO_MASKABLE`: MASK/UNMASK actions work (INTx on vfio-pci).
    public var isMaskable: Bool
    /// `VFIO_IRQ_INFO_AUTOMASKED`: masked after each signal until unmasked (level-triggered INTx).
    public var isAutomasked: Bool
    /// `VFIO_IRQ_INFO_NORESIZE`: vectors are enabled as one set (MSI, MSI-X).
    public var isNoResize: Bool

    public init(index: Int, count: Int, supportsEventFD: Bool, isMaskable: Bool, isAutomasked: Bool, isNoResize: Bool) {
        self.index = index
        self.count = count
        self.supportsEventFD = supportsEventFD
        self.isMaskable = isMaskable
        self.isAutomasked = isAutomasked
        self.isNoResize = isNoResize
    }
}

/// How a BAR is mapped: one mmap of the whole region when allowed, else one mmap per sparse
/// area placed at its offset inside a reserved (inaccessible) window, so that register offsets
/// stay offsets from one base. The `MMIORegion` handed out covers the mapped run that starts at
/// offset 0, which for NVMe holds the registers and the doorbells (the MSI-X table, which a
/// sparse layout leaves out, sits after them).
struct BARMappingPlan: Equatable {
    /// Region-relative ranges to mmap, page-aligned, sorted.
    var areas: [Range<UInt64>]
    /// Bytes of address space for the whole window (the region size rounded up to pages).
    var windowLength: UInt64
    /// Bytes from offset 0 that are mapped without a gap.
    var accessibleLength: UInt64
    /// Whether the areas are placed inside a reserved window (sparse) or the one area is the window.
    var isSparse: Bool

    static func make(_ region: VFIORegionInfo, pageSize: UInt64) throws(VFIOError) -> BARMappingPlan {
        guard region.size > 0 else { throw .regionNotMappable(index: region.index, reason: "the region is not implemented (size 0)") }
        guard region.isMappable else {
            throw .regionNotMappable(index: region.index, reason: "vfio-pci does not allow mmap of it (an I/O port BAR, or a BAR smaller than a page)")
        }
        let window = (region.size + pageSize - 1) / pageSize * pageSize
        guard let sparse = region.sparseAreas else {
            return BARMappingPlan(areas: [0..<window], windowLength: window, accessibleLength: region.size, isSparse: false)
        }
        var areas: [Range<UInt64>] = []
        for area in sparse.sorted(by: { $0.lowerBound < $1.lowerBound }) where !area.isEmpty {
            // Untrusted: each area must lie inside the region and start on a page.
            guard area.upperBound <= window, area.lowerBound % pageSize == 0 else {
                throw .deviceMisbehaved("sparse mmap area \(area) of region \(region.index) (size \(region.size)) is outside it or not page-aligned")
            }
            let end = min((area.upperBound + pageSize - 1) / pageSize * pageSize, window)
            if let last = areas.last, area.lowerBound < last.upperBound {
                throw .deviceMisbehaved("sparse mmap areas \(last) and \(area) of region \(region.index) overlap")
            }
            areas.append(area.lowerBound..<end)
        }
        var accessible: UInt64 = 0
        for area in areas where area.lowerBound == accessible { accessible = area.upperBound }
        accessible = min(accessible, region.size)
        guard accessible > 0 else {
            throw .regionNotMappable(index: region.index, reason: "no mmappable area starts at offset 0 (sparse areas: \(areas))")
        }
        return BARMappingPlan(areas: areas, windowLength: window, accessibleLength: accessible, isSparse: true)
    }
}
