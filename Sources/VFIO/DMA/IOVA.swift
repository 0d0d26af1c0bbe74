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

/// An I/O virtual address: what the device puts on the bus, translated by the IOMMU into host
/// memory. Its own type so it is never confused with a process virtual address.
@frozen
public struct IOVA: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    @inlinable public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    @inlinable public static func < (a: IOVA, b: IOVA) -> Bool { a.rawValue < b.rawValue }
    @inlinable public static func + (a: IOVA, offset: Int) -> IOVA { IOVA(a.rawValue &+ UInt64(offset)) }
    public var description: String { "0x" + String(rawValue, radix: 16) }
}
