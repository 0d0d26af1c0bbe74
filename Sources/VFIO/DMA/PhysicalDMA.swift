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
#if canImport(Glibc)
import Glibc
#endif

/// DMA memory for VFIO's no-IOMMU mode, where nothing translates the device's addresses: a
/// buffer's IOVA is the physical address of its memory. That memory must stay where it is while
/// the device may use it, and be one physical run.
///
/// - 2 MiB hugepages first, whatever the size: hugetlb pages are not swapped and not moved by
///   memory compaction, and each is one physical run (DPDK's rule for physical addressing).
/// - Without free hugepages (policy `.preferred`), 4 KiB pages, locked with `mlock`; a buffer
///   is accepted only if its pages happen to be consecutive frames, and a warning says that
///   compaction may still move locked small pages (`vm.compact_unevictable_allowed`).
/// - The address comes from `/proc/self/pagemap` after the pages are locked; reading frame
///   numbers needs CAP_SYS_ADMIN.
///
/// Only reached when the mapper says `usesPhysicalAddresses` (a no-IOMMU container), which the
/// caller opted into with `allowNoIOMMU`.
extension DMAAllocator {
    private static let warnedSmallPages = Atomic<Bool>(false)
    private static let warnedOnce = Atomic<Bool>(false)

    func allocatePhysical(length: Int, alignment: Int) throws(VFIOError) -> DMABuffer {
        if !Self.warnedOnce.exchange(true, ordering: .relaxed) {
            logger.critical("no-IOMMU DMA: buffers carry physical addresses; the device can read and write all of memory")
        }
        let basePage = max(Self.smallPage, Int(sysconf(Int32(_SC_PAGESIZE))))
        var memory: UnsafeMutableRawPointer?
        var size = 0
        if policy.hugepages != .never {
            size = (length + Self.hugePage - 1) / Self.hugePage * Self.hugePage
            memory = shim_mmap_anonymous(size, 1)
            if memory == nil && policy.hugepages == .required { throw .noHugepages }
        }
        if memory == nil {
            size = (length + basePage - 1) / basePage * basePage
            guard let p = shim_mmap_anonymous(size, 0) else {
                throw .system(operation: "mmap of \(size) bytes of DMA memory", errno: shim_errno())
            }
            memory = p
            if size > basePage, !Self.warnedSmallPages.exchange(true, ordering: .relaxed) {
                logger.warning("no-IOMMU DMA on 4 KiB pages: buffers larger than a page must happen to be physically contiguous, and compaction may move locked pages; reserve hugepages: echo 512 > /proc/sys/vm/nr_hugepages")
            }
        }
        guard let memory else { throw .noHugepages }
        if let node = policy.numaNode { shim_numa_bind_memory(memory, size, Int32(node)) }
        memory.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        do throws(VFIOError) {
            try Self.lock(memory, size)
            let entries = try PageMap.entries(of: UInt(bitPattern: memory), pages: size / basePage, pageSize: basePage)
            let physical = try PageMap.physicalAddress(of: UInt(bitPattern: memory), length: size, entries: entries, pageSize: basePage)
            guard physical % UInt64(max(alignment, 1)) == 0 else {
                throw .physicalMemory("physical address 0x\(String(physical, radix: 16)) is not \(alignment)-byte aligned; use hugepages")
            }
            return DMABuffer(address: memory, iova: IOVA(physical), length: size, allocator: self)
        } catch {
            _ = munlock(memory, size)
            _ = shim_munmap(memory, size)
            throw error
        }
    }

    /// The memory goes back only when the buffer does: by then the device is quiet (the
    /// driver's contract), since nothing can revoke its access to physical memory.
    func releasePhysical(address: UnsafeMutableRawPointer, length: Int) {
        _ = munlock(address, length)
        _ = shim_munmap(address, length)
    }

    /// mlock(2): resident and never swapped, so the frame read from pagemap stays the buffer's.
    private static func lock(_ memory: UnsafeMutableRawPointer, _ size: Int) throws(VFIOError) {
        guard mlock(memory, size) != 0 else { return }
        let e = errno
        var soft: UInt64 = 0, hard: UInt64 = 0
        if e == ENOMEM || e == EPERM, shim_memlock_limit(&soft, &hard) == 0, soft != UInt64.max {
            throw .memlockTooLow(current: soft, needed: UInt64(size))
        }
        throw .system(operation: "mlock of \(size) bytes of no-IOMMU DMA memory", errno: e)
    }
}
