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

/// One 64-bit entry of `/proc/<pid>/pagemap` (Documentation/admin-guide/mm/pagemap.rst): what
/// backs one virtual page. No-IOMMU DMA needs it, because there the device sees physical
/// addresses, and this is where Linux tells a process which frames hold its pages.
public struct PageMapEntry: Sendable, Equatable {
    public let rawValue: UInt64

    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Bit 63: the page is in RAM.
    public var isPresent: Bool { rawValue >> 63 & 1 == 1 }
    /// Bit 62: the page is swapped out (bits 0-54 are then a swap entry, not a frame).
    public var isSwapped: Bool { rawValue >> 62 & 1 == 1 }
    /// Bits 0-54: the page frame number. Linux 4.2+ reports 0 to a reader without CAP_SYS_ADMIN.
    public var frameNumber: UInt64 { rawValue & ((1 << 55) - 1) }
}

/// Physical addresses of a process's own pages, from `/proc/self/pagemap`.
public enum PageMap {
    public static let path = "/proc/self/pagemap"

    /// The physical address of `[address, address + length)` when the whole range sits on
    /// consecutive frames, from its pagemap entries (one per `pageSize` page, the first one for
    /// the page holding `address`). Every page must be present; a frame number of 0 means the
    /// kernel hid it (no CAP_SYS_ADMIN); a gap between frames means the range cannot be one DMA
    /// buffer without an IOMMU.
    public static func physicalAddress(of address: UInt, length: Int, entries: [PageMapEntry], pageSize: Int) throws(VFIOError) -> UInt64 {
        precondition(pageSize > 0 && pageSize & (pageSize - 1) == 0 && length > 0)
        let offset = Int(address % UInt(pageSize))
        let pages = (offset + length + pageSize - 1) / pageSize
        guard entries.count >= pages else {
            throw .physicalMemory("pagemap gave \(entries.count) entries for \(pages) pages")
        }
        let first = entries[0]
        for (index, entry) in entries.prefix(pages).enumerated() {
            guard entry.isPresent, !entry.isSwapped else {
                throw .physicalMemory("page \(index) of the buffer at 0x\(String(address, radix: 16)) is not resident (it must be locked before its address is read)")
            }
            guard entry.frameNumber != 0 else {
                throw .physicalMemory("/proc/self/pagemap hides frame numbers from this process: reading them needs CAP_SYS_ADMIN; run as root")
            }
            guard entry.frameNumber == first.frameNumber + UInt64(index) else {
                throw .physicalMemory("the \(length)-byte buffer is not physically contiguous (page \(index) is on another frame run); reserve 2 MiB hugepages: echo 512 > /proc/sys/vm/nr_hugepages")
            }
        }
        return first.frameNumber * UInt64(pageSize) + UInt64(offset)
    }

    /// The pagemap entries of the `pages` pages from the one holding `address`.
    public static func entries(of address: UInt, pages: Int, pageSize: Int, path: String = PageMap.path) throws(VFIOError) -> [PageMapEntry] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw .system(operation: "open \(path) (no-IOMMU DMA reads physical addresses there)", errno: errno)
        }
        defer { close(fd) }
        var raw = [UInt64](repeating: 0, count: pages)
        let offset = off_t(address / UInt(pageSize)) * 8
        let wanted = pages * 8
        let n = raw.withUnsafeMutableBytes { bytes in
            var done = 0
            while done < wanted {
                let r = pread(fd, bytes.baseAddress! + done, wanted - done, offset + off_t(done))
                if r < 0 && errno == EINTR { continue }
                if r <= 0 { return r < 0 ? -1 : done }
                done += r
            }
            return done
        }
        guard n == wanted else {
            throw .system(operation: "pread of \(wanted) bytes of \(path) at \(offset)", errno: n < 0 ? errno : EIO)
        }
        return raw.map { PageMapEntry(rawValue: UInt64(littleEndian: $0)) }
    }
}
