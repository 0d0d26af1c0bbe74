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

/// Preallocated packet buffers, 2 KiB each, carved from one DMA mapping, with a FIFO of free
/// indices (ixy's mempool, Linux's page pool in spirit).
///
/// `allocate()` and `free(_:)` take from the front and append to the back of a ring made at
/// creation: no allocation, no lock, no reference counting per packet. A queue owns its pool
/// (`~Copyable`, one thread). The queue takes a buffer back only after the device has written back
/// DD for the descriptor that referenced it, so memory the device may still read or write is never
/// handed out twice; `free` traps on a double free, which would break that rule. FIFO rather than
/// a stack, so a freed buffer is the last to be handed out again: a late device write through a
/// stale descriptor then finds it idle for as long as possible, not already refilled.
public struct PacketBufferPool: ~Copyable {
    /// Bytes per buffer: RCTL.BSIZE 2048 (BSEX clear), enough for a 1522-byte frame.
    public static let bufferSize = 2048

    /// Buffers in the pool.
    public let capacity: Int
    @usableFromInline let base: UnsafeMutableRawPointer
    @usableFromInline let baseIOVA: UInt64
    /// Free indices, `freeCount` of them from `freeHead` on, wrapping at `capacity`.
    @usableFromInline let freeRing: UnsafeMutablePointer<Int32>
    @usableFromInline var freeHead = 0
    @usableFromInline var freeCount: Int
    /// One byte per buffer: 1 while handed out. Catches double frees and frees of buffers never
    /// allocated, either of which could give the device's memory to someone else.
    @usableFromInline let inUse: UnsafeMutablePointer<UInt8>
    let memory: DMABuffer

    /// Maps `count` buffers in one allocation.
    public init(allocator: DMAAllocator, count: Int) throws(VFIOError) {
        precondition(count > 0 && count < Int(Int32.max))
        memory = try allocator.allocate(length: count * Self.bufferSize, alignment: 4096)
        base = memory.address
        baseIOVA = memory.iova.rawValue
        capacity = count
        freeRing = .allocate(capacity: count)
        inUse = .allocate(capacity: count)
        inUse.initialize(repeating: 0, count: count)
        // A fresh pool hands out buffers in address order.
        for i in 0..<count { freeRing[i] = Int32(i) }
        freeCount = count
    }

    deinit {
        freeRing.deallocate()
        inUse.deallocate()
    }

    /// Buffers not handed out.
    @inlinable public var available: Int { freeCount }

    /// Takes the longest-free buffer's index, or nil when every buffer is in use (backpressure).
    @inlinable @inline(__always)
    public mutating func allocate() -> Int? {
        guard freeCount > 0 else { return nil }
        freeCount &-= 1
        let index = Int(freeRing[freeHead])
        freeHead &+= 1
        if freeHead == capacity { freeHead = 0 }
        inUse[index] = 1
        return index
    }

    /// Gives a buffer back. Only once the device is done with it (its descriptor's DD was seen).
    @inlinable @inline(__always)
    public mutating func free(_ index: Int) {
        precondition(index >= 0 && index < capacity && inUse[index] == 1, "packet buffer freed twice or never allocated")
        inUse[index] = 0
        var back = freeHead &+ freeCount
        if back >= capacity { back &-= capacity }
        freeRing[back] = Int32(truncatingIfNeeded: index)
        freeCount &+= 1
    }

    /// Whether a buffer is handed out (for tests and assertions).
    @inlinable public func isInUse(_ index: Int) -> Bool {
        precondition(index >= 0 && index < capacity)
        return inUse[index] == 1
    }

    /// CPU address of a buffer.
    @inlinable @inline(__always)
    public func address(of index: Int) -> UnsafeMutableRawPointer { base + index &* Self.bufferSize }

    /// Device address (IOVA) of a buffer.
    @inlinable @inline(__always)
    public func iova(of index: Int) -> UInt64 { baseIOVA &+ UInt64(index &* Self.bufferSize) }

    /// The buffer index an IOVA falls in, or nil when it lies outside the pool.
    @inlinable public func index(ofIOVA iova: UInt64) -> Int? {
        guard iova >= baseIOVA else { return nil }
        let offset = iova &- baseIOVA
        guard offset < UInt64(capacity &* Self.bufferSize) else { return nil }
        return Int(offset) / Self.bufferSize
    }
}
