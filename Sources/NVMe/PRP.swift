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

/// Builds the data pointer of a command as Physical Region Page entries (NVMe base 1.4, 4.3).
///
/// The rules: PRP1 may start anywhere dword-aligned inside a page; every later entry is page
/// aligned (the data is contiguous in IOVA space, so entry n is the start of page n). If the
/// transfer ends within the page after PRP1's, PRP2 is that page; otherwise PRP2 points to a PRP
/// list, one 64-bit entry per remaining page.
///
/// **One list page, no chaining.** A 4 KiB list page holds 512 entries, which with PRP1 covers
/// 2 MiB plus the partial first page. The driver caps the per-command transfer at
/// `maximumTransferBytes` (2 MiB, or less when MDTS says so), so one list page per command id
/// always suffices and can be preallocated: no chained lists (whose last entry points to the next
/// list page), nothing to allocate or free per I/O, and a command's list page is reused only after
/// its completion is consumed. Larger requests are split by the Namespace API; 2 MiB per command
/// already saturates controllers (Linux's default `max_hw_sectors` is lower), and QEMU's default
/// MDTS is 512 KiB.
public enum PRPBuilder {
    /// The host memory page size the driver configures (CC.MPS = 0).
    public static let pageSize = 4096
    /// 64-bit entries per list page.
    public static let entriesPerListPage = pageSize / 8
    /// The largest transfer one list page can describe wherever the buffer starts in its page.
    public static let maximumTransferBytes = entriesPerListPage * pageSize

    /// The pair of data pointers of one command.
    @frozen
    public struct Pointers: Sendable, Equatable {
        public var prp1: UInt64
        public var prp2: UInt64
        /// Entries written to the list page (0 when PRP2 is absent or a data page).
        public var listEntries: Int
        @inlinable public init(prp1: UInt64, prp2: UInt64, listEntries: Int) {
            self.prp1 = prp1
            self.prp2 = prp2
            self.listEntries = listEntries
        }
    }

    /// Describes `length` bytes at `iova`, writing list entries (if needed) into `listPage`, whose
    /// device address is `listIOVA`. `length` must be 1...`maximumTransferBytes` and `iova`
    /// dword aligned; both are checked because they come from the caller.
    @inlinable @inline(__always)
    public static func build(
        iova: UInt64, length: Int, listPage: UnsafeMutablePointer<UInt64>, listIOVA: UInt64
    ) throws(NVMeError) -> Pointers {
        guard iova & 3 == 0 else { throw .misalignedBuffer(iova: iova) }
        guard length > 0 else { return Pointers(prp1: 0, prp2: 0, listEntries: 0) }
        guard length <= maximumTransferBytes else {
            throw .transferTooLarge(bytes: length, maximum: maximumTransferBytes)
        }
        return pointers(alignedIOVA: iova, length: length, listPage: listPage, listIOVA: listIOVA)
    }

    /// `build` without its checks, for a caller that has proven them: `iova` dword aligned and
    /// `length` in 1...`maximumTransferBytes` (a queue pair checks its own cap, which is never
    /// above this one: `Controller.init`). Checking twice cost the I/O path two branches.
    @inlinable @inline(__always)
    static func pointers(
        alignedIOVA iova: UInt64, length: Int, listPage: UnsafeMutablePointer<UInt64>, listIOVA: UInt64
    ) -> Pointers {
        let page = UInt64(pageSize)
        let firstBytes = Int(page &- (iova & (page &- 1)))
        if length <= firstBytes {
            return Pointers(prp1: iova, prp2: 0, listEntries: 0)
        }
        let secondPage = (iova | (page &- 1)) &+ 1
        let remaining = length &- firstBytes
        if remaining <= pageSize {
            return Pointers(prp1: iova, prp2: secondPage, listEntries: 0)
        }
        let count = (remaining &+ pageSize &- 1) / pageSize
        // count <= 512 follows from length <= maximumTransferBytes (first page partial or not).
        var address = secondPage
        for i in 0..<count {
            listPage[i] = address.littleEndian
            address &+= page
        }
        return Pointers(prp1: iova, prp2: listIOVA, listEntries: count)
    }

    /// The pages a PRP description covers, for tests and the admin path's assertions.
    public static func pageCount(iova: UInt64, length: Int) -> Int {
        guard length > 0 else { return 0 }
        let offset = Int(iova & UInt64(pageSize - 1))
        return (offset + length + pageSize - 1) / pageSize
    }
}
