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

/// A sub-allocator of equal, aligned chunks carved from one `DMABuffer`: PRP list pages, data
/// buffers for a benchmark, bounce buffers.
///
/// `allocate()` and `free(_:)` are O(1) pops and pushes on a free stack preallocated at creation:
/// no lock, no allocation, no reference counting, so it can sit on the I/O path. Owned by one
/// thread (it is `~Copyable` and not `Sendable`-shared); a queue pair keeps its own.
public struct DMASlab: ~Copyable {
    public let chunkSize: Int
    public let capacity: Int
    @usableFromInline let buffer: DMABuffer
    @usableFromInline let freeStack: UnsafeMutablePointer<Int32>
    @usableFromInline var freeCount: Int

    /// Allocates `count` chunks of `chunkSize` bytes, each aligned to `chunkSize` rounded up to a
    /// power of two (so a 4 KiB chunk is page-aligned, as a PRP list page must be).
    public init(allocator: DMAAllocator, chunkSize: Int, count: Int) throws(VFIOError) {
        precondition(chunkSize > 0 && count > 0 && count < Int(Int32.max))
        var stride = 1
        while stride < chunkSize { stride <<= 1 }
        self.chunkSize = stride
        self.capacity = count
        self.buffer = try allocator.allocate(length: stride * count, alignment: max(stride, 4096))
        self.freeStack = .allocate(capacity: count)
        for i in 0..<count { freeStack[i] = Int32(count - 1 - i) }
        self.freeCount = count
    }

    deinit { freeStack.deallocate() }

    /// Chunks not handed out.
    @inlinable public var available: Int { freeCount }

    /// Takes a free chunk, or nil when all are in use (the caller applies backpressure).
    @inlinable
    public mutating func allocate() -> DMAChunk? {
        guard freeCount > 0 else { return nil }
        freeCount -= 1
        return chunk(Int(freeStack[freeCount]))
    }

    /// Returns a chunk. Only after the device is done with it: its completion has been consumed.
    @inlinable
    public mutating func free(_ chunk: DMAChunk) {
        precondition(freeCount < capacity && chunk.index >= 0 && chunk.index < capacity, "DMA chunk freed twice or not from this slab")
        freeStack[freeCount] = Int32(chunk.index)
        freeCount += 1
    }

    /// The chunk at a fixed index, for callers that index chunks by command id instead of allocating.
    @inlinable
    public func chunk(_ index: Int) -> DMAChunk {
        precondition(index >= 0 && index < capacity)
        return DMAChunk(index: index, slice: buffer.slice(offset: index * chunkSize, length: chunkSize))
    }
}

/// One chunk of a `DMASlab`.
@frozen
public struct DMAChunk: @unchecked Sendable {
    public let index: Int
    public let slice: DMASlice
    @inlinable public init(index: Int, slice: DMASlice) { self.index = index; self.slice = slice }
    @inlinable public var address: UnsafeMutableRawPointer { slice.address }
    @inlinable public var iova: IOVA { slice.iova }
}
