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

/// A 32-bit doorbell register, resolved once when a queue is created so that the hot path is a
/// single store with no offset arithmetic or bounds check.
@frozen
public struct Doorbell: @unchecked Sendable {
    public let address: UnsafeMutableRawPointer

    @inlinable
    public init(address: UnsafeMutableRawPointer) { self.address = address }

    /// Writes the new tail (SQ) or head (CQ). The caller must have made the entries it publishes
    /// visible first (`Barrier.write()`); the store itself is a release store, a plain `mov` on x86-64.
    @inlinable @inline(__always)
    public func ring(_ value: UInt32) { shim_mmio_write32_release(address, value) }

    /// The value last written; only the emulated device and tests read doorbells.
    @inlinable @inline(__always)
    public func peek() -> UInt32 { shim_mmio_read32_acquire(address) }
}
