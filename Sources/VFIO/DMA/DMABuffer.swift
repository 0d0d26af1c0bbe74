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

/// Memory the device can reach: a virtual address for the CPU, an IOVA for the device.
///
/// `~Copyable`, so exactly one owner releases it: `deinit` unmaps it from the IOMMU, frees the IOVA
/// and unmaps the memory. Moving it (`consuming`) hands ownership on; borrowing it lends it for an
/// I/O, which must complete before the buffer can be released.
public struct DMABuffer: ~Copyable, @unchecked Sendable {
    public let address: UnsafeMutableRawPointer
    public let iova: IOVA
    public let length: Int
    /// The IOVA space the buffer is mapped in (its allocator's).
    public let domain: DMADomain
    @usableFromInline let allocator: DMAAllocator

    init(address: UnsafeMutableRawPointer, iova: IOVA, length: Int, allocator: DMAAllocator) {
        self.address = address
        self.iova = iova
        self.length = length
        self.domain = allocator.domain
        self.allocator = allocator
    }

    deinit {
        allocator.release(address: address, iova: iova, length: length)
    }

    /// The buffer's bytes, for filling and checking data.
    @inlinable
    public var bytes: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(start: address, count: length) }

    @inlinable
    public func withUnsafeMutableBytes<R, E: Error>(_ body: (UnsafeMutableRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(bytes)
    }

    /// A borrowed view of `[offset, offset+length)`, e.g. to do I/O from the middle of a buffer.
    @inlinable
    public func slice(offset: Int, length: Int) -> DMASlice {
        precondition(offset >= 0 && length >= 0 && offset + length <= self.length, "slice outside the DMA buffer")
        return DMASlice(address: address + offset, iova: iova + offset, length: length, domain: domain)
    }

    /// The whole buffer as a view.
    @inlinable
    public var whole: DMASlice { DMASlice(address: address, iova: iova, length: length, domain: domain) }
}

/// A non-owning view of mapped memory: address, IOVA, length and the IOVA space (`DMADomain`) the
/// IOVA belongs to. Valid only while the owning `DMABuffer` lives; the driver keeps the owner
/// borrowed for the I/O's duration. Only a `DMABuffer` makes one (the initializer is internal),
/// so a slice's domain is always the one its IOVA was mapped in.
@frozen
public struct DMASlice: @unchecked Sendable {
    public let address: UnsafeMutableRawPointer
    public let iova: IOVA
    public let length: Int
    /// The IOVA space `iova` belongs to: a driver refuses a slice of another device's domain.
    public let domain: DMADomain

    @inlinable
    init(address: UnsafeMutableRawPointer, iova: IOVA, length: Int, domain: DMADomain) {
        self.address = address
        self.iova = iova
        self.length = length
        self.domain = domain
    }

    @inlinable
    public var bytes: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(start: address, count: length) }

    @inlinable
    public func slice(offset: Int, length: Int) -> DMASlice {
        precondition(offset >= 0 && length >= 0 && offset + length <= self.length, "slice outside the DMA slice")
        return DMASlice(address: address + offset, iova: iova + offset, length: length, domain: domain)
    }

    /// The first `length` bytes.
    @inlinable
    public func prefix(_ length: Int) -> DMASlice {
        precondition(length >= 0 && length <= self.length, "prefix longer than the DMA slice")
        return DMASlice(address: address, iova: iova, length: length, domain: domain)
    }
}
