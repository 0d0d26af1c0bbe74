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

/// One request that went as several commands: the caller's token, the parts whose completion
/// was not yet consumed, and the first failure.
@frozen @usableFromInline
struct SplitGroup {
    @usableFromInline var token: UInt64 = 0
    @usableFromInline var remaining: Int = 0
    /// The first part's command id: the one the submission returned and the completion names.
    @usableFromInline var leaderCommandID: UInt16 = 0
    /// Success until a part fails; then that part's status (the first failure wins).
    @usableFromInline var status = NVMeStatus(rawValue: 0)
    @usableFromInline var commandSpecific: UInt32 = 0

    @inlinable
    init(token: UInt64 = 0, remaining: Int = 0) {
        self.token = token
        self.remaining = remaining
    }
}

/// The bookkeeping of `SplittingQueuePair`: a group per request in flight, taken from a free
/// stack, and, per command tag of the queue pair, the group its part belongs to. Preallocated
/// for the pair's depth (a request takes at least one command id, so groups never run out before
/// ids do), so a split costs no allocation.
///
/// Raw memory behind a copyable view: the completion closure given to the pair's `reap` and
/// `waitForCompletions` updates it while the pair itself is borrowed `inout`. Its owner
/// (`SplittingQueuePair`) frees it once, from its `deinit`.
@usableFromInline
struct SplitRequestTable {
    @usableFromInline struct Counts {
        @usableFromInline var freeGroups: Int
        /// Split requests whose completion was not yet delivered.
        @usableFromInline var requests = 0
        /// Their parts whose completion was not yet consumed.
        @usableFromInline var parts = 0
    }

    @usableFromInline let groups: UnsafeMutablePointer<SplitGroup>
    @usableFromInline let freeGroups: UnsafeMutablePointer<Int32>
    /// By command tag: `(group + 1) << 16 | command id` while that id is a part in flight, else 0.
    /// The id is kept whole (generation included), so a later command on the same tag is never
    /// taken for the part.
    @usableFromInline let parts: UnsafeMutablePointer<UInt32>
    @usableFromInline let counts: UnsafeMutablePointer<Counts>
    /// The pair's tag mask (`CommandTable`): a command id's tag indexes `parts`.
    @usableFromInline let tagMask: UInt32

    /// Tables for a pair of `depth` command ids whose tags fit `tagMask`.
    init(depth: Int, tagMask: UInt32) {
        self.tagMask = tagMask
        groups = .allocate(capacity: depth)
        groups.initialize(repeating: SplitGroup(), count: depth)
        freeGroups = .allocate(capacity: depth)
        for i in 0..<depth { (freeGroups + i).initialize(to: Int32(depth - 1 - i)) }
        let tags = Int(tagMask) + 1
        parts = .allocate(capacity: tags)
        parts.initialize(repeating: 0, count: tags)
        counts = .allocate(capacity: 1)
        counts.initialize(to: Counts(freeGroups: depth))
    }

    func deallocate() {
        groups.deallocate()
        freeGroups.deallocate()
        parts.deallocate()
        counts.deallocate()
    }

    /// Takes a group for a request of `parts` commands, or nil when none is free.
    @inlinable
    func begin(token: UInt64, parts: Int) -> Int? {
        guard counts.pointee.freeGroups > 0 else { return nil }
        counts.pointee.freeGroups &-= 1
        let group = Int(freeGroups[counts.pointee.freeGroups])
        groups[group] = SplitGroup(token: token, remaining: parts)
        counts.pointee.requests &+= 1
        counts.pointee.parts &+= parts
        return group
    }

    /// Records that `commandID` (submitted) is a part of `group`; the first part names the request.
    @inlinable
    func add(commandID: UInt16, to group: Int, first: Bool) {
        parts[Int(UInt32(commandID) & tagMask)] = UInt32(group &+ 1) << 16 | UInt32(commandID)
        if first { groups[group].leaderCommandID = commandID }
    }

    /// Ends `group` early with `status` when only `sent` of its parts were submitted (the rest
    /// never will be); with none sent, gives the group back.
    @inlinable
    func truncate(_ group: Int, sent: Int, status: NVMeStatus) {
        let unsent = groups[group].remaining &- sent
        groups[group].remaining = sent
        counts.pointee.parts &-= unsent
        if sent == 0 {
            release(group)
        } else if groups[group].status.isSuccess {
            groups[group].status = status
        }
    }

    @inlinable
    func release(_ group: Int) {
        freeGroups[counts.pointee.freeGroups] = Int32(group)
        counts.pointee.freeGroups &+= 1
        counts.pointee.requests &-= 1
    }

    /// What the caller sees of a consumed completion: itself when it is not a part; nil for a
    /// part that is not the request's last; the request's completion (its token, its first
    /// part's id, the first failing part's status) for the last.
    @inlinable
    func finish(_ completion: Completion) -> Completion? {
        let tag = Int(UInt32(completion.commandID) & tagMask)
        let entry = parts[tag]
        guard entry >> 16 != 0, UInt16(truncatingIfNeeded: entry) == completion.commandID else { return completion }
        parts[tag] = 0
        counts.pointee.parts &-= 1
        let group = groups + Int(entry >> 16 &- 1)
        if !completion.status.isSuccess && group.pointee.status.isSuccess {
            group.pointee.status = completion.status
            group.pointee.commandSpecific = completion.commandSpecific
        }
        group.pointee.remaining &-= 1
        guard group.pointee.remaining == 0 else { return nil }
        release(Int(entry >> 16 &- 1))
        return Completion(
            token: group.pointee.token, commandID: group.pointee.leaderCommandID, status: group.pointee.status,
            commandSpecific: group.pointee.commandSpecific)
    }

    /// Split requests not yet completed, and their parts in flight.
    @inlinable var requestsInFlight: Int { counts.pointee.requests }
    @inlinable var partsInFlight: Int { counts.pointee.parts }
}
