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

/// Which IOVA space a piece of DMA memory is mapped in: one per `DMAAllocator`, so one per IOMMU
/// domain (a VFIO container or iommufd IOAS, or an emulated device's IOMMU).
///
/// An IOVA means something only in its own domain: handed to a device behind another IOMMU, it
/// names whatever that device has mapped there (typically its own queue memory). Every `DMASlice`
/// carries its domain, and drivers compare it with their device's before a descriptor names it.
@frozen
public struct DMADomain: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Domains count from 1 within the process.
    private static let last = Atomic<UInt32>(0)

    /// A domain no other allocator of this process has.
    static func next() -> DMADomain {
        DMADomain(rawValue: last.add(1, ordering: .relaxed).newValue)
    }

    public var description: String { "DMA domain \(rawValue)" }
}
