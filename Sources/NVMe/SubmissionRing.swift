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

/// The host's view of a submission queue (NVMe base 1.4, 4.1): 64-byte slots in DMA memory, a
/// tail the host advances and publishes through the SQ tail doorbell, and a head the controller
/// reports in each CQE (SQHD).
///
/// A non-owning view: the `DMABuffer` holding the slots belongs to the queue pair (or the admin
/// queue) that embeds this. One slot always stays empty, so `head == tail` means empty and a full
/// queue holds `size - 1` entries (4.1.1, 4.1.2).
@frozen @usableFromInline
struct SubmissionRing {
    /// The 64-byte slots and the SQ tail doorbell.
    @usableFromInline let slots: RingSlots
    @usableFromInline var tail: UInt32 = 0
    /// Last SQHD the controller reported (validated before it gets here).
    @usableFromInline var head: UInt32 = 0
    /// Entries written since the last doorbell store: batching rings once for all of them.
    @usableFromInline var unpublished: UInt32 = 0

    /// An empty ring over `slots` (power-on state: head and tail 0).
    @inlinable
    init(slots: RingSlots) { self.slots = slots }

    /// Entries in the ring.
    @inlinable var size: UInt32 { slots.size }

    /// Entries the controller may not have fetched yet (between head and tail).
    @inlinable var occupied: UInt32 { tail >= head ? tail - head : tail &+ size &- head }

    /// `size` is at least 2 (Create I/O SQ takes 2...65536 entries), so `size - 1` cannot wrap.
    @inlinable var isFull: Bool { occupied == size &- 1 }

    /// The tail after one more entry, or nil when the queue is full (the same test as `isFull`,
    /// with the next tail kept for `push(_:nextTail:)`).
    @inlinable @inline(__always)
    var nextTail: UInt32? {
        let next = tail &+ 1 == size ? 0 : tail &+ 1
        return next == head ? nil : next
    }

    /// Stores an entry at the tail and advances it to `next` (from `nextTail`).
    @inlinable @inline(__always)
    mutating func push(_ entry: SubmissionQueueEntry, nextTail next: UInt32) {
        (slots.base + Int(tail) &* 64).storeBytes(of: entry, as: SubmissionQueueEntry.self)
        tail = next
        unpublished &+= 1
    }

    /// Stores an entry at the tail and advances it. The caller checked `isFull`.
    @inlinable @inline(__always)
    mutating func push(_ entry: SubmissionQueueEntry) {
        // The SQE's in-memory layout is the wire layout (SubmissionQueueEntry is @frozen in spec
        // order, 64 bytes, pinned by the spec tests), so this is one 64-byte copy.
        (slots.base + Int(tail) &* 64).storeBytes(of: entry, as: SubmissionQueueEntry.self)
        tail = tail &+ 1 == size ? 0 : tail &+ 1
        unpublished &+= 1
    }

    /// Publishes every pushed entry with one doorbell store. Returns whether it rang.
    @inlinable @inline(__always)
    mutating func publish() -> Bool {
        guard unpublished != 0 else { return false }
        // wmb: the SQE stores must reach memory before the controller can see the new tail and
        // fetch them (Linux nvme_write_sq_db; NVMe base 1.4, 4.1).
        Barrier.write()
        slots.doorbell.ring(tail)
        unpublished = 0
        return true
    }

    /// Whether `reported` is a head the controller may report: it can only move forward from
    /// the last head up to the tail (4.1). Anything else is a corrupt or stale CQE.
    @inlinable @inline(__always)
    func acceptsHead(_ reported: UInt32) -> Bool {
        guard reported < size else { return false }
        let advance = reported >= head ? reported - head : reported &+ size &- head
        return advance <= occupied
    }
}
