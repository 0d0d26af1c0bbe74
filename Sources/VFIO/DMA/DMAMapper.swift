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

/// The IOMMU side of DMA: makes host memory reachable by the device at an IOVA, and revokes it.
///
/// A real VFIO container implements it with `VFIO_IOMMU_MAP_DMA`/`VFIO_IOMMU_UNMAP_DMA`; the
/// emulated device implements it with its own translation table, through which every emulated DMA
/// access goes. An iommufd backend would be a third peer. Called when buffers are allocated and
/// released, never per I/O.
public protocol DMAMapper: AnyObject, Sendable {
    /// IOVA apertures the IOMMU accepts (`VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE`).
    var iovaRanges: [Range<UInt64>] { get }
    /// How many more mappings the kernel allows (`dma_avail`), if it says.
    var mappingLimit: Int? { get }
    /// Whether mapping pins the pages and counts against RLIMIT_MEMLOCK (true for VFIO type1).
    var pinsMemory: Bool { get }
    /// Maps `length` bytes at `address` for device reads and writes at `iova`.
    func map(address: UnsafeMutableRawPointer, length: Int, iova: IOVA) throws(VFIOError)
    /// Removes the mapping made at `iova`.
    func unmap(iova: IOVA, length: Int) throws(VFIOError)
    /// Whether nothing translates DMA (VFIO no-IOMMU): the device uses physical addresses, so a
    /// buffer's IOVA is the physical address of pinned, physically contiguous memory
    /// (`DMAAllocator.allocatePhysical`), and `map`/`unmap` are never called.
    var usesPhysicalAddresses: Bool { get }
}

extension DMAMapper {
    public var usesPhysicalAddresses: Bool { false }
}
