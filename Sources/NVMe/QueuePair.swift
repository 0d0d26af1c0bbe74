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

/// One completed command, as the reaper hands it back: the caller's token and the decoded status.
@frozen
public struct Completion: Sendable, Equatable {
    /// The token given at submission.
    public let token: UInt64
    /// The command id the driver chose (for matching with an Abort or a trace).
    public let commandID: UInt16
    /// Decoded CQE status (SCT, SC, More, DNR).
    public let status: NVMeStatus
    /// CQE DW0, command specific.
    public let commandSpecific: UInt32

    @inlinable
    public init(token: UInt64, commandID: UInt16, status: NVMeStatus, commandSpecific: UInt32) {
        self.token = token
        self.commandID = commandID
        self.status = status
        self.commandSpecific = commandSpecific
    }
}

/// Counters of one queue pair, updated on the I/O path with plain adds (the pair is owned by one
/// thread). They are how tests and tools see batching, interrupts and rejected completions.
@frozen
public struct QueueStatistics: Sendable, Equatable {
    public var submitted: UInt64 = 0
    public var completed: UInt64 = 0
    /// SQ tail doorbell stores; fewer than `submitted` when submissions are batched.
    public var submissionDoorbells: UInt64 = 0
    /// CQ head doorbell stores; one per reap that consumed anything.
    public var completionDoorbells: UInt64 = 0
    /// Submissions refused because the SQ or the command ids were full.
    public var backpressure: UInt64 = 0
    /// CQEs that failed validation (command id not outstanding, SQ head impossible, wrong SQ id):
    /// consumed so the queue moves on, never used to complete anything.
    public var invalidCompletions: UInt64 = 0
    /// The last rejected CQE, for the report.
    public var lastInvalidCompletion: CompletionQueueEntry?
    /// Interrupt signals drained from the vector's eventfd (the device's count of messages).
    public var interrupts: UInt64 = 0
    /// Times a waiter slept on the eventfd and woke up.
    public var interruptWakeups: UInt64 = 0
    /// Sleeps that ended at their timeout with completions waiting: a wake-up that never came (or
    /// a late device). `InterruptStatistics.unsignalledFinds`.
    public var unsignalledFinds: UInt64 = 0
    /// Hybrid mode: polling phases entered after an interrupt (vector masked).
    public var pollingPhases: UInt64 = 0
    /// Aborts this pair sent for commands that timed out (recovery).
    public var abortsSent: UInt64 = 0
    /// Times this pair rebuilt its queues after a controller reset.
    public var rebuilds: UInt64 = 0
    /// Commands completed by the driver with "Command Aborted By Host" because a reset ended them.
    public var endedByReset: UInt64 = 0
    /// Poll-mode passes that found the CQ empty (spins of the poll loop).
    public var emptyPolls: UInt64 = 0
    /// Empty polls that ran the CPU's pause hint (`InterruptStatistics.pauses`): how much of the
    /// waiting the poll mode's `SpinPolicy` left to the pause hint.
    public var pauses: UInt64 = 0
    /// Idle checks run by the wait loops (each reads CSTS, an MMIO read, and the clock); paced by
    /// time, so their count per I/O shows what a slow device costs the poll loop.
    public var idleChecks: UInt64 = 0

    public init() {}
}

/// An I/O submission queue and its completion queue (NVMe base 1.4, 4.1, 4.6), with the command
/// ids, trackers and PRP list pages that go with them.
///
/// **Threading.** A queue pair is owned by exactly one thread or task at a time: it is
/// `~Copyable` (one owner, moved, never aliased) and `Sendable` (it can be moved to a worker
/// thread), and every mutating call needs exclusive (`inout`) access. Two threads cannot share one;
/// create a pair per thread instead (up to the number the controller granted).
///
/// **Hot path.** `submit` and `reap` neither allocate nor lock nor touch a reference count: the
/// rings, trackers and PRP pages are raw views into memory preallocated at creation, the device is
/// reached through an `unowned(unsafe)` reference, and everything is `@inlinable` so it is
/// specialised for the concrete device; the success path calls nothing (checked in the assembly:
/// docs/design-notes.md).
///
/// **Recovery.** After a controller reset (`RecoveryPolicy`), the pair notices the controller's
/// new reset generation in an idle check of its next wait and rebuilds in place: rings back to
/// empty, CQ zeroed, SQ and CQ created again on the device with the same memory, and every command
/// that was outstanding completed through the wait's `body` with "Command Aborted By Host". Until
/// then its doorbells point at queues that do not exist; submissions made in that window are
/// completed the same way. A caller driving `submit`/`reap` itself calls `recoverIfReset(_:)`.
///
/// **Lifetime.** Dropping the pair deletes its SQ and CQ on the controller (Delete I/O SQ, then
/// CQ), then unmaps its memory, so the device can never write into freed memory; if a Delete
/// fails or never completes, the controller is quiesced first (`Controller.quiesce`). The pair keeps
/// the controller alive. Outstanding commands should be reaped first; a command in flight when the
/// pair is dropped is aborted by the queue deletion (status "Command Aborted due to SQ Deletion").
public struct QueuePair<Device: PCIFunction>: ~Copyable, @unchecked Sendable {
    // Hot state first: everything `submit` and `reap` touch.
    @usableFromInline var submission: SubmissionRing
    @usableFromInline var completion: CompletionRing
    @usableFromInline var commands: CommandTable
    /// Coarse monotonic time, refreshed by the wait loops when they find the CQ empty; submissions
    /// are stamped with it so that the I/O path never reads the clock.
    @usableFromInline var now: UInt64
    @usableFromInline var stats = QueueStatistics()
    /// Poll-mode waits that found their completions at once, and the pacing of the idle check
    /// they run now and then (`busyIdleCheck`).
    @usableFromInline var quickWaits: UInt32 = 0
    @usableFromInline var busyPacer = IdleCheckPacer(start: MonotonicClock.coarseNanoseconds())
    /// Data goes as SGLs, not PRPs (`DataPointerPolicy`).
    @usableFromInline var usesSGL: Bool
    /// The largest single-slice transfer sent with PRPs; above it, SGLs (when `usesSGL`) up to
    /// `maximumTransferBytes` (`DataPointerPolicy`).
    @usableFromInline var prpLimit: Int
    /// Largest data transfer of one command (MDTS, capped at one PRP list page's reach).
    public let maximumTransferBytes: Int
    /// The IOVA space of this controller's device: a data slice from any other is refused.
    @usableFromInline let dmaDomain: DMADomain
    /// Queue id (1...), the same for the SQ and its CQ.
    public let id: UInt16
    /// The MSI-X vector of the CQ, or nil for a polled-only pair.
    public let interruptVector: Int?
    /// The eventfd a wait sleeps on and drains: the vector's, borrowed from the device (valid
    /// while this pair lives, since the controller disables its vectors only after the last pair
    /// holding one is dropped), or, on a shared vector, this pair's own (`sharedVector`).
    public let interruptEventFD: Int32?
    /// A shared vector's eventfd, which a wait also sleeps on; nil when the vector is the pair's own.
    public let sharedVectorEventFD: Int32?
    /// The device's removal request eventfd (borrowed like `interruptEventFD`): a sleeping wait
    /// also wakes on it, so a removal is answered at once.
    @usableFromInline let removalEventFD: Int32?
    @usableFromInline unowned(unsafe) let device: Device
    @usableFromInline unowned(unsafe) let controller: Controller<Device>

    // Recovery state, off the hot path: read and written only by the idle checks of the wait loops.
    /// The controller's reset generation this pair's queues were created in.
    var generation: UInt64
    /// Clock marks and sent Aborts for per-command timeouts.
    var watch = TimeoutWatch()

    // Ownership, released in this order after `deinit` deleted the queues on the device.
    let owner: Controller<Device>?
    /// The SQ's host memory; nil when it is in the Controller Memory Buffer (`memoryBufferSlot`).
    let submissionMemory: DMABuffer?
    /// The address Create I/O SQ gave the controller: an IOVA, or a controller memory address.
    let submissionQueueAddress: UInt64
    /// The SQ's piece of the Controller Memory Buffer, given back after the queue is deleted.
    let memoryBufferSlot: Int?
    let completionMemory: DMABuffer
    let listPages: DMASlab
    /// This pair's share of its vector when other CQs interrupt on it too (dropped after `deinit`
    /// deleted the queues: it leaves the vector, then closes its eventfd).
    let sharedVector: SharedInterruptVector.Member?

    init(
        controller: Controller<Device>, keepsControllerAlive: Bool, id: UInt16, entries: Int,
        submissionMemory: consuming DMABuffer?, submissionSlots: UnsafeMutableRawPointer, submissionAddress: UInt64,
        memoryBufferSlot: Int?, completionMemory: consuming DMABuffer, listPages: consuming DMASlab,
        doorbells: DoorbellStride, interruptVector: Int?, sharedVector: consuming SharedInterruptVector.Member?,
        maximumTransferBytes: Int, generation: UInt64
    ) {
        self.generation = generation
        self.controller = controller
        self.device = controller.device
        self.owner = keepsControllerAlive ? controller : nil
        self.id = id
        self.interruptVector = interruptVector
        let wake = sharedVector?.wakeEventFD
        self.sharedVectorEventFD = sharedVector?.vector.eventFD
        self.sharedVector = sharedVector
        self.interruptEventFD = wake ?? interruptVector.flatMap { controller.device.interruptEventFD(vector: $0) }
        self.removalEventFD = controller.device.removalRequestEventFD
        self.maximumTransferBytes = maximumTransferBytes
        // The controller checked a forced `.sgl` against SGLS at bring-up, so this cannot throw.
        let policy = controller.options.dataPointers
        usesSGL = (try? policy.usesSGL(controller.identity.sglSupport)) ?? false
        prpLimit = policy.prpLimit(usesSGL: usesSGL, maximumTransferBytes: maximumTransferBytes)
        self.dmaDomain = completionMemory.domain
        // The ring writes its entries wherever `submissionSlots` points, host memory or the
        // controller's buffer through the BAR mapping: the choice costs the I/O path nothing.
        submission = SubmissionRing(slots: RingSlots(
            base: submissionSlots, size: entries, doorbell: doorbells.submissionTail(queue: id)))
        self.submissionQueueAddress = submissionAddress
        self.memoryBufferSlot = memoryBufferSlot
        completion = CompletionRing(slots: RingSlots(
            base: completionMemory.address, size: entries, doorbell: doorbells.completionHead(queue: id)))
        commands = CommandTable(capacity: entries - 1, listPages: listPages)
        now = MonotonicClock.nanoseconds()
        self.submissionMemory = submissionMemory
        self.completionMemory = completionMemory
        self.listPages = listPages
    }

    deinit {
        // Delete the queues on the device before their memory is unmapped (members are destroyed
        // after this body runs).
        controller.retireQueuePair(id: id, outstanding: commands.inFlightCount, usedVector: interruptVector != nil)
        if let memoryBufferSlot { controller.releaseMemoryBufferSlot(memoryBufferSlot) }
        commands.deallocate()
    }

    /// Entries in each ring; at most `depth` commands can be outstanding.
    public var entries: Int { Int(submission.size) }
    /// Whether the SQ lives in the Controller Memory Buffer (asked for, and the buffer had room).
    public var submissionQueueInControllerMemory: Bool { memoryBufferSlot != nil }
    /// Commands that can be outstanding at once: one SQ slot always stays empty (4.1.2).
    public var depth: Int { commands.capacity }
    /// Commands submitted and not yet reaped.
    @inlinable public var outstanding: Int { commands.inFlightCount }
    /// Whether a submission would be refused right now.
    @inlinable public var canSubmit: Bool { !submission.isFull && commands.freeCount > 0 }
    /// Submissions written but not yet published by `ringSubmissionDoorbell()`.
    @inlinable public var unpublishedSubmissions: Int { Int(submission.unpublished) }
    public var statistics: QueueStatistics { stats }
    /// Whether the command id is submitted and its completion not yet consumed.
    public func isOutstanding(commandID: UInt16) -> Bool { commands.isOutstanding(commandID) }

    // MARK: - Submit

    /// Writes `command` into the next SQ slot with a fresh command id and PRPs or an SGL for `data`, without
    /// ringing the doorbell (call `ringSubmissionDoorbell()` once for a batch). Returns the id.
    ///
    /// Throws `.submissionQueueFull` or `.noFreeCommandID` (backpressure: reap, then retry), a PRP
    /// error for a misaligned or oversized buffer, or `.foreignDMAMemory` for a slice mapped for
    /// another device (its IOVA would name this device's own memory). Nothing is written when it throws.
    ///
    /// Always inlined, so that the 64-byte entry is built in its slot instead of copied there from
    /// the caller's stack (the measured cost: docs/design-notes.md).
    @inlinable @inline(__always)
    public mutating func submit(_ command: SubmissionQueueEntry, data: DMASlice? = nil, token: UInt64) throws(NVMeError) -> UInt16 {
        if let data, data.domain != dmaDomain { throw refuseForeign(data) }
        let (nextTail, cid, slot) = try reserveSlot()
        var entry = command
        entry.commandID = cid
        let tracker = commands.trackers + slot
        if let data {
            // One compare decides both the limit and the form: above `prpLimit` the data goes as
            // an SGL, or is too large. A separate test of the policy here cost the PRP path 8 to
            // 12 instructions per I/O in register spills (scripts/bench.sh).
            guard data.length <= prpLimit else {
                return try submitBeyondPRPLimit(entry, data: data, slot: slot, nextTail: nextTail, token: token)
            }
            let iova = data.iova.rawValue
            guard iova & 3 == 0 else {
                commands.release(slot: slot)
                throw .misalignedBuffer(iova: iova)
            }
            // PRPBuilder.build's own checks are the two above (our cap is within its reach). An
            // empty slice gets PRP1 = its address and no PRP2, which a transfer of nothing never reads.
            let pointers = PRPBuilder.pointers(
                alignedIOVA: iova, length: data.length,
                listPage: tracker.pointee.prpList, listIOVA: tracker.pointee.prpListIOVA)
            entry.prp1 = pointers.prp1
            entry.prp2 = pointers.prp2
        }
        enqueue(entry, tracker: tracker, token: token, nextTail: nextTail)
        return cid
    }

    /// `submit` for data above `prpLimit`: one SGL Data Block in SGL1 when this pair uses SGLs and
    /// the transfer is within `maximumTransferBytes`, else `.transferTooLarge` (the slot given back).
    @usableFromInline @inline(never)
    mutating func submitBeyondPRPLimit(
        _ command: SubmissionQueueEntry, data: DMASlice, slot: Int, nextTail: UInt32, token: UInt64
    ) throws(NVMeError) -> UInt16 {
        guard usesSGL, data.length <= maximumTransferBytes else {
            commands.release(slot: slot)
            throw .transferTooLarge(bytes: data.length, maximum: maximumTransferBytes)
        }
        let iova = data.iova.rawValue
        guard iova & 3 == 0 else {
            commands.release(slot: slot)
            throw .misalignedBuffer(iova: iova)
        }
        var entry = command
        if data.length > 0 { SGLBuilder.setDataBlock(&entry, iova: iova, length: data.length) }
        enqueue(entry, tracker: commands.trackers + slot, token: token, nextTail: nextTail)
        return entry.commandID
    }

    /// `submit`'s refusal of another domain's slice, out of line and before a command id is taken,
    /// so the inlined I/O path keeps only the compare and its branch (the cost: docs/design-notes.md).
    @usableFromInline @inline(never)
    func refuseForeign(_ data: DMASlice) -> NVMeError {
        return .foreignDMAMemory(iova: data.iova.rawValue, buffer: data.domain, device: dmaDomain)
    }

    /// The next SQ slot and a free command id, or the backpressure error (counted): what every
    /// submission takes before it writes anything, so that a refusal leaves the queue untouched.
    @inlinable @inline(__always)
    mutating func reserveSlot() throws(NVMeError) -> (nextTail: UInt32, commandID: UInt16, slot: Int) {
        guard let nextTail = submission.nextTail else {
            stats.backpressure &+= 1
            throw .submissionQueueFull(queue: id)
        }
        guard let (cid, slot) = commands.acquire() else {
            stats.backpressure &+= 1
            throw .noFreeCommandID(queue: id)
        }
        return (nextTail, cid, slot)
    }

    /// Records the tracker and pushes the entry (its command id and data pointer already set).
    @inlinable @inline(__always)
    mutating func enqueue(
        _ entry: SubmissionQueueEntry, tracker: UnsafeMutablePointer<CommandTracker>, token: UInt64, nextTail: UInt32
    ) {
        tracker.pointee.token = token
        CommandTable.markSubmitted(tracker, entry.commandID)
        tracker.pointee.opcode = entry.opcode
        tracker.pointee.submittedAt = now
        submission.push(entry, nextTail: nextTail)
        stats.submitted &+= 1
    }

    /// Publishes every submission since the last call with one SQ tail doorbell store (after a
    /// write barrier). Does nothing when there is nothing new.
    @inlinable
    public mutating func ringSubmissionDoorbell() {
        if submission.publish() { stats.submissionDoorbells &+= 1 }
    }

    /// The device's progress hook (`PCIFunction.service()`), called by every wait loop.
    ///
    /// Through `Unmanaged`, because calling a method on the `unowned(unsafe)` reference inside a
    /// `mutating` method makes the compiler take a strong copy: a retain and a release on every
    /// spin of a poll loop (docs/design-notes.md). The queue pair's controller keeps the device
    /// alive, so the guaranteed reference is sound.
    @inlinable @inline(__always)
    func serviceDevice() {
        Unmanaged.passUnretained(device)._withUnsafeGuaranteedRef { $0.service() }
    }

    // MARK: - Reap

    /// Consumes up to `limit` new completions, calling `body` for each valid one, and writes the
    /// CQ head doorbell once for the batch. Returns how many commands completed.
    ///
    /// Every CQE is device data and is validated before use (Linux `nvme_handle_cqe`): its command
    /// id must be in range and outstanding, its SQ id ours, and its SQ head must lie between the
    /// last head and our tail. A CQE failing any check is consumed (so the queue moves on), counted
    /// in `statistics.invalidCompletions`, and completes nothing: a duplicate or forged completion
    /// cannot complete a command twice or free a command id early, and one naming an earlier
    /// generation of a reused slot (`CommandTable`) cannot complete its new command. A command id and its PRP list
    /// page become free here, before `body` runs, so `body` may submit again.
    @inlinable
    public mutating func reap(limit: Int = .max, _ body: (Completion) -> Void) -> Int {
        // The ring positions live in locals for the loop and are written back once at the end:
        // `body` cannot touch the pair (we hold it `inout`), and without the copies every pass
        // reloads them after the acquire load of the phase tag (which orders later loads).
        let cqEntries = completion.slots.base
        // One size for both rings: the SQ and the CQ are created with the same entries (`init`).
        let size = completion.slots.size
        var cqHead = completion.head
        var phase = completion.phase
        var sqHead = submission.head
        // SQ entries between the last reported head and our tail, kept up to date as the head
        // moves instead of being recomputed for every CQE.
        var sqOccupied = submission.occupied
        // Both at most `size` (one pass over the CQ per call, so a device that keeps producing
        // garbage cannot hold the caller here). A 32-bit `count` lets the compiler drop the
        // `count < limit` test when the limit is a constant at least 2^32 (the default).
        var count: UInt32 = 0
        var examined: UInt32 = 0
        while examined < size, Int(count) < limit {
            let cqe = cqEntries + Int(cqHead) &* 16
            let word = DMAWord.load16(cqe + 14)
            guard word & 1 == phase else { break }
            // dma_rmb: the phase tag was seen; only now read the rest of the entry.
            Barrier.dmaRead()
            let entry = CompletionRing.entry(at: UnsafeRawPointer(cqe), statusAndPhase: word)
            cqHead &+= 1
            if cqHead == size {
                cqHead = 0
                phase ^= 1
            }
            examined &+= 1
            let cid = entry.commandID
            let reported = UInt32(entry.submissionQueueHead)
            // SQHD: below the ring size, and forward from the last head by at most the entries
            // we have in the SQ (4.1); anything else is a corrupt or stale CQE.
            let advance = reported >= sqHead ? reported &- sqHead : reported &+ size &- sqHead
            let slot = commands.slot(cid)
            let tracker = commands.trackers + slot
            // The command id names its slot's current generation, in flight (`CommandTable`).
            guard CommandTable.isInFlight(tracker, as: cid),
                entry.submissionQueueID == id, reported < size, advance <= sqOccupied
            else {
                stats.invalidCompletions &+= 1
                stats.lastInvalidCompletion = entry
                continue
            }
            sqHead = reported
            sqOccupied &-= advance
            CommandTable.markCompleted(tracker, cid)
            let token = tracker.pointee.token
            commands.release(slot: slot)
            count &+= 1
            body(Completion(token: token, commandID: cid, status: entry.status, commandSpecific: entry.commandSpecific))
        }
        submission.head = sqHead
        if examined != 0 {
            completion.consumed(upTo: cqHead, phase: phase)
            stats.completionDoorbells &+= 1
        }
        stats.completed &+= UInt64(count)
        return Int(count)
    }

    /// Whether the CQ holds a new entry (a cheap peek; nothing is consumed).
    @inlinable
    public var hasPendingCompletion: Bool { completion.pendingStatus() != nil }

    /// Refreshes the coarse clock that stamps submissions. The wait loops call it when idle; a
    /// caller driving `submit`/`reap` itself may call it at any cadence it likes.
    @inlinable
    public mutating func refreshClock() { now = MonotonicClock.nanoseconds() }

    /// Outstanding commands submitted before `nanosecondsAgo` (by the coarse clock), oldest first,
    /// as (command id, opcode, age in ns). For timeout handling and reports: it scans every
    /// tracker and allocates, so it is not for the I/O path.
    public func overdueCommands(olderThan nanosecondsAgo: UInt64) -> [(commandID: UInt16, opcode: UInt8, age: UInt64)] {
        let current = MonotonicClock.nanoseconds()
        var result: [(commandID: UInt16, opcode: UInt8, age: UInt64)] = []
        for slot in 0..<commands.capacity {
            let t = commands.trackers[slot]
            guard t.inFlight else { continue }
            let age = current &- t.submittedAt
            if age >= nanosecondsAgo { result.append((t.commandID, t.opcode, age)) }
        }
        return result.sorted { $0.age > $1.age }
    }
}
