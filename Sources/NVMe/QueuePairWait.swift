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
    /// The wait is VFIO's `WaitLoop`: every look calls `device.service()` first, so the emulated
    /// device in stepped mode makes progress on this thread, and idle checks, paced by the coarse
    /// clock, run the rebuild after a controller reset, CSTS (fatal status, a vanished device),
    /// per-command timeouts with Abort and reset when `RecoveryPolicy` is enabled, and the
    /// deadline. When the deadline passes the commands stay outstanding (their ids and PRP pages
    /// are not reused) and can be aborted with `Controller.abort`. The wait ends at most one coarse
    /// tick after `timeoutMilliseconds`, never before.
    @inlinable @inline(__always)
    public mutating func waitForCompletions(
        atLeast minimum: Int = 1, mode: CompletionMode = .poll, timeoutMilliseconds: Int,
        _ body: (Completion) -> Void
    ) throws(NVMeError) -> Int {
        try waitForCompletions(atLeast: minimum, mode: mode, timeoutMilliseconds: timeoutMilliseconds, wakeUpFD: nil, body)
    }

    /// The same, also returning early (possibly with fewer completions) when `wakeUpFD` becomes
    /// readable: how a worker thread sleeping for completions learns about new requests.
    ///
    /// Poll mode looks at the CQ at once and is done when that found enough: the QD1 path. That
    /// look is inlined at the caller, so `body` and `reap` inline with it; everything else (a
    /// look that found too little, the interrupt modes, invalid completions to report, the
    /// every-256th idle check) goes out of line to `waitAfterFirstLook`. Called through one
    /// function, a perf loop paid 78 instructions per QD1 I/O more than `reap` alone (bench.sh
    /// swift-qd1-wait against swift-qd1): a call through the closure for every completion.
    @inlinable @inline(__always)
    mutating func waitForCompletions(
        atLeast minimum: Int, mode: CompletionMode, timeoutMilliseconds: Int, wakeUpFD: Int32?,
        _ body: (Completion) -> Void
    ) throws(NVMeError) -> Int {
        let target = min(max(minimum, 0), outstanding)
        let invalidBefore = stats.invalidCompletions
        var done = 0
        if mode.kind == .poll {
            serviceDevice()
            done = reap(body)
            // A pair whose completions are always there at once never idles, so its idle checks
            // would never run: every 256th such wait runs one (out of line) when its pacing
            // allows. Without this a busy poll-mode writer in the VM answered the kernel's
            // removal request (the device keeps completing until we let go) 2.5 s late.
            if done >= target && (quickWaits &+ 1) & 255 != 0 && stats.invalidCompletions == invalidBefore {
                quickWaits &+= 1
                return done
            }
        }
        return try waitAfterFirstLook(
            target: target, done: done, invalidBefore: invalidBefore, mode: mode,
            timeoutMilliseconds: timeoutMilliseconds, wakeUpFD: wakeUpFD, body)
    }

    /// The rest of a wait after poll mode's first look (`done` completions, none for the
    /// interrupt modes, which start at their eventfd so interrupts are consumed).
    @usableFromInline @inline(never)
    mutating func waitAfterFirstLook(
        target: Int, done firstLook: Int, invalidBefore: UInt64, mode: CompletionMode,
        timeoutMilliseconds: Int, wakeUpFD: Int32?, _ body: (Completion) -> Void
    ) throws(NVMeError) -> Int {
        defer {
            if stats.invalidCompletions != invalidBefore { reportInvalidCompletions(since: invalidBefore) }
        }
        var done = firstLook
        if mode.kind == .poll {
            if done >= target {
                quickWaits &+= 1
                if quickWaits & 255 == 0 { done &+= try busyIdleCheck(body) }
                return done
            }
        } else {
            if mode.kind == .hybrid && interruptVector == nil || interruptEventFD == nil {
                throw .noInterruptVector(queue: id)
            }
            serviceDevice()
        }
        var wait = WaitLoop(
            mode: mode, target: target, done: done, timeoutMilliseconds: timeoutMilliseconds,
            coarseStart: MonotonicClock.coarseNanoseconds(), wakeUpFD: wakeUpFD, alarmFD: removalEventFD)
        defer {
            // A pair starts every wait armed: a wait that ends (or throws) while polling unmasks.
            if wait.phase.polling {
                armInterrupt(afterPolling: true)
                if let fd = interruptEventFD { wait.statistics.interrupts &+= EventFD.drain(fd) }
            }
            stats.interrupts &+= wait.statistics.interrupts
            stats.interruptWakeups &+= wait.statistics.wakeups
            stats.pollingPhases &+= wait.statistics.pollingPhases
            stats.emptyPolls &+= wait.statistics.emptyPolls
            stats.pauses &+= wait.statistics.pauses
            stats.unsignalledFinds &+= wait.statistics.unsignalledFinds
        }
        try wait.run(&self) { (pair: inout Self) throws(NVMeError) -> Int in
            pair.serviceDevice()
            return pair.reap(body)
        } idleCheck: { (pair: inout Self, now: UInt64) throws(NVMeError) -> Int in
            pair.now = now
            return try pair.idleCheck(body)
        }
        if wait.timedOut {
            throw .timedOut(
                what: "\(target - wait.done) of \(target) completions on I/O queue \(id) (\(outstanding) commands outstanding)",
                milliseconds: timeoutMilliseconds)
        }
        return wait.done
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

extension QueuePair: WaitableQueue {
    /// The CQ's vector is masked only by a hybrid wait's polling phase; nothing to do otherwise.
    /// A shared vector is unmasked by this pair's vote (`SharedInterruptVector`).
    @inlinable
    public mutating func armInterrupt(afterPolling: Bool) {
        guard afterPolling, let vector = interruptVector else { return }
        if sharedVectorEventFD != nil { stopPollingSharedVector() } else { device.setInterruptMasked(vector: vector, false) }
    }

    /// Masks the CQ's MSI-X vector: completions are found by polling, not by messages. A shared
    /// vector is masked only once every CQ on it polls: masking it for this one would silence
    /// the others.
    @inlinable
    public mutating func disarmInterrupt() {
        guard let vector = interruptVector else { return }
        if sharedVectorEventFD != nil { startPollingSharedVector() } else { device.setInterruptMasked(vector: vector, true) }
    }

    /// Takes the shared vector's messages and hands them on to every pair on it, this one included.
    @inlinable
    public mutating func handOnSharedInterrupt() { handOnShared() }

    /// An MSI-X message needs no acknowledgement.
    @inlinable
    public mutating func acknowledgeInterrupt(afterWakeUp: Bool) {}
}

extension QueuePair {
    // Out of line: the shared-vector paths are not on the I/O path, and `sharedVector` is
    // internal (noncopyable, borrowed here).
    @usableFromInline func handOnShared() { _ = sharedVector?.handOn() }
    @usableFromInline func startPollingSharedVector() { sharedVector?.startPolling() }
    @usableFromInline func stopPollingSharedVector() { sharedVector?.stopPolling() }
}
