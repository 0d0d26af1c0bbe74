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

/// Per-command timeouts without reading the clock on the I/O path.
///
/// Submissions are stamped with the pair's coarse clock `now`, which only the idle checks refresh,
/// so a stamp can be far older than the submission (a pair that never idles never refreshes it).
/// The watch therefore never trusts a stamp's age. Instead it keeps *marks*: values the idle checks
/// assigned to `now`. A command stamped before mark `m` (`stamp < m`) was certainly submitted
/// before the refresh that wrote `m`, because every later submission carries `m` or a later value.
/// So a command is overdue when its stamp is older than a mark that is itself at least the timeout
/// old: it has been outstanding longer than the timeout (and at most a mark interval more). No
/// false timeouts after long busy phases, no clock read in `submit`.
struct TimeoutWatch {
    /// Refresh values, oldest first, at least a quarter timeout apart.
    var marks: [UInt64] = []
    /// Last time the check ran (rate limit: an eighth of the timeout).
    var lastCheck: UInt64 = 0
    /// Commands this pair sent an Abort for, still outstanding as far as it knows.
    var aborts: [SentAbort] = []

    struct SentAbort {
        let commandID: UInt16
        /// The command's stamp, so a later command reusing the id is not mistaken for it.
        let stamp: UInt64
        let abortedAt: UInt64
    }

    /// Records `now` as a mark when the last one is a quarter timeout old, and returns the newest
    /// mark at least `timeout` before `now` (commands stamped before it are overdue), if any.
    mutating func cutoff(now: UInt64, timeout: UInt64) -> UInt64? {
        if marks.last.map({ now &- $0 >= timeout / 4 }) ?? true { marks.append(now) }
        guard now >= timeout, let index = marks.lastIndex(where: { $0 <= now - timeout }) else { return nil }
        if index > 0 { marks.removeFirst(index) }
        return marks[0]
    }
}

extension QueuePair {
    // MARK: - Rebuild after a controller reset

    /// If the controller was reset since this pair's queues were created, rebuilds them (see the
    /// type's "Recovery" notes) and completes every command that was outstanding through `body`
    /// with "Command Aborted By Host". Returns how many it completed that way. The wait loops call
    /// it when idle; callers driving `submit`/`reap` themselves call it when their CQ stays empty.
    ///
    /// Throws the controller's failure (after completing the outstanding commands) if the queues
    /// cannot be created again.
    public mutating func recoverIfReset(_ body: (Completion) -> Void) throws(NVMeError) -> Int {
        guard controller.resetGeneration.load(ordering: .acquiring) != generation else { return 0 }
        return try rebuild(body)
    }

    mutating func rebuild(_ body: (Completion) -> Void) throws(NVMeError) -> Int {
        // The controller's copies of both rings are gone; ours go back to power-on state. The CQ is
        // zeroed so no old entry carries the phase tag (1) the first new completion will have.
        completionMemory.bytes.initializeMemory(as: UInt8.self, repeating: 0)
        submission = SubmissionRing(slots: submission.slots)
        completion = CompletionRing(slots: completion.slots)
        if let fd = interruptEventFD { _ = EventFD.drain(fd) }
        var failure: NVMeError?
        do {
            generation = try controller.createQueuesOnDevice(
                id: id, entries: entries, submissionIOVA: submissionQueueAddress,
                completionIOVA: completionMemory.iova.rawValue, vector: interruptVector)
            stats.rebuilds &+= 1
        } catch {
            failure = error
        }
        // Every command that was outstanding ends now, exactly once, with its token. Ids are freed
        // first, so `body` may submit again (onto the new queue).
        var ended: [(commandID: UInt16, token: UInt64)] = []
        for slot in 0..<commands.capacity where commands.trackers[slot].inFlight {
            commands.trackers[slot].inFlight = false
            let cid = commands.trackers[slot].commandID
            commands.release(cid)
            ended.append((cid, commands.trackers[slot].token))
        }
        watch.aborts.removeAll()
        stats.endedByReset &+= UInt64(ended.count)
        stats.completed &+= UInt64(ended.count)
        for (cid, token) in ended {
            body(Completion(token: token, commandID: cid, status: .abortedByHost, commandSpecific: 0))
        }
        if let failure { throw failure }
        if !ended.isEmpty {
            controller.logger.notice(
                "\(device.name): I/O queue \(id) rebuilt after a controller reset; \(ended.count) outstanding command(s) ended with Command Aborted By Host")
        }
        return ended.count
    }

    // MARK: - The idle check of the wait loops

    /// What a wait finds to do when the CQ stays empty (`WaitLoop`'s idle check): rebuild after a
    /// reset, check CSTS (reset on CFS when recovery is enabled), abort and escalate timed-out
    /// commands. Returns completions it delivered through `body`; the loop checks the deadline.
    /// Outside the I/O path: called only when idle, after `now` was refreshed.
    @usableFromInline
    mutating func idleCheck(_ body: (Completion) -> Void) throws(NVMeError) -> Int {
        stats.idleChecks &+= 1
        var delivered = try recoverIfReset(body)
        let policy = controller.options.recovery
        do {
            try controller.checkHealth(during: "I/O on queue \(id)")
        } catch {
            if controller.hasFailed { disconnectSubmissionDoorbell() }
            if error == .deviceRemoved {
                // Completions the controller posted between the last look and its going are
                // delivered first: this check returns them, and a later one, finding none, throws.
                serviceDevice()
                delivered &+= reap(body)
                if delivered > 0 { return delivered }
            }
            guard policy.enabled, case .controllerFatal = error else { throw error }
            delivered &+= try resetAndRebuild(reason: "CSTS.CFS set during I/O on queue \(id)", body)
        }
        if policy.enabled && outstanding > 0 {
            delivered &+= try checkCommandTimeouts(policy, body)
        }
        return delivered
    }

    /// The idle check of a pair that keeps finding its completions without waiting, at most once
    /// per `IdleCheckPacer` interval (coarse clock): a removal request, a failed controller and
    /// command timeouts are still noticed. Returns completions it delivered through `body`.
    @usableFromInline @inline(never)
    mutating func busyIdleCheck(_ body: (Completion) -> Void) throws(NVMeError) -> Int {
        guard busyPacer.isDue() else { return 0 }
        now = MonotonicClock.nanoseconds()
        return try idleCheck(body)
    }

    /// Resets the controller (unless another pair already did since this one's queues were made)
    /// and rebuilds this pair. A failed reset still completes the outstanding commands, then throws.
    mutating func resetAndRebuild(reason: String, _ body: (Completion) -> Void) throws(NVMeError) -> Int {
        var resetError: NVMeError?
        do {
            try controller.recover(reason: reason, observedGeneration: generation)
        } catch {
            resetError = error
        }
        let ended = try recoverIfReset(body)
        if let resetError { throw resetError }
        return ended
    }

    /// Abort for commands outstanding longer than the I/O timeout; a reset when an aborted command
    /// is still outstanding `abortTimeoutMilliseconds` later or the Abort itself fails.
    mutating func checkCommandTimeouts(_ policy: RecoveryPolicy, _ body: (Completion) -> Void) throws(NVMeError) -> Int {
        let t = now
        let timeout = UInt64(max(1, controller.options.ioTimeoutMilliseconds)) &* 1_000_000
        guard t &- watch.lastCheck >= timeout / 8 else { return 0 }
        watch.lastCheck = t
        guard let cutoff = watch.cutoff(now: t, timeout: timeout) else { return 0 }

        // Forget aborts whose command has completed (the reaper freed its id, or reused it).
        watch.aborts.removeAll { a in
            !commands.isOutstanding(a.commandID)
        }
        let abortTimeout = UInt64(max(1, policy.abortTimeoutMilliseconds)) &* 1_000_000
        if let stuck = watch.aborts.first(where: { t &- $0.abortedAt >= abortTimeout }) {
            return try resetAndRebuild(
                reason: "command id \(stuck.commandID) on I/O queue \(id) still outstanding \(policy.abortTimeoutMilliseconds) ms after its Abort",
                body)
        }
        // Abort Command Limit (ACL, zero-based): more at once would fail with Abort Command Limit Exceeded.
        let limit = Int(controller.identity.abortCommandLimit) + 1
        for slot in 0..<commands.capacity where watch.aborts.count < limit {
            let tracker = commands.trackers[slot]
            let cid = tracker.commandID
            guard tracker.inFlight, tracker.submittedAt < cutoff,
                !watch.aborts.contains(where: { $0.commandID == cid })
            else { continue }
            let aborted: Bool
            do {
                aborted = try controller.abortForRecovery(queue: id, commandID: cid)
            } catch {
                if case .commandFailed(_, let status) = error, status.matches(.abortCommandLimitExceeded) { break }
                return try resetAndRebuild(
                    reason: "Abort of timed-out command id \(cid) on I/O queue \(id) failed: \(error)", body)
            }
            stats.abortsSent &+= 1
            watch.aborts.append(TimeoutWatch.SentAbort(commandID: cid, stamp: tracker.submittedAt, abortedAt: t))
            controller.logger.warning(
                "\(device.name): command id \(cid) (opcode 0x\(String(tracker.opcode, radix: 16))) on I/O queue \(id) timed out after \(controller.options.ioTimeoutMilliseconds) ms; Abort sent, controller \(aborted ? "aborted it" : "did not find it")")
        }
        return 0
    }
}
