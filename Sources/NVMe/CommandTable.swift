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
/// `state`, the submitter writes the PRP list through `prpList`.
@frozen
public struct CommandTracker {
    /// The caller's completion token, returned with the status.
    public var token: UInt64
    /// This command id's own PRP list page (CPU address), preallocated: never shared, never
    /// reused before this id's completion is consumed.
    public let prpList: UnsafeMutablePointer<UInt64>
    /// The same page's IOVA, for PRP2.
    public let prpListIOVA: UInt64
    /// The full command id this slot was last submitted with (its generation above the slot's
    /// tag, see `CommandTable`) in the low 16 bits, and `idleBit` once its completion was consumed
    /// (or before the first submission). One word, so that a CQE is checked with one compare
    /// (`state == UInt32(id)`: in flight under exactly this id) and a submission is one store.
    public var state: UInt32
    /// Opcode, for reports of timed-out commands.
    public var opcode: UInt8
    /// Monotonic nanoseconds at submission (the queue pair's coarse clock), for timeouts.
    public var submittedAt: UInt64

    /// The bit of `state` above the command id: no command of this slot is in flight.
    @inlinable public static var idleBit: UInt32 { 0x1_0000 }

    /// Submitted and its completion not yet consumed. A CQE naming an id without it is rejected.
    @inlinable
    public var inFlight: Bool {
        get { state & Self.idleBit == 0 }
        set { state = newValue ? state & ~Self.idleBit : state | Self.idleBit }
    }

    /// The full command id this slot was last submitted with. A CQE must name exactly this id.
    @inlinable
    public var commandID: UInt16 { UInt16(truncatingIfNeeded: state) }

    @inlinable
    init(prpList: UnsafeMutablePointer<UInt64>, prpListIOVA: UInt64, commandID: UInt16) {
        token = 0
        self.prpList = prpList
        self.prpListIOVA = prpListIOVA
        state = UInt32(commandID) | Self.idleBit
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
/// and is rejected instead of completing the new command before its data arrived. The tag field
/// is one value wider than the slots need (its all-ones tag names no slot), so no command id is
/// ever 0xFFFF ("no command" in the Error Information log) without a test on the I/O path. A
/// queue of 31 commands has 11 generation bits (2048 reuses of one slot before an id repeats);
/// only a queue deeper than 32767 has none.
@frozen @usableFromInline
struct CommandTable {
    /// `tagMask + 1` trackers: every tag a CQE can name has one, so a CQE's tag needs no range
    /// check; those of slots `capacity...` are never in flight.
    @usableFromInline let trackers: UnsafeMutablePointer<CommandTracker>
    @usableFromInline let freeIDs: UnsafeMutablePointer<UInt16>
    @usableFromInline let capacity: Int
    @usableFromInline var freeCount: Int
    /// The tag bits of a command id (slot numbers 0..<capacity fit in them).
    /// (32 bits, like `generationStep`, so the I/O path uses them as memory operands.)
    @usableFromInline let tagMask: UInt32
    /// One generation: the lowest bit above the tag (0 when the tag takes all 16 bits).
    @usableFromInline let generationStep: UInt32

    /// `capacity` slots (at most 65535: 0xFFFF means "no command" in the error log), each with the
    /// list page `listPages.chunk(slot)`.
    init(capacity: Int, listPages: borrowing DMASlab) {
        precondition(capacity > 0 && capacity <= 0xFFFF && capacity <= listPages.capacity)
        self.capacity = capacity
        // The smallest tag field whose all-ones value is not a slot (slot < tagMask).
        var tagBits = 0
        while 1 << tagBits <= capacity { tagBits += 1 }
        tagMask = UInt32((1 << tagBits) - 1)
        generationStep = tagBits >= 16 ? 0 : UInt32(1 << tagBits)
        let tags = Int(tagMask) + 1
        trackers = .allocate(capacity: tags)
        freeIDs = .allocate(capacity: capacity)
        for slot in 0..<tags {
            // A tag beyond the slots gets slot 0's list page, never used: its tracker is never
            // submitted, and only marks the tag as not in flight.
            let page = listPages.chunk(slot < capacity ? slot : 0)
            // One generation before 0, so that a slot's first command id is its tag.
            let before = UInt16(truncatingIfNeeded: UInt32(slot) &- generationStep)
            trackers.advanced(by: slot).initialize(to: CommandTracker(
                prpList: page.address.bindMemory(to: UInt64.self, capacity: PRPBuilder.entriesPerListPage),
                prpListIOVA: page.iova.rawValue, commandID: before))
        }
        for slot in 0..<capacity {
            // Lowest slots on top of the stack: the first commands get ids 0, 1, 2, ...
            freeIDs[slot] = UInt16(capacity - 1 - slot)
        }
        freeCount = capacity
    }

    /// Frees the tables; the owner calls it once, from its `deinit`.
    func deallocate() {
        trackers.deinitialize(count: Int(tagMask) + 1)
        trackers.deallocate()
        freeIDs.deallocate()
    }

    @inlinable var inFlightCount: Int { capacity - freeCount }

    /// The tracker slot a command id names (its tag); below `capacity` for ids this table made.
    @inlinable @inline(__always)
    func slot(_ commandID: UInt16) -> Int { Int(UInt32(commandID) & tagMask) }

    /// Takes a free slot and returns its next command id (the next generation) with the slot, or
    /// nil when all are in flight. The id is recorded in the tracker by the submission
    /// (`markSubmitted`); a slot given back unsubmitted hands out the same id again.
    @inlinable @inline(__always)
    mutating func acquire() -> (id: UInt16, slot: Int)? {
        guard freeCount > 0 else { return nil }
        freeCount &-= 1
        let slot = Int(freeIDs[freeCount])
        // The tag never is all ones (init), so the id never is 0xFFFF.
        return (UInt16(truncatingIfNeeded: trackers[slot].state &+ generationStep), slot)
    }

    /// Records `commandID` as submitted and in flight in its tracker.
    @inlinable @inline(__always)
    static func markSubmitted(_ tracker: UnsafeMutablePointer<CommandTracker>, _ commandID: UInt16) {
        tracker.pointee.state = UInt32(commandID)
    }

    /// Whether `tracker`'s command is in flight under exactly `commandID` (a CQE's: untrusted).
    @inlinable @inline(__always)
    static func isInFlight(_ tracker: UnsafeMutablePointer<CommandTracker>, as commandID: UInt16) -> Bool {
        tracker.pointee.state == UInt32(commandID)
    }

    /// Records that `commandID`'s completion was consumed (its tracker keeps the id, for the next
    /// generation).
    @inlinable @inline(__always)
    static func markCompleted(_ tracker: UnsafeMutablePointer<CommandTracker>, _ commandID: UInt16) {
        tracker.pointee.state = UInt32(commandID) | CommandTracker.idleBit
    }

    /// Gives back a command id whose completion has been consumed (or that was never submitted).
    @inlinable @inline(__always)
    mutating func release(_ commandID: UInt16) {
        release(slot: slot(commandID))
    }

    /// Gives back a slot whose completion has been consumed (or that was never submitted).
    @inlinable @inline(__always)
    mutating func release(slot: Int) {
        freeIDs[freeCount] = UInt16(truncatingIfNeeded: slot)
        freeCount &+= 1
    }

    /// Whether `id` (from a CQE: untrusted) names a command in flight, generation included.
    @inlinable @inline(__always)
    func isOutstanding(_ id: UInt16) -> Bool {
        CommandTable.isInFlight(trackers + slot(id), as: id)
    }
}
