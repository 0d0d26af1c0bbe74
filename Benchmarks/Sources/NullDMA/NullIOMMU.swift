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

import Synchronization
import VFIO

/// The null device's IOMMU: a table of IOVA → host address, used only at setup (to find the
/// admin queues, identify buffers and the I/O rings). The I/O path never translates: the null
/// device touches no data, and the rings' host addresses are resolved when the queues are created.
public final class NullIOMMU: DMAMapper {
    public let iovaRanges: [Range<UInt64>] = [0x10_0000..<(1 << 47)]
    public var mappingLimit: Int? { nil }
    public var pinsMemory: Bool { false }

    struct Mapping {
        var iova: UInt64
        var length: UInt64
        var host: UInt
    }

    private let table = Mutex<[Mapping]>([])

    public init() {}

    public func map(address: UnsafeMutableRawPointer, length: Int, iova: IOVA) throws(VFIOError) {
        table.withLock { $0.append(Mapping(iova: iova.rawValue, length: UInt64(length), host: UInt(bitPattern: address))) }
    }

    public func unmap(iova: IOVA, length: Int) throws(VFIOError) {
        table.withLock { $0.removeAll { $0.iova == iova.rawValue } }
    }

    /// The host address of `length` bytes at `iova`, or nil when no single mapping covers them.
    public func translate(_ iova: UInt64, length: Int) -> UnsafeMutableRawPointer? {
        table.withLock { mappings in
            for m in mappings where iova >= m.iova && iova - m.iova <= m.length && UInt64(length) <= m.length - (iova - m.iova) {
                return UnsafeMutableRawPointer(bitPattern: m.host + UInt(iova - m.iova))
            }
            return nil
        }
    }
}
