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

/// Builds the data pointer of a command as an SGL (NVMe base 1.4, 4.4).
///
/// One contiguous slice is one Data Block descriptor in SGL1, inside the command: nothing else is
/// written. Several slices go as a Last Segment descriptor in SGL1 pointing at this command id's
/// own list page (the page PRP lists use: preallocated, never shared, reused only after the
/// completion is consumed), which holds one Data Block per slice. A page holds 256 descriptors,
/// so one request takes at most 256 slices: no chained segments, nothing allocated per I/O.
public enum SGLBuilder {
    /// Data Block descriptors one list page holds.
    public static let descriptorsPerListPage = PRPBuilder.pageSize / SGLDescriptor.size

    /// Writes SGL1 for one contiguous, non-empty slice and sets PSDT to SGL.
    @inlinable @inline(__always)
    static func setDataBlock(_ entry: inout SubmissionQueueEntry, iova: UInt64, length: Int) {
        entry.flags |= DataPointerType.sgl.rawValue << 6
        entry.sgl1 = .dataBlock(address: iova, length: UInt32(truncatingIfNeeded: length))
    }

    /// Writes one Data Block per slice into `listPage` and SGL1 as the Last Segment pointing at it
    /// (`listIOVA`), PSDT SGL. `slices` holds 2...`descriptorsPerListPage` non-empty slices whose
    /// lengths fit in 32 bits (the caller checked).
    @inlinable
    static func setSegment(
        _ entry: inout SubmissionQueueEntry, slices: UnsafeBufferPointer<DMASlice>,
        listPage: UnsafeMutableRawPointer, listIOVA: UInt64
    ) {
        for (i, slice) in slices.enumerated() {
            SGLDescriptor.dataBlock(address: slice.iova.rawValue, length: UInt32(truncatingIfNeeded: slice.length))
                .store(to: listPage, at: i &* SGLDescriptor.size)
        }
        entry.flags |= DataPointerType.sgl.rawValue << 6
        entry.sgl1 = .lastSegment(address: listIOVA, descriptors: slices.count)
    }
}
