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

/// The admin submission and completion queues (queue id 0, NVMe base 1.4, 4.1), with their DMA
/// memory and one PRP list page for admin transfers larger than two pages.
///
/// Admin commands are rare (bring-up, queue creation, features, logs), so they run one at a time:
/// the controller keeps this in a `Mutex`, and `execute` submits, rings, and polls for the one
/// completion. Polling needs no interrupt and works the same in the emulator's stepped mode.
struct AdminQueue: ~Copyable {
    var submission: SubmissionRing
    var completion: CompletionRing
    /// Command ids count up (wrapping below 0xFFFF), so a late completion of a timed-out command
    /// can never be mistaken for the current one.
    var nextCommandID: UInt16 = 0
    /// CQEs consumed that did not belong to the command being waited for (late or forged).
    var unexpectedCompletions = 0
    /// Features the caller set, replayed after a controller reset (which returns every feature to
    /// its default, 5.21.1). Guarded by the admin lock like the rest of this struct, so a reset
    /// sees exactly the features whose Set Features completed before it.
    var featuresToRestore = RememberedFeatures()
    /// Asynchronous Event Requests the device holds, and those it completed that nobody has
    /// handled yet (`AsynchronousEventRequests.swift`).
    var eventRequests = AsynchronousEventRequests()
    let submissionMemory: DMABuffer
    let completionMemory: DMABuffer
    let listPage: DMABuffer

    init(entries: Int, allocator: DMAAllocator, doorbells: DoorbellStride) throws(NVMeError) {
        // Locals first: a throwing allocation must not leave the struct partly initialised.
        let sqMemory = try allocator.allocateForNVMe(length: entries * 64)
        let cqMemory = try allocator.allocateForNVMe(length: entries * 16)
        let page = try allocator.allocateForNVMe(length: PRPBuilder.pageSize)
        submission = SubmissionRing(slots: RingSlots(base: sqMemory.address, size: entries, doorbell: doorbells.submissionTail(queue: 0)))
        completion = CompletionRing(slots: RingSlots(base: cqMemory.address, size: entries, doorbell: doorbells.completionHead(queue: 0)))
        submissionMemory = sqMemory
        completionMemory = cqMemory
        listPage = page
    }

    var entries: Int { Int(submission.size) }

    /// Puts both rings back to their power-on state after a controller reset removed the
    /// controller's copies (NVMe base 1.4, 7.3.2): empty, CQ zeroed so no stale entry carries the
    /// phase the host expects next. Command ids keep counting, so a completion of a command from
    /// before the reset can never match one issued after it.
    mutating func resetRings() {
        completionMemory.bytes.initializeMemory(as: UInt8.self, repeating: 0)
        submission = SubmissionRing(slots: submission.slots)
        completion = CompletionRing(slots: completion.slots)
        // The reset ended the Asynchronous Event Requests the device held (7.3.2).
        eventRequests.forgetOutstanding()
    }

    /// Submits one admin command and polls for its completion, calling `device.service()` before
    /// every poll and backing off with sleeps. Checks CSTS while waiting so that a fatal or
    /// vanished controller ends the wait at once instead of at the timeout.
    ///
    /// Returns the CQE; a non-success status is thrown as `.commandFailed(command: name, ...)`.
    @discardableResult
    mutating func execute<Device: PCIFunction>(
        _ command: SubmissionQueueEntry, data: DMASlice?, name: String,
        device: Device, registers: MMIORegion, timeoutMilliseconds: Int
    ) throws(NVMeError) -> CompletionQueueEntry {
        guard !submission.isFull else {
            // Only possible when earlier commands timed out and still occupy slots.
            throw .timedOut(what: "the admin queue to drain before \(name) (earlier commands never completed)", milliseconds: 0)
        }
        let cid = takeCommandID()
        var entry = command
        entry.commandID = cid
        if let data {
            let list = listPage.address.bindMemory(to: UInt64.self, capacity: PRPBuilder.entriesPerListPage)
            let pointers = try PRPBuilder.build(
                iova: data.iova.rawValue, length: data.length, listPage: list, listIOVA: listPage.iova.rawValue)
            entry.prp1 = pointers.prp1
            entry.prp2 = pointers.prp2
        }
        submission.push(entry)
        _ = submission.publish()

        let deadline = Deadline(milliseconds: timeoutMilliseconds)
        var backoff = Backoff(startMicroseconds: 5, capMicroseconds: 5_000)
        while true {
            device.service()
            var found: CompletionQueueEntry?
            // At most one ring per pass, then the deadline: a device that keeps posting entries
            // (ignoring the head doorbell) cannot hold the caller here, nor reset or close.
            var examined = 0
            while found == nil, examined < entries, let word = completion.pendingStatus() {
                examined += 1
                Barrier.dmaRead()
                let cqe = completion.headEntry(statusAndPhase: word)
                completion.advance()
                // Untrusted: accept only our command id, the admin SQ, and a possible SQ head.
                if cqe.commandID == cid, cqe.submissionQueueID == 0, submission.acceptsHead(UInt32(cqe.submissionQueueHead)) {
                    submission.head = UInt32(cqe.submissionQueueHead)
                    found = cqe
                } else if acceptEventCompletion(cqe) {
                    // Kept for the event handler; the command being waited for goes on waiting.
                } else {
                    unexpectedCompletions += 1
                }
            }
            completion.publishHead()
            if let cqe = found {
                guard cqe.status.isSuccess else { throw .commandFailed(command: name, status: cqe.status) }
                return cqe
            }
            let status = registers.read(ControllerRegister.status)
            if status.showsRemoval(of: device) { throw .deviceRemoved }
            if status.controllerFatalStatus { throw .controllerFatal(during: name) }
            if deadline.hasPassed { throw .timedOut(what: "\(name) (admin command id \(cid))", milliseconds: timeoutMilliseconds) }
            backoff.sleep()
        }
    }
}
