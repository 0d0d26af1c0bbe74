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

/// Hands out IOVA ranges from the apertures the IOMMU accepts.
///
/// The kernel reports valid ranges (`VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE`): on x86 the MSI window
/// 0xfee00000-0xfeefffff is a hole, and addresses above the IOMMU's width are refused. It also caps
/// the number of mappings (`dma_avail`, from `vfio_iommu_type1 dma_entry_limit`). First fit over a
/// sorted free list; freed ranges coalesce with their neighbours. Not thread-safe: `DMAAllocator`
/// guards it with a lock. Used at buffer allocation time, never per I/O.
///
/// **Quarantine.** A released range is not free at once: it waits behind the last
/// `quarantineLimit` releases (FIFO), so that a late device write through a stale IOVA hits
/// unmapped space and the IOMMU faults, instead of landing in the next owner's memory (first fit
/// alone hands the same IOVA straight back). When nothing else fits, the oldest quarantined
/// ranges are freed early rather than failing. (A range whose unmap failed is never released:
/// `DMAAllocator` keeps it live.)
public struct IOVAAllocator: Sendable {
    /// Free ranges, sorted and disjoint, never adjacent (always coalesced).
    public private(set) var free: [Range<UInt64>]
    /// Released ranges not yet free again, oldest first.
    public private(set) var quarantine: [Range<UInt64>] = []
    /// How many released ranges the quarantine holds before the oldest becomes free.
    public let quarantineLimit: Int
    /// Mappings still allowed, when the kernel reports a limit.
    public private(set) var mappingsAvailable: Int?
    /// Bytes currently handed out.
    public private(set) var bytesInUse: UInt64 = 0
    /// Every allocation's size by start, so a free of a wrong range is caught.
    private var live: [UInt64: UInt64] = [:]
    /// The apertures set by `restrict`, which released ranges are clipped to.
    private var allowedRanges: [Range<UInt64>]?

    /// - Parameters:
    ///   - ranges: valid IOVA apertures; overlapping ones are merged. The page at 0 is never handed
    ///     out, so that a zero IOVA in a descriptor is always a bug the IOMMU catches.
    ///   - mappingLimit: the kernel's `dma_avail`, if known.
    ///   - quarantineLimit: released ranges held back before reuse (0: reuse at once).
    public init(ranges: [Range<UInt64>], mappingLimit: Int? = nil, quarantineLimit: Int = IOVAAllocator.defaultQuarantineLimit) {
        precondition(quarantineLimit >= 0)
        self.quarantineLimit = quarantineLimit
        var sorted = ranges.map { r -> Range<UInt64> in
            r.lowerBound < 0x1000 ? Swift.min(0x1000, r.upperBound)..<r.upperBound : r
        }.filter { !$0.isEmpty }.sorted { $0.lowerBound < $1.lowerBound }
        var merged: [Range<UInt64>] = []
        for r in sorted {
            if let last = merged.last, r.lowerBound <= last.upperBound {
                merged[merged.count - 1] = last.lowerBound..<Swift.max(last.upperBound, r.upperBound)
            } else {
                merged.append(r)
            }
        }
        sorted = merged
        self.free = sorted
        self.mappingsAvailable = mappingLimit
    }

    /// Releases held back by default: enough that a buffer's IOVA outlives a burst of frees
    /// (a queue pair's rings and slabs), small enough that the list stays short.
    public static let defaultQuarantineLimit = 64

    /// Allocates `length` bytes aligned to `alignment` (a power of two). Throws `.iovaExhausted`
    /// when no free range fits, even after emptying the quarantine, or the mapping limit is reached.
    public mutating func allocate(length: Int, alignment: Int = 4096) throws(VFIOError) -> IOVA {
        precondition(length > 0 && alignment > 0 && alignment & (alignment - 1) == 0)
        if let available = mappingsAvailable, available <= 0 { throw .iovaExhausted(requested: length) }
        while true {
            if let iova = firstFit(length: length, alignment: alignment) { return iova }
            // Out of fresh space: the oldest quarantined range goes back first.
            guard !quarantine.isEmpty else { throw .iovaExhausted(requested: length) }
            makeFree(quarantine.removeFirst())
        }
    }

    /// First fit over the free list, or nil.
    private mutating func firstFit(length: Int, alignment: Int) -> IOVA? {
        let size = UInt64(length)
        let mask = UInt64(alignment) - 1
        for (index, range) in free.enumerated() {
            let (aligned, overflow) = range.lowerBound.addingReportingOverflow(mask)
            if overflow { continue }
            let start = aligned & ~mask
            guard start < range.upperBound, range.upperBound - start >= size else { continue }
            let end = start + size
            var pieces: [Range<UInt64>] = []
            if start > range.lowerBound { pieces.append(range.lowerBound..<start) }
            if end < range.upperBound { pieces.append(end..<range.upperBound) }
            free.replaceSubrange(index...index, with: pieces)
            live[start] = size
            bytesInUse += size
            if let available = mappingsAvailable { mappingsAvailable = available - 1 }
            return IOVA(start)
        }
        return nil
    }

    /// Returns a range handed out by `allocate`, after its unmap. It is quarantined (see the type),
    /// unless `quarantined` is false: a range that was never mapped (its map failed) is free at once.
    /// Freeing anything else is a programming error.
    public mutating func release(_ iova: IOVA, length: Int, quarantined: Bool = true) {
        let range = takeLive(iova, length: length)
        if let available = mappingsAvailable { mappingsAvailable = available + 1 }
        guard quarantined && quarantineLimit > 0 else { return makeFree(range) }
        quarantine.append(range)
        if quarantine.count > quarantineLimit { makeFree(quarantine.removeFirst()) }
    }

    /// Bytes released but still quarantined.
    public var quarantinedBytes: UInt64 { quarantine.reduce(0) { $0 + UInt64($1.count) } }

    /// Removes a live allocation's record; traps for a range that is not one.
    private mutating func takeLive(_ iova: IOVA, length: Int) -> Range<UInt64> {
        let start = iova.rawValue
        guard let size = live.removeValue(forKey: start), size == UInt64(length) else {
            preconditionFailure("IOVA \(iova) (\(length) bytes) was not allocated")
        }
        bytesInUse -= size
        return start..<(start + size)
    }

    /// Makes a released range free. After `restrict`, only the part still inside the allowed
    /// ranges is free again.
    private mutating func makeFree(_ range: Range<UInt64>) {
        for allowed in allowedRanges ?? [range] where allowed.overlaps(range) {
            insertFree(Swift.max(range.lowerBound, allowed.lowerBound)..<Swift.min(range.upperBound, allowed.upperBound))
        }
    }

    /// Puts `range` back into the sorted free list, coalescing it with both neighbours.
    private mutating func insertFree(_ range: Range<UInt64>) {
        var range = range
        let start = range.lowerBound
        var index = free.firstIndex { $0.lowerBound > start } ?? free.count
        if index > 0, free[index - 1].upperBound == range.lowerBound {
            range = free[index - 1].lowerBound..<range.upperBound
            free.remove(at: index - 1)
            index -= 1
        }
        if index < free.count, free[index].lowerBound == range.upperBound {
            range = range.lowerBound..<free[index].upperBound
            free.remove(at: index)
        }
        free.insert(range, at: index)
    }

    /// Keeps only the free space inside `ranges` (new limits from the IOMMU). Live allocations
    /// are left alone: whoever narrows the space has checked them (the kernel refuses an attach
    /// whose reserved regions overlap a mapping).
    public mutating func restrict(to ranges: [Range<UInt64>]) {
        allowedRanges = ranges
        var narrowed: [Range<UInt64>] = []
        for piece in free {
            for allowed in ranges where allowed.overlaps(piece) {
                narrowed.append(Swift.max(piece.lowerBound, allowed.lowerBound)..<Swift.min(piece.upperBound, allowed.upperBound))
            }
        }
        narrowed.sort { $0.lowerBound < $1.lowerBound }
        free = []
        for piece in narrowed {
            if let last = free.last, last.upperBound == piece.lowerBound {
                free[free.count - 1] = last.lowerBound..<piece.upperBound
            } else {
                free.append(piece)
            }
        }
    }

    /// Takes `range` out of the space for good: addresses the device claims for itself (an NVMe
    /// Controller Memory Buffer), where it would read or write its own memory instead of the
    /// buffer an IOVA there names. False, and nothing changed, when a live allocation overlaps it.
    public mutating func exclude(_ range: Range<UInt64>) -> Bool {
        guard !range.isEmpty else { return true }
        guard !live.contains(where: { (start, size) in (start..<(start &+ size)).overlaps(range) }) else { return false }
        var kept: [Range<UInt64>] = []
        for allowed in allowedRanges ?? [0..<UInt64.max] {
            if allowed.lowerBound < range.lowerBound { kept.append(allowed.lowerBound..<Swift.min(allowed.upperBound, range.lowerBound)) }
            if allowed.upperBound > range.upperBound { kept.append(Swift.max(allowed.lowerBound, range.upperBound)..<allowed.upperBound) }
        }
        restrict(to: kept.filter { !$0.isEmpty })
        return true
    }

    /// Number of live allocations.
    public var liveCount: Int { live.count }
}
