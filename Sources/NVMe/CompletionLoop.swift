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

extension QueuePair {
    /// Waits until at least `minimum` commands have completed (at most the number outstanding),
    /// calling `body` for each, in the given completion mode. Returns how many completed.
    ///
    /// Every loop calls `device.service()` before each poll or sleep, so the emulated device in
    /// stepped mode makes progress on this thread. While idle it also runs `idleCheck`: the rebuild
    /// after a controller reset, CSTS (fatal status, a vanished device), per-command timeouts with
    /// Abort and reset when `RecoveryPolicy` is enabled, and the wait's own deadline. When the
    /// deadline passes the commands stay outstanding (their ids and PRP pages are not reused) and
    /// can be aborted with `Controller.abort`.
    ///
    /// Idle checks are paced by elapsed time (`IdleCheckPacer`, 1 ms by the coarse clock), not by
    /// spin count, because a check is an MMIO read and clock reads, costly on a slow device; the
    /// deadline also comes from the coarse clock, so the wait ends at most one coarse tick after
    /// `timeoutMilliseconds`, never before (measurements: docs/performance.md).
    @inlinable
    public mutating func waitForCompletions(
        atLeast minimum: Int = 1, mode: CompletionMode = .poll, timeoutMilliseconds: Int,
        _ body: (Completion) -> Void
    ) throws(NVMeError) -> Int {
        try waitForCompletions(atLeast: minimum, mode: mode, timeoutMilliseconds: timeoutMilliseconds, wakeUpFD: nil, body)
    }

    /// The same, also returning early (possibly with fewer completions) when `wakeUpFD` becomes
    /// readable: how a worker thread sleeping for completions learns about new requests.
    @inlinable
    mutating func waitForCompletions(
        atLeast minimum: Int, mode: CompletionMode, timeoutMilliseconds: Int, wakeUpFD: Int32?,
        _ body: (Completion) -> Void
    ) throws(NVMeError) -> Int {
        let target = min(max(minimum, 0), outstanding)
        let invalidBefore = stats.invalidCompletions
        defer {
            if stats.invalidCompletions != invalidBefore { reportInvalidCompletions(since: invalidBefore) }
        }
        serviceDevice()
        // Poll mode looks at the CQ at once; the interrupt modes start at their eventfd (which
        // they skip sleeping on when the CQ already holds entries), so interrupts are consumed.
        var done = mode.kind == .poll ? reap(body) : 0
        if done >= target && mode.kind == .poll { return done }
        let start = MonotonicClock.coarseNanoseconds()
        let deadline = Deadline(milliseconds: timeoutMilliseconds, coarseStart: start)
        var wait = WaitState(target: target, deadline: deadline, timeoutMilliseconds: timeoutMilliseconds, wakeUpFD: wakeUpFD, start: start)
        switch mode.kind {
        case .poll:
            try pollUntil(&wait, done: &done, body)
        case .interrupt:
            try sleepUntil(&wait, done: &done, body)
        case .hybrid:
            try napiUntil(&wait, idlePolls: mode.idlePolls, done: &done, body)
        }
        return done
    }

    /// Poll mode: spin on the phase tag with the pause hint. Every 64 empty polls the coarse
    /// clock (a few loads) says whether an idle check is due; `idleCheckSpinLimit` empty polls
    /// force one, so the bound holds even if that clock stalled.
    @inlinable
    mutating func pollUntil(_ wait: inout WaitState, done: inout Int, _ body: (Completion) -> Void) throws(NVMeError) {
        var spins: UInt32 = 0
        var emptyPolls: UInt64 = 0
        defer { stats.emptyPolls &+= emptyPolls }
        while done < wait.target {
            serviceDevice()
            let n = reap(body)
            if n != 0 {
                done &+= n
                continue
            }
            emptyPolls &+= 1
            spins &+= 1
            if spins & 63 == 0 && (wait.idleCheckDue() || spins >= Self.idleCheckSpinLimit) {
                spins = 0
                refreshClock()
                done &+= try idleCheck(wait, done: done, body)
                if let wake = wait.wakeUpFD, EventFD.isSignalled(wake) { return }
            }
            Barrier.cpuPause()
        }
    }

    /// Empty polls after which the poll loop runs an idle check whatever the coarse clock says
    /// (a backstop: at 10-100 ns a poll, tens of milliseconds).
    @inlinable static var idleCheckSpinLimit: UInt32 { 1 << 20 }

    /// Interrupt mode: sleep on the eventfd; on wake-up drain it, then reap. The timeout of each
    /// sleep only bounds a lost interrupt and lets the emulated device's stepped mode be serviced.
    @inlinable
    mutating func sleepUntil(_ wait: inout WaitState, done: inout Int, _ body: (Completion) -> Void) throws(NVMeError) {
        guard let fd = interruptEventFD else { throw .noInterruptVector(queue: id) }
        var backoff = Backoff(startMicroseconds: 1000, capMicroseconds: 10_000)
        while done < wait.target {
            // Top half: only wakes us. Sleep unless entries are already waiting (their message
            // may have been drained by an earlier pass).
            var woken = false
            if !hasPendingCompletion {
                let (signalled, wake) = sleep(on: fd, wait, backoff: &backoff)
                woken = wake
                if signalled {
                    stats.interruptWakeups &+= 1
                    backoff = Backoff(startMicroseconds: 1000, capMicroseconds: 10_000)
                }
            }
            // Bottom half: drain the eventfd, then reap (a message raised after the drain wakes
            // the next sleep, so none is lost).
            stats.interrupts &+= EventFD.drain(fd)
            serviceDevice()
            let n = reap(body)
            done &+= n
            if woken { return }
            if n == 0 {
                refreshClock()
                done &+= try idleCheck(wait, done: done, body)
            }
        }
    }

    /// One sleep of a waiter: on the CQ's eventfd, and on the wake-up eventfd if there is one.
    @inlinable
    func sleep(on fd: Int32, _ wait: WaitState, backoff: inout Backoff) -> (signalled: Bool, wakeUp: Bool) {
        let ms = backoff.nextMilliseconds()
        if let wake = wait.wakeUpFD { return EventFD.wait(fd, orWakeUp: wake, milliseconds: ms) }
        return (EventFD.wait(fd, milliseconds: ms), false)
    }

    /// Hybrid (NAPI) mode: sleep until the interrupt, mask the vector, poll until the CQ has been
    /// empty `idlePolls` times in a row, unmask, drain, look once more, sleep.
    @inlinable
    mutating func napiUntil(_ wait: inout WaitState, idlePolls: Int, done: inout Int, _ body: (Completion) -> Void) throws(NVMeError) {
        guard let fd = interruptEventFD, let vector = interruptVector else { throw .noInterruptVector(queue: id) }
        let target = wait.target
        var backoff = Backoff(startMicroseconds: 1000, capMicroseconds: 10_000)
        var sleepFirst = true
        var woken = false
        while done < target {
            if sleepFirst && !hasPendingCompletion {
                let (signalled, wake) = sleep(on: fd, wait, backoff: &backoff)
                woken = wake
                if signalled {
                    stats.interruptWakeups &+= 1
                    backoff = Backoff(startMicroseconds: 1000, capMicroseconds: 10_000)
                }
            }
            // Interrupts off while polling: completions are found by polling, not by messages.
            device.setInterruptMasked(vector: vector, true)
            stats.interrupts &+= EventFD.drain(fd)
            stats.pollingPhases &+= 1
            var idle = 0
            while done < target && idle < idlePolls {
                serviceDevice()
                let n = reap(body)
                if n != 0 {
                    done &+= n
                    idle = 0
                } else {
                    idle &+= 1
                    Barrier.cpuPause()
                }
            }
            // Re-arm: unmask, drop the signals raised while masked (their entries were polled),
            // then look at the CQ once more: an entry that landed after the last poll but before
            // the unmask raised no message we would wake for.
            device.setInterruptMasked(vector: vector, false)
            stats.interrupts &+= EventFD.drain(fd)
            if done >= target { return }
            serviceDevice()
            let late = reap(body)
            done &+= late
            if woken { return }
            // Found something: keep polling without sleeping.
            sleepFirst = late == 0
            // Paced like the poll loop: otherwise every sleep (one per I/O at QD1) reads CSTS.
            if late == 0 && wait.idleCheckDue() {
                refreshClock()
                done &+= try idleCheck(wait, done: done, body)
            }
        }
    }

    @usableFromInline
    func reportInvalidCompletions(since before: UInt64) {
        let count = stats.invalidCompletions - before
        let last = stats.lastInvalidCompletion.map {
            "command id \($0.commandID), SQ id \($0.submissionQueueID), SQ head \($0.submissionQueueHead)"
        } ?? "?"
        controller.logger.warning(
            "\(device.name): rejected \(count) invalid completion(s) on I/O queue \(id) (last: \(last)); the device is misbehaving")
    }
}

/// The parameters of one wait, passed to the mode loops.
@frozen @usableFromInline
struct WaitState {
    @usableFromInline let target: Int
    @usableFromInline let deadline: Deadline
    @usableFromInline let timeoutMilliseconds: Int
    @usableFromInline let wakeUpFD: Int32?
    /// When the next idle check is due (by the coarse clock).
    @usableFromInline var pacer: IdleCheckPacer

    @inlinable
    init(target: Int, deadline: Deadline, timeoutMilliseconds: Int, wakeUpFD: Int32?, start: UInt64) {
        self.target = target
        self.deadline = deadline
        self.timeoutMilliseconds = timeoutMilliseconds
        self.wakeUpFD = wakeUpFD
        self.pacer = IdleCheckPacer(start: start)
    }

    /// Whether an idle check is due (`IdleCheckPacer`); if so, marks now as the last check.
    @inlinable
    mutating func idleCheckDue() -> Bool { pacer.isDue() }
}
