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

/// The capability chains that VFIO appends to `VFIO_IOMMU_GET_INFO` and
/// `VFIO_DEVICE_GET_REGION_INFO` answers (`struct vfio_info_cap_header` in `<linux/vfio.h>`):
/// `{ u16 id; u16 version; u32 next; }`, `next` an offset from the start of the info buffer,
/// 0 at the end.
///
/// The buffer comes from the kernel, but the parser still checks every offset and length before
/// reading, and only follows `next` forward, so a corrupt chain ends the walk instead of looping
/// or reading out of bounds.
public struct VFIOCapability: Sendable, Equatable {
    public var id: UInt16
    public var version: UInt16
    /// Offset of the header from the start of the info buffer.
    public var offset: Int
}

enum VFIOCapabilityChain {
    static let headerSize = 8

    /// The capabilities from `first` on. Throws `.deviceMisbehaved` for an offset outside the
    /// buffer or a chain that does not move forward.
    static func walk(_ buffer: UnsafeRawBufferPointer, first: Int) throws(VFIOError) -> [VFIOCapability] {
        var result: [VFIOCapability] = []
        var offset = first
        while offset != 0 {
            guard offset > 0, offset % 4 == 0, offset <= buffer.count - headerSize else {
                throw .deviceMisbehaved("VFIO capability at offset \(offset) outside the \(buffer.count)-byte info buffer")
            }
            let id = buffer.loadUnaligned(fromByteOffset: offset, as: UInt16.self)
            let version = buffer.loadUnaligned(fromByteOffset: offset + 2, as: UInt16.self)
            let next = Int(buffer.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self))
            result.append(VFIOCapability(id: id, version: version, offset: offset))
            guard next == 0 || next > offset else {
                throw .deviceMisbehaved("VFIO capability chain goes back from \(offset) to \(next)")
            }
            offset = next
        }
        return result
    }

    /// `struct vfio_iommu_type1_info_cap_iova_range`: `u32 nr_iovas; u32 reserved;` then
    /// `{ u64 start; u64 end; }` pairs, `end` inclusive. Returned as half-open ranges (an end of
    /// 2^64-1 loses its last byte, which no allocation can use anyway).
    static func iovaRanges(_ buffer: UnsafeRawBufferPointer, at capability: VFIOCapability) throws(VFIOError) -> [Range<UInt64>] {
        let base = capability.offset + headerSize
        let count = try UInt32Field(buffer, base, "IOVA range count")
        var ranges: [Range<UInt64>] = []
        for i in 0..<Int(count) {
            let entry = base + 8 + i * 16
            guard entry + 16 <= buffer.count else {
                throw .deviceMisbehaved("IOVA range \(i) of \(count) runs past the \(buffer.count)-byte info buffer")
            }
            let start = buffer.loadUnaligned(fromByteOffset: entry, as: UInt64.self)
            let end = buffer.loadUnaligned(fromByteOffset: entry + 8, as: UInt64.self)
            guard end >= start else { throw .deviceMisbehaved("IOVA range \(i) ends (\(end)) before it starts (\(start))") }
            ranges.append(start..<(end == UInt64.max ? end : end + 1))
        }
        return ranges
    }

    /// `struct vfio_iommu_type1_info_dma_avail`: `u32 avail`, the mappings still allowed.
    static func dmaAvailable(_ buffer: UnsafeRawBufferPointer, at capability: VFIOCapability) throws(VFIOError) -> Int {
        Int(try UInt32Field(buffer, capability.offset + headerSize, "dma_avail"))
    }

    /// `struct vfio_region_info_cap_sparse_mmap`: `u32 nr_areas; u32 reserved;` then
    /// `{ u64 offset; u64 size; }` areas, relative to the region.
    static func sparseAreas(_ buffer: UnsafeRawBufferPointer, at capability: VFIOCapability) throws(VFIOError) -> [Range<UInt64>] {
        let base = capability.offset + headerSize
        let count = try UInt32Field(buffer, base, "sparse mmap area count")
        var areas: [Range<UInt64>] = []
        for i in 0..<Int(count) {
            let entry = base + 8 + i * 16
            guard entry + 16 <= buffer.count else {
                throw .deviceMisbehaved("sparse mmap area \(i) of \(count) runs past the \(buffer.count)-byte info buffer")
            }
            let offset = buffer.loadUnaligned(fromByteOffset: entry, as: UInt64.self)
            let size = buffer.loadUnaligned(fromByteOffset: entry + 8, as: UInt64.self)
            let (end, overflow) = offset.addingReportingOverflow(size)
            guard !overflow else { throw .deviceMisbehaved("sparse mmap area \(i) wraps around") }
            areas.append(offset..<end)
        }
        return areas
    }

    /// `struct vfio_region_info_cap_type`: `u32 type; u32 subtype`.
    static func regionType(_ buffer: UnsafeRawBufferPointer, at capability: VFIOCapability) throws(VFIOError) -> VFIORegionInfo.RegionType {
        let base = capability.offset + headerSize
        return VFIORegionInfo.RegionType(type: try UInt32Field(buffer, base, "region type"),
                                         subtype: try UInt32Field(buffer, base + 4, "region subtype"))
    }

    private static func UInt32Field(_ buffer: UnsafeRawBufferPointer, _ offset: Int, _ what: String) throws(VFIOError) -> UInt32 {
        guard offset >= 0, offset + 4 <= buffer.count else {
            throw .deviceMisbehaved("\(what) at offset \(offset) outside the \(buffer.count)-byte info buffer")
        }
        return buffer.loadUnaligned(fromByteOffset: offset, as: UInt32.self)
    }
}

/// A buffer for an info ioctl whose answer may not fit: VFIO sets `argsz` to the size it needs
/// (header plus capability chain) and the caller asks again with that much. Zeroed, 8-byte aligned.
struct InfoBuffer: ~Copyable {
    let pointer: UnsafeMutableRawPointer
    let count: Int

    init(count: Int) {
        self.count = count
        pointer = .allocate(byteCount: count, alignment: 8)
        pointer.initializeMemory(as: UInt8.self, repeating: 0, count: count)
    }

    deinit { pointer.deallocate() }

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: pointer, count: count) }

    /// Sends `header` (whose first field is `argsz`), growing the buffer once if the kernel says
    /// it needs more, and at most to `limit` bytes.
    static func query<Header>(_ header: Header, limit: Int = 1 << 16,
                              _ call: (UnsafeMutableRawPointer) throws(VFIOError) -> Void) throws(VFIOError) -> InfoBuffer {
        var size = MemoryLayout<Header>.size
        for _ in 0..<2 {
            let buffer = InfoBuffer(count: size)
            buffer.pointer.storeBytes(of: header, as: Header.self)
            buffer.pointer.storeBytes(of: UInt32(size), as: UInt32.self)
            try call(buffer.pointer)
            let needed = Int(buffer.pointer.load(as: UInt32.self))
            if needed <= size { return buffer }
            guard needed <= limit else {
                throw .deviceMisbehaved("VFIO info needs \(needed) bytes, more than the \(limit) allowed")
            }
            size = needed
        }
        throw .deviceMisbehaved("VFIO info size kept growing")
    }
}
