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

import VFIO

/// The emulated device's IOMMU: a table of IOVA → host address mappings, the peer of a VFIO type1
/// container (`VFIO_IOMMU_MAP_DMA`/`VFIO_IOMMU_UNMAP_DMA`).
///
/// Every emulated device (NVMe, the e1000e NIC) sits behind one; VFIO itself knows only the
/// `DMAMapper` protocol. The translation entry points are `@inlinable` so an emulator's per-I/O
/// accesses stay specialised.
///
/// The emulated controller reaches host memory only through `access(...)`, which translates under
/// the table's lock and keeps the lock while the bytes are copied: an unmap (which precedes the
/// `munmap` in `DMABuffer.deinit`) waits for a transfer in flight, so the controller can never touch
/// memory that was unmapped. An access no mapping covers is refused and recorded as a `DMAFault`.
///
/// The aperture has a hole at the x86 MSI window (0xfee00000-0xfeefffff), as the kernel reports it
/// through `VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE`, so the IOVA allocator's range logic is exercised.
public final class EmulatedIOMMU: DMAMapper {
    /// The x86 interrupt-remapping window that no IOVA may use.
    public static let msiWindow: Range<UInt64> = 0xFEE0_0000..<0xFEF0_0000
    /// 48-bit IOVA space, like a 4-level VT-d page table.
    public static let defaultRanges: [Range<UInt64>] = [0..<msiWindow.lowerBound, msiWindow.upperBound..<(1 << 48)]

    public let iovaRanges: [Range<UInt64>]
    public let mappingLimit: Int?
    public var pinsMemory: Bool { false }

    /// Faults kept for inspection; older ones are dropped past this many (the count keeps going).
    public static let faultHistory = 1024

    @usableFromInline
    struct Mapping {
        @usableFromInline var iova: UInt64
        @usableFromInline var length: UInt64
        /// The host address as an integer: the table is Sendable state behind a lock, and the
        /// pointer is only rebuilt inside a locked translation.
        @usableFromInline var host: UInt
        @usableFromInline var end: UInt64 { iova + length }
        @usableFromInline init(iova: UInt64, length: UInt64, host: UInt) {
            self.iova = iova
            self.length = length
            self.host = host
        }
    }

    @usableFromInline
    struct Table {
        /// Sorted by IOVA, disjoint.
        @usableFromInline var mappings: [Mapping] = []
        @usableFromInline var faults: [DMAFault] = []
        @usableFromInline var faultCount = 0
        /// Index of the last mapping hit: consecutive accesses usually fall in the same buffer.
        @usableFromInline var lastHit = 0
        /// Unmaps still to refuse (`failUnmaps`).
        @usableFromInline var failingUnmaps = 0

        @usableFromInline init() {}

        func find(_ iova: UInt64, _ length: Int) -> Int? { EmulatedIOMMU.find(mappings, hint: lastHit, iova, length) }

        @usableFromInline
        mutating func record(_ fault: DMAFault) {
            faultCount += 1
            if faults.count >= EmulatedIOMMU.faultHistory { faults.removeFirst() }
            faults.append(fault)
        }
    }

    /// A `TSanVisibleMutex`: the device thread and the driver's thread (an unmap) contend for it.
    @usableFromInline let table = TSanVisibleMutex(Table())

    @inlinable
    func locked<R: Sendable, E: Error>(_ body: (inout Table) throws(E) -> R) throws(E) -> R {
        try table.withLock { (t: inout sending Table) throws(E) -> sending R in try body(&t) }
    }

    /// - Parameters:
    ///   - ranges: apertures; the default is 48 bits with the MSI hole.
    ///   - mappingLimit: like type1's `dma_entry_limit` (65535 by default in Linux).
    public init(ranges: [Range<UInt64>] = EmulatedIOMMU.defaultRanges, mappingLimit: Int? = 65535) {
        self.iovaRanges = ranges
        self.mappingLimit = mappingLimit
    }

    public func map(address: UnsafeMutableRawPointer, length: Int, iova: IOVA) throws(VFIOError) {
        let start = iova.rawValue
        guard length > 0, start & 0xFFF == 0, length & 0xFFF == 0, UInt(bitPattern: address) & 0xFFF == 0 else {
            throw .outOfRange(what: "emulated IOMMU mapping (must be page aligned) at IOVA", value: start, limit: 0)
        }
        let (end, overflow) = start.addingReportingOverflow(UInt64(length))
        guard !overflow, iovaRanges.contains(where: { $0.lowerBound <= start && end <= $0.upperBound }) else {
            throw .outOfRange(what: "IOVA outside the emulated IOMMU's apertures", value: start, limit: iovaRanges.last?.upperBound ?? 0)
        }
        let hostAddress = UInt(bitPattern: address)
        try locked { (t) throws(VFIOError) in
            if let limit = mappingLimit, t.mappings.count >= limit {
                throw .system(operation: "emulated VFIO_IOMMU_MAP_DMA (dma_entry_limit \(limit))", errno: 28)  // ENOSPC
            }
            let index = t.mappings.firstIndex { $0.iova >= start } ?? t.mappings.count
            if index < t.mappings.count, t.mappings[index].iova < end {
                throw .system(operation: "emulated VFIO_IOMMU_MAP_DMA at \(iova): overlaps a mapping", errno: 17)  // EEXIST
            }
            if index > 0, t.mappings[index - 1].end > start {
                throw .system(operation: "emulated VFIO_IOMMU_MAP_DMA at \(iova): overlaps a mapping", errno: 17)
            }
            t.mappings.insert(Mapping(iova: start, length: UInt64(length), host: hostAddress), at: index)
        }
    }

    public func unmap(iova: IOVA, length: Int) throws(VFIOError) {
        try locked { (t) throws(VFIOError) in
            if t.failingUnmaps > 0 {
                t.failingUnmaps -= 1
                throw .system(operation: "emulated VFIO_IOMMU_UNMAP_DMA at \(iova) (\(length) bytes): injected failure, mapping kept", errno: 5)  // EIO
            }
            guard let index = t.mappings.firstIndex(where: { $0.iova == iova.rawValue }),
                  t.mappings[index].length == UInt64(length) else {
                throw .system(operation: "emulated VFIO_IOMMU_UNMAP_DMA at \(iova) (\(length) bytes): no such mapping", errno: 2)  // ENOENT
            }
            t.mappings.remove(at: index)
            t.lastHit = 0
        }
    }

    /// Makes the next `count` unmaps fail and keep their mapping, as an unmap the kernel refuses
    /// would: the driver must then neither reuse the IOVA nor free the memory.
    public func failUnmaps(_ count: Int) {
        locked { $0.failingUnmaps = max(0, count) }
    }

    /// Whether a mapping starts at `iova` (for tests).
    public func isMapped(_ iova: IOVA) -> Bool {
        locked { t in t.mappings.contains { $0.iova == iova.rawValue } }
    }

    /// The IOVA ranges mapped now, in order (for tests).
    public var mappedRanges: [Range<UInt64>] { locked { t in t.mappings.map { $0.iova..<$0.end } } }

    /// Live mappings (for tests).
    public var mappingCount: Int { locked { $0.mappings.count } }

    /// Faults recorded so far, oldest first (the last `faultHistory`).
    public var faults: [DMAFault] { locked { $0.faults } }

    /// Every fault since creation or the last `clearFaults()`.
    public var faultCount: Int { locked { $0.faultCount } }

    public func clearFaults() {
        locked {
            $0.faults.removeAll()
            $0.faultCount = 0
        }
    }

    /// Records a fault the device raised without an access (bus master off, fault plan).
    public func recordFault(_ fault: DMAFault) {
        locked { $0.record(fault) }
    }

    /// Binary search for the mapping that covers all of `[iova, iova+length)`, trying `hint` first.
    @inlinable
    static func find(_ mappings: [Mapping], hint: Int, _ iova: UInt64, _ length: Int) -> Int? {
        guard length >= 0 else { return nil }
        let len = UInt64(length)
        func covers(_ m: Mapping) -> Bool { iova >= m.iova && iova < m.end && len <= m.end - iova }
        if hint < mappings.count, covers(mappings[hint]) { return hint }
        var low = 0, high = mappings.count
        while low < high {
            let mid = (low + high) / 2
            if mappings[mid].end <= iova { low = mid + 1 } else { high = mid }
        }
        guard low < mappings.count, covers(mappings[low]) else { return nil }
        return low
    }

    /// Runs `body` with the IOMMU locked, handing it a translator for the device's accesses. Several
    /// accesses (a PRP list walk and the data it points to) see one consistent table, and no
    /// unmap can take memory away until `body` returns.
    @inlinable
    public func withTranslation<R: Sendable>(_ body: (inout Translator) -> R) -> R {
        locked { t in
            var translator = Translator(table: t)
            let result = body(&translator)
            for fault in translator.faults { t.record(fault) }
            t.lastHit = translator.lastHit
            return result
        }
    }

    /// Translation inside one locked section. Lookups that fail are recorded as faults when the
    /// section ends.
    public struct Translator: ~Copyable {
        @usableFromInline let mappings: [Mapping]
        @usableFromInline var lastHit: Int
        @usableFromInline var faults: [DMAFault] = []

        @usableFromInline init(table: Table) {
            mappings = table.mappings
            lastHit = table.lastHit
        }

        /// The host address of `[iova, iova+length)` if one mapping covers it all; otherwise nil and
        /// a fault is recorded.
        @inlinable
        public mutating func translate(_ iova: UInt64, length: Int, direction: DMAFault.Direction) -> UnsafeMutableRawPointer? {
            if length > 0, let index = EmulatedIOMMU.find(mappings, hint: lastHit, iova, length) {
                lastHit = index
                return UnsafeMutableRawPointer(bitPattern: mappings[index].host + UInt(iova - mappings[index].iova))
            }
            faults.append(DMAFault(iova: iova, length: length, direction: direction, reason: .unmapped))
            return nil
        }

        /// Records a refusal decided by the device (the fault plan), not by the address.
        @inlinable
        public mutating func fault(_ fault: DMAFault) { faults.append(fault) }
    }
}
