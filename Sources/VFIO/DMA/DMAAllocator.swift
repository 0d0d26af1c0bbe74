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
import Logging
import Synchronization

/// Where DMA memory comes from.
public struct DMAMemoryPolicy: Sendable {
    public enum Hugepages: Sendable {
        /// 2 MiB pages for allocations of 2 MiB or more, 4 KiB pages (with a warning) if none are free.
        case preferred
        /// 2 MiB pages or an error (`.noHugepages`).
        case required
        /// 4 KiB pages only (tests, the emulated device).
        case never
    }
    public var hugepages: Hugepages
    /// NUMA node to bind the memory to (the device's), or nil for the calling thread's node.
    public var numaNode: Int?

    public init(hugepages: Hugepages = .preferred, numaNode: Int? = nil) {
        self.hugepages = hugepages
        self.numaNode = numaNode
    }
}

/// Allocates DMA buffers: memory (hugepage-backed when possible, NUMA-local to the device), an
/// IOVA from the allocator, and the IOMMU mapping; `DMABuffer`'s `deinit` undoes all three.
///
/// Thread-safe (one lock around the IOVA allocator); meant for setup time. The I/O path takes
/// chunks from a `DMASlab` carved out of one buffer, which neither locks nor allocates.
public final class DMAAllocator: Sendable {
    public let mapper: any DMAMapper
    public let policy: DMAMemoryPolicy
    /// The IOVA space this allocator hands out: every buffer and slice it makes carries it.
    public let domain: DMADomain
    private let state: TSanVisibleMutex<State>
    /// Where the allocator logs (the small-page fallback); quiet by default.
    public let logger: Logger

    struct State {
        var iovas: IOVAAllocator
        var pinnedBytes: UInt64 = 0
        var warnedSmallPages = false
        /// Set by `keepMappings(because:)`: the device may still write anything it can reach.
        var keepsMappings = false
        /// Buffers released while mappings were kept, or whose unmap failed: never reused.
        var keptBytes: UInt64 = 0
        var keptMappings = 0
        var unmapFailures = 0
    }

    public static let smallPage = 4096
    public static let hugePage = 2 << 20

    public init(mapper: any DMAMapper, policy: DMAMemoryPolicy = DMAMemoryPolicy(), logger: Logger = .quiet(label: "swift-vfio.dma")) {
        self.mapper = mapper
        self.policy = policy
        self.logger = logger
        self.domain = .next()
        self.state = TSanVisibleMutex(State(iovas: IOVAAllocator(ranges: mapper.iovaRanges, mappingLimit: mapper.mappingLimit)))
    }

    /// Narrows the IOVA space to `ranges`, as the IOMMU reported them after another device joined
    /// (iommufd); live buffers keep their IOVAs, which the kernel already checked.
    func restrictIOVAs(to ranges: [Range<UInt64>]) { state.withLock { $0.iovas.restrict(to: ranges) } }

    /// Keeps `range` out of the IOVAs handed out from now on (`IOVAAllocator.exclude`): the
    /// device's own address window. False when a live buffer already sits there.
    public func excludeIOVAs(_ range: Range<UInt64>) -> Bool { state.withLock { $0.iovas.exclude(range) } }

    /// Bytes mapped now, and live mappings: tests use them to prove nothing leaks.
    public var mappedBytes: UInt64 { state.withLock { $0.iovas.bytesInUse } }
    public var liveMappings: Int { state.withLock { $0.iovas.liveCount } }
    /// Bytes and buffers released but left mapped (`keepMappings(because:)`, or a failed unmap):
    /// memory given up rather than handed to the next owner while a device may still write it.
    public var keptBytes: UInt64 { state.withLock { $0.keptBytes } }
    public var keptMappings: Int { state.withLock { $0.keptMappings } }
    /// Unmaps the IOMMU refused; their IOVA and memory are among the kept ones.
    public var unmapFailures: Int { state.withLock { $0.unmapFailures } }
    /// Whether releases leave everything mapped from now on.
    public var keepsMappings: Bool { state.withLock { $0.keepsMappings } }

    /// From now on no buffer is unmapped or freed: a driver calls it when it could not prove a
    /// device quiet (controller disabled, function reset, bus master off), so that a late DMA
    /// lands in memory nobody reuses instead of in the next owner's. Logged once, at warning;
    /// `keptBytes` counts what is given up. Every device sharing this IOVA space is covered, as
    /// any of them could reach any buffer.
    public func keepMappings(because reason: String) {
        let first = state.withLock { s -> Bool in
            defer { s.keepsMappings = true }
            return !s.keepsMappings
        }
        if first {
            logger.warning("DMA memory stays mapped and is never reused from now on: \(reason)")
        }
    }
    /// Released IOVA ranges waiting in the quarantine (`IOVAAllocator`).
    public var quarantinedRanges: [Range<UInt64>] { state.withLock { $0.iovas.quarantine } }

    /// Allocates, zeroes, pins and maps `length` bytes (rounded up to the page size), aligned to at
    /// least `alignment` in both virtual and IOVA space.
    public func allocate(length: Int, alignment: Int = 4096) throws(VFIOError) -> DMABuffer {
        guard length > 0 else { throw .outOfRange(what: "DMA buffer length", value: 0, limit: UInt64(Int.max)) }
        if mapper.usesPhysicalAddresses { return try allocatePhysical(length: length, alignment: alignment) }
        let (memory, size) = try allocateMemory(length: length)
        let iova: IOVA
        do {
            iova = try state.withLock { (s) throws(VFIOError) -> IOVA in
                if mapper.pinsMemory {
                    var soft: UInt64 = 0, hard: UInt64 = 0
                    if shim_memlock_limit(&soft, &hard) == 0, soft != UInt64.max, s.pinnedBytes + UInt64(size) > soft {
                        throw .memlockTooLow(current: soft, needed: s.pinnedBytes + UInt64(size))
                    }
                }
                let iova = try s.iovas.allocate(length: size, alignment: max(alignment, Self.smallPage))
                s.pinnedBytes += UInt64(size)
                return iova
            }
        } catch {
            _ = shim_munmap(memory, size)
            throw error
        }
        do {
            try mapper.map(address: memory, length: size, iova: iova)
        } catch {
            state.withLock { s in
                s.iovas.release(iova, length: size, quarantined: false)  // never mapped: the device cannot reach it
                s.pinnedBytes -= UInt64(size)
            }
            _ = shim_munmap(memory, size)
            throw error
        }
        return DMABuffer(address: memory, iova: iova, length: size, allocator: self)
    }

    /// mmap, NUMA bind, then first touch (zeroing), so the pages exist before they are pinned.
    private func allocateMemory(length: Int) throws(VFIOError) -> (UnsafeMutableRawPointer, Int) {
        let wantHuge: Bool
        switch policy.hugepages {
        case .never: wantHuge = false
        case .preferred: wantHuge = length >= Self.hugePage
        case .required: wantHuge = true
        }
        if wantHuge {
            let size = (length + Self.hugePage - 1) / Self.hugePage * Self.hugePage
            if let p = shim_mmap_anonymous(size, 1) {
                return (prepare(p, size), size)
            }
            if policy.hugepages == .required { throw .noHugepages }
            let first = state.withLock { s -> Bool in
                defer { s.warnedSmallPages = true }
                return !s.warnedSmallPages
            }
            if first {
                logger.warning("no free 2 MiB hugepages; DMA memory falls back to 4 KiB pages (more IOMMU mappings and TLB misses). Reserve some: echo 512 > /proc/sys/vm/nr_hugepages")
            }
        }
        let size = (length + Self.smallPage - 1) / Self.smallPage * Self.smallPage
        guard let p = shim_mmap_anonymous(size, 0) else {
            throw .system(operation: "mmap of \(size) bytes of DMA memory", errno: shim_errno())
        }
        return (prepare(p, size), size)
    }

    private func prepare(_ p: UnsafeMutableRawPointer, _ size: Int) -> UnsafeMutableRawPointer {
        if let node = policy.numaNode { shim_numa_bind_memory(p, size, Int32(node)) }
        p.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        return p
    }

    /// Called by `DMABuffer.deinit`: unmap from the IOMMU first (the device can no longer reach the
    /// memory), then give back the IOVA (into the quarantine, `IOVAAllocator`), then the memory.
    func release(address: UnsafeMutableRawPointer, iova: IOVA, length: Int) {
        if keepInsteadOfRelease(length: length, unmapFailed: false) { return }
        if mapper.usesPhysicalAddresses { return releasePhysical(address: address, length: length) }
        do {
            try mapper.unmap(iova: iova, length: length)
        } catch {
            // The mapping may still be live (the mapper keeps the container or IOAS open as long
            // as this allocator lives), so the device may still reach the memory: neither the
            // IOVA nor the pages are handed out again.
            _ = keepInsteadOfRelease(length: length, unmapFailed: true)
            logger.warning("DMA unmap of \(length) bytes at IOVA \(iova) failed: \(error); the IOVA and memory stay reserved, never reused")
            return
        }
        state.withLock { s in
            s.iovas.release(iova, length: length)
            s.pinnedBytes -= UInt64(length)
        }
        _ = shim_munmap(address, length)
    }

    /// Counts a buffer given up instead of released; true when that is what must happen.
    private func keepInsteadOfRelease(length: Int, unmapFailed: Bool) -> Bool {
        state.withLock { s in
            guard s.keepsMappings || unmapFailed else { return false }
            s.keptBytes += UInt64(length)
            s.keptMappings += 1
            if unmapFailed { s.unmapFailures += 1 }
            return true
        }
    }
}
