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

/// The Asynchronous Event Requests (NVMe base 1.4, 5.2) the driver keeps outstanding on the admin
/// queue, and the completions of them not yet handled. Part of `AdminQueue`, so it is guarded by
/// the admin lock and a reset (which ends the requests the device held) clears it in the same
/// place it re-initialises the rings.
///
/// An AER completes whenever the device has something to report, in the middle of other admin
/// commands: `AdminQueue.execute` hands such a completion here instead of dropping it as
/// unexpected. Each outstanding command id is accepted once, so a device that repeats or forges
/// completions cannot grow `completed` beyond the number of requests the driver submitted.
struct AsynchronousEventRequests: Sendable {
    /// How many requests to keep outstanding: min(AERL + 1, the cap), 0 until enabled.
    var target = 0
    /// Command ids of requests the device holds; never reused for another command meanwhile.
    private(set) var outstanding: Set<UInt16> = []
    /// Completions received and not yet handled, oldest first.
    var completed: [CompletionQueueEntry] = []

    /// At most this many requests whatever AERL says (device data): the admin queue needs room
    /// for real commands, and each one is an event the host must handle.
    static let cap = 16

    mutating func forgetOutstanding() { outstanding.removeAll() }

    mutating func noteSubmitted(_ cid: UInt16) { outstanding.insert(cid) }

    /// True if `cqe` completes one of our requests (which then is no longer outstanding).
    mutating func accept(_ cqe: CompletionQueueEntry) -> Bool {
        guard cqe.submissionQueueID == 0, outstanding.remove(cqe.commandID) != nil else { return false }
        completed.append(cqe)
        return true
    }
}

extension AdminQueue {
    /// The next admin command id: counting up (wrapping below 0xFFFF), skipping the ids of
    /// Asynchronous Event Requests the device still holds, so their late completions cannot be
    /// taken for another command's.
    mutating func takeCommandID() -> UInt16 {
        var cid = nextCommandID
        while eventRequests.outstanding.contains(cid) { cid = cid == 0xFFFE ? 0 : cid + 1 }
        nextCommandID = cid == 0xFFFE ? 0 : cid + 1
        return cid
    }

    /// Records an AER completion found while reaping, and takes its SQ head when it is a
    /// possible one (the device fetched everything up to it).
    mutating func acceptEventCompletion(_ cqe: CompletionQueueEntry) -> Bool {
        guard eventRequests.accept(cqe) else { return false }
        if submission.acceptsHead(UInt32(cqe.submissionQueueHead)) { submission.head = UInt32(cqe.submissionQueueHead) }
        return true
    }

    /// Submits Asynchronous Event Requests until `eventRequests.target` are outstanding, without
    /// waiting: the device holds them until it has an event. Leaves at least two free slots, so
    /// ordinary admin commands always find room. Returns how many it submitted.
    @discardableResult
    mutating func armEventRequests() -> Int {
        var submitted = 0
        while eventRequests.outstanding.count < eventRequests.target, Int(submission.size) - 1 - Int(submission.occupied) > 2 {
            let cid = takeCommandID()
            var entry = SubmissionQueueEntry.asynchronousEventRequest()
            entry.commandID = cid
            submission.push(entry)
            eventRequests.noteSubmitted(cid)
            submitted += 1
        }
        if submitted > 0 { _ = submission.publish() }
        return submitted
    }

    /// Reaps the admin CQ when no command is waiting (at most one ring's worth, so a device that
    /// keeps posting cannot hold the caller): AER completions are kept, anything else is counted
    /// as unexpected. Returns the completions gathered so far and forgets them.
    mutating func takeEventCompletions<Device: PCIFunction>(device: Device) -> [CompletionQueueEntry] {
        device.service()
        var examined = 0
        while examined < entries, let word = completion.pendingStatus() {
            examined += 1
            Barrier.dmaRead()
            let cqe = completion.headEntry(statusAndPhase: word)
            completion.advance()
            if !acceptEventCompletion(cqe) { unexpectedCompletions += 1 }
        }
        completion.publishHead()
        defer { eventRequests.completed.removeAll() }
        return eventRequests.completed
    }
}
