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

/// What the driver remembers about one outstanding command, indexed by command id (SPDK's
/// `nvme_tracker`, libvfn's `nvme_rq`). Hot fields first: the reaper reads `token` and
/// `inFlight`, the submitter writes the PRP list through `prpList`.
@frozen
public struct CommandTracker {
    /// The caller's completion token, returned with the status.
    public var token: UInt64
    /// This command id's own PRP list page (CPU address), preallocated: never shared, never
    /// reused before this id's completion is consumed.
    public let prpList: UnsafeMutablePointer<UInt64>
    /// The same page's IOVA, for PRP2.
    public let prpListIOVA: UInt64
    /// Submitted and its completion not yet consumed. A CQE naming an id without it is rejected.
    public var inFlight: Bool
    /// The full command id this slot was last submitted with: its generation above the slot's
    /// tag. A CQE must name exactly this id (see `CommandTable`).
    public var commandID: UInt16
    /// Opcode, for reports of timed-out commands.
    public var opcode: UInt8
    /// Monotonic nanoseconds at submission (the queue pair's coarse clock), for timeouts.
    public var submittedAt: UInt64

    @inlinable
    init(prpList: UnsafeMutablePointer<UInt64>, prpListIOVA: UInt64, commandID: UInt16) {
        token = 0
        self.prpList = prpList
        self.prpListIOVA = prpListIOVA
        inFlight = false
        self.commandID = commandID
        opcode = 0
        submittedAt = 0
    }
}

/// Command ids and their trackers for one submission queue: a preallocated stack of free slots
/// and an array of trackers indexed by slot. Pop and push are O(1) with no allocation, no lock and
/// no reference counting. Owned by its queue (not thread-safe, by design).
///
/// **Generations** (Linux `nvme_cid`, since 5.15): a command id is the slot's *tag* in the low
/// bits and a generation, bumped at every reuse of the slot, in the bits the queue depth leaves
/// free. A stale or repeated CQE that arrives after its slot was reused names the old generation
/// and is rejected instead of completing the new command before its data arrived. A queue of 31
/// commands has 11 generation bits (2048 reuses of one slot before an id repeats); only a queue
/// deeper than 32767 has none.
@frozen @usableFromInline
struct CommandTable {
    @usableFromInline let trackers: UnsafeMutablePointer<CommandTracker>
    @usableFromInline let freeIDs: UnsafeMutablePointer<UInt16>
    @usableFromInline let capacity: Int
    @usableFromInline var freeCount: Int
    /// The tag bits of a command id (slot numbers 0..<capacity fit in them).
    @usableFromInline let tagMask: UInt16
    /// One generation: the lowest bit above the tag (0 when the tag takes all 16 bits).
    @usableFromInline let generationStep: UInt16

    /// `capacity` slots (at most 65535: 0xFFFF means "no command" in the error log), each with the
    /// list page `listPages.chunk(slot)`.
    init(capacity: Int, listPages: borrowing DMASlab) {
        precondition(capacity > 0 && capacity <= 0xFFFF && capacity <= listPages.capacity)
        self.capacity = capacity
        var tagBits = 0
        while 1 << tagBits < capacity { tagBits += 1 }
        tagMask = UInt16(truncatingIfNeeded: (1 << tagBits) - 1)
        generationStep = tagBits >= 16 ? 0 : UInt16(1 << tagBits)
        trackers = .allocate(capacity: capacity)
        freeIDs = .allocate(capacity: capacity)
        for slot in 0..<capacity {
            let page = listPages.chunk(slot)
            // One generation before 0, so that a slot's first command id is its tag.
            let before = UInt16(slot) &- generationStep
            trackers.advanced(by: slot).initialize(to: CommandTracker(
                prpList: page.address.bindMemory(to: UInt64.self, capacity: PRPBuilder.entriesPerListPage),
                prpListIOVA: page.iova.rawValue, commandID: before))
            // Lowest slots on top of the stack: the first commands get ids 0, 1, 2, ...
            freeIDs[slot] = UInt16(capacity - 1 - slot)
        }
        freeCount = capacity
    }

    /// Frees the tables; the owner calls it once, from its `deinit`.
    func deallocate() {
        trackers.deinitialize(count: capacity)
        trackers.deallocate()
        freeIDs.deallocate()
    }

    @inlinable var inFlightCount: Int { capacity - freeCount }

    /// The tracker slot a command id names (its tag); below `capacity` for ids this table made.
    @inlinable @inline(__always)
    func slot(_ commandID: UInt16) -> Int { Int(commandID & tagMask) }

    /// Takes a free slot and returns its next command id (the next generation), or nil when all
    /// are in flight.
    @inlinable @inline(__always)
    mutating func acquire() -> UInt16? {
        guard freeCount > 0 else { return nil }
        freeCount &-= 1
        let slot = Int(freeIDs[freeCount])
        let tracker = trackers + slot
        var cid = tracker.pointee.commandID &+ generationStep
        // 0xFFFF means "no command" (Error Information log): skip that generation.
        if cid == 0xFFFF { cid = cid &+ generationStep }
        tracker.pointee.commandID = cid
        return cid
    }

    /// Gives back a command id whose completion has been consumed (or that was never submitted).
    @inlinable @inline(__always)
    mutating func release(_ commandID: UInt16) {
        freeIDs[freeCount] = commandID & tagMask
        freeCount &+= 1
    }

    /// Whether `id` (from a CQE: untrusted) names a command in flight, generation included.
    @inlinable @inline(__always)
    func isOutstanding(_ id: UInt16) -> Bool {
        let slot = Int(id & tagMask)
        return slot < capacity && trackers[slot].inFlight && trackers[slot].commandID == id
    }
}
