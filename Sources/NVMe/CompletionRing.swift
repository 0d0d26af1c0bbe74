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

/// The host's view of a completion queue (NVMe base 1.4, 4.6): 16-byte entries the controller
/// writes, with a phase tag that flips on every pass so new entries can be told from old ones
/// without a shared index. The phase the host expects starts at 1 because the memory starts
/// zeroed (4.6.2; Linux `nvmeq->cq_phase = 1`).
@frozen @usableFromInline
struct CompletionRing {
    /// The 16-byte entries and the CQ head doorbell.
    @usableFromInline let slots: RingSlots
    @usableFromInline var head: UInt32 = 0
    /// The phase tag value that marks a new entry at `head`.
    @usableFromInline var phase: UInt16 = 1
    /// Entries consumed since the head doorbell was last written.
    @usableFromInline var unpublished: UInt32 = 0

    /// An empty ring over `slots` (power-on state: head 0, phase 1).
    @inlinable
    init(slots: RingSlots) { self.slots = slots }

    /// The status word (DW3 bits 31:16) of the entry at the head if its phase tag says it is new.
    ///
    /// A "load once" with acquire (`DMAWord.load16`): the compiler cannot
    /// hoist it out of a spin loop. The caller issues `Barrier.dmaRead()` before reading the rest.
    @inlinable @inline(__always)
    func pendingStatus() -> UInt16? {
        let word = DMAWord.load16(slots.base + (Int(head) &* 16 &+ 14))
        return word & 1 == phase ? word : nil
    }

    /// Reads the rest of the head entry; call only after `pendingStatus()` and `Barrier.dmaRead()`.
    @inlinable @inline(__always)
    func headEntry(statusAndPhase: UInt16) -> CompletionQueueEntry {
        Self.entry(at: UnsafeRawPointer(slots.base + Int(head) &* 16), statusAndPhase: statusAndPhase)
    }

    /// The entry at `p` with the status word already loaded (after the phase check and the
    /// `Barrier.dmaRead()` that follows it).
    @inlinable @inline(__always)
    static func entry(at p: UnsafeRawPointer, statusAndPhase: UInt16) -> CompletionQueueEntry {
        CompletionQueueEntry(
            commandSpecific: p.load(fromByteOffset: 0, as: UInt32.self),
            reserved: 0,
            submissionQueueHead: p.load(fromByteOffset: 8, as: UInt16.self),
            submissionQueueID: p.load(fromByteOffset: 10, as: UInt16.self),
            commandID: p.load(fromByteOffset: 12, as: UInt16.self),
            statusAndPhase: statusAndPhase)
    }

    /// Consumes the head entry, flipping the expected phase at the wrap.
    @inlinable @inline(__always)
    mutating func advance() {
        head &+= 1
        if head == slots.size {
            head = 0
            phase ^= 1
        }
        unpublished &+= 1
    }

    /// Records that the host consumed the entries before `newHead` (expecting `newPhase` there)
    /// and tells the controller with one doorbell store: the reaper's batch end, after it walked
    /// the ring with local copies of the head and phase.
    @inlinable @inline(__always)
    mutating func consumed(upTo newHead: UInt32, phase newPhase: UInt16) {
        head = newHead
        phase = newPhase
        unpublished = 0
        slots.doorbell.ring(newHead)
    }

    /// Tells the controller the slots up to `head` may be reused: one store per batch (Linux
    /// `nvme_ring_cq_doorbell` after `nvme_process_cq`). Our reads of the entries are complete by
    /// program order; the store is a release store.
    @inlinable @inline(__always)
    mutating func publishHead() {
        guard unpublished != 0 else { return }
        slots.doorbell.ring(head)
        unpublished = 0
    }
}
