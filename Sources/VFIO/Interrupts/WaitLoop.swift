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


/// What a queue lends the one wait loop (`WaitLoop`): the eventfd of its interrupt vector and how
/// to arm, disarm and acknowledge its cause. An NVMe queue pair and both NIC queues conform, so
/// poll, interrupt and hybrid waits behave, and are fixed, the same way for a disk and a NIC.
public protocol WaitableQueue: ~Copyable {
    /// The eventfd of the queue's interrupt vector, borrowed from the device; nil when polled only.
    var interruptEventFD: Int32? { get }
    /// Lets the queue's cause raise its vector again; called before every sleep, and when a
    /// hybrid polling phase ends (`afterPolling`). The loop drains the eventfd right after.
    mutating func armInterrupt(afterPolling: Bool)
    /// Keeps the cause from raising its vector while a hybrid wait polls (NAPI).
    mutating func disarmInterrupt()
    /// Called after the eventfd was drained: after a wake-up (`afterWakeUp`) or after arming.
    /// For what a shared or level-triggered vector needs (a cause written back, INTx unmasked).
    mutating func acknowledgeInterrupt(afterWakeUp: Bool)
    /// For a queue whose vector other queues share (`SharedInterruptVector`): the vector's own
    /// eventfd, which the loop sleeps on as well, while `interruptEventFD` is this queue's wake
    /// eventfd. Nil (the default) when the vector is the queue's alone.
    var sharedVectorEventFD: Int32? { get }
    /// Hands what the shared vector's eventfd holds on to every queue sharing it, this one's
    /// `interruptEventFD` included (`SharedInterruptVector.handOn()`). The loop calls it before
    /// each drain of `interruptEventFD`, so a message it takes from the vector reaches every queue.
    mutating func handOnSharedInterrupt()
}

extension WaitableQueue where Self: ~Copyable {
    /// A vector of the queue's own.
    @inlinable public var sharedVectorEventFD: Int32? { nil }
    @inlinable public mutating func handOnSharedInterrupt() {}
}

/// Counters of a queue's waits.
@frozen
public struct InterruptStatistics: Sendable, Equatable {
    /// Messages drained from the vector's eventfd.
    public var interrupts: UInt64 = 0
    /// Sleeps on the eventfd that ended with a signal.
    public var wakeups: UInt64 = 0
    /// Hybrid mode: polling phases entered after an interrupt (cause masked).
    public var pollingPhases: UInt64 = 0
    /// Times the cause was armed before sleeping.
    public var rearms: UInt64 = 0
    /// Poll-mode passes that found nothing.
    public var emptyPolls: UInt64 = 0
    /// Empty polls that ran the CPU's pause hint: in poll mode those past the `SpinPolicy`'s free
    /// spins, in a hybrid polling phase every one. What the policy did, without timing it.
    public var pauses: UInt64 = 0
    /// Sleeps that ended at their timeout, after which a look found items at once: their message
    /// never reached this waiter (a lost wake-up, which the bounded sleep only papers over) or
    /// the device was that late with it. Near zero when every message wakes its waiter.
    public var unsignalledFinds: UInt64 = 0

    public init() {}
}

/// Hybrid mode's state: whether the cause is disarmed and the queue polled, and the empty polls
/// of the phase so far. A NIC queue keeps it between waits (NAPI: a caller that keeps coming back
/// keeps polling); an NVMe queue pair starts every wait armed.
@frozen
public struct HybridPhase: Sendable {
    public var polling = false
    public var idlePolls = 0

    @inlinable
    public init(polling: Bool = false, idlePolls: Int = 0) {
        self.polling = polling
        self.idlePolls = idlePolls
    }
}

/// The one wait loop of the drivers: waits until `target` items (completions, frames, reclaimed
/// descriptors) were consumed, the deadline passes, or `wakeUpFD` is signalled, in a
/// `CompletionMode`.
///
/// - poll: look, spin (the mode's `SpinPolicy`: free spins, then the pause hint), look again. Every 64 empty looks the coarse clock (a few loads) says
///   whether an idle check is due (`IdleCheckPacer`); `idleCheckSpinLimit` empty looks force one.
/// - interrupt: drain the eventfd first (a message there is consumed before its items); then
///   look, and when nothing is there arm the cause, drain the eventfd, look once more (an item that arrived before the
///   arm raised nothing to wake for), sleep on the eventfd, drain, acknowledge, look.
/// - hybrid (NAPI): as interrupt, but a wake-up disarms the cause and the queue is polled until
///   `idlePolls` looks in a row found nothing; then the cause is armed again, followed by the
///   drain and the last look that close the race with an item that landed while it was disarmed.
///
/// Idle checks (the queue's: a vanished device, fatal status, command timeouts; then the deadline
/// and the wake-up eventfd) are paced by elapsed time on the coarse clock, not by spins, because a
/// check is an MMIO read and a clock read, costly on a slow device (measurements:
/// docs/performance.md). The deadline comes from the coarse clock, so starting a wait reads no
/// clock device; it ends at most one coarse tick after the timeout, never before. Sleeps are bounded (1 ms doubling to 10 ms, and the time
/// left), so an emulated device in stepped mode is serviced and a lost message costs little.
@frozen
public struct WaitLoop {
    public let mode: CompletionMode
    public let target: Int
    public let deadline: Deadline
    /// Ends the wait early when readable (a worker thread's "new requests" eventfd).
    public let wakeUpFD: Int32?
    /// Items consumed so far.
    public var done: Int
    /// The deadline passed before `target` items were consumed.
    public var timedOut = false
    /// `wakeUpFD` ended the wait.
    public var wokenUp = false
    public var phase: HybridPhase
    public var statistics = InterruptStatistics()
    @usableFromInline var pacer: IdleCheckPacer
    /// An eventfd that ends a sleep and runs the idle check at once: the device's removal
    /// request (`PCIFunction.removalRequestEventFD`). Idle checks are otherwise paced from each
    /// wait's start, and short waits that sleep rarely reach one: in the VM an interrupt-mode
    /// writer at queue depth 8 answered the kernel's request 3 s late without this, 0.15 s
    /// with it (scripts/hil-test.sh hotplug). Dropped for the rest of the wait once the check
    /// did not end it.
    @usableFromInline var alarmFD: Int32?

    /// `coarseStart` is a `MonotonicClock.coarseNanoseconds()` reading (the wait's start).
    @inlinable
    public init(
        mode: CompletionMode, target: Int, done: Int = 0, timeoutMilliseconds: Int, coarseStart: UInt64,
        wakeUpFD: Int32? = nil, phase: HybridPhase = HybridPhase(), alarmFD: Int32? = nil
    ) {
        self.alarmFD = alarmFD
        self.mode = mode
        self.target = target
        self.done = done
        self.deadline = Deadline(milliseconds: timeoutMilliseconds, coarseStart: coarseStart)
        self.wakeUpFD = wakeUpFD
        self.phase = phase
        self.pacer = IdleCheckPacer(start: coarseStart)
    }

    /// Empty polls after which the loop runs an idle check whatever the coarse clock says
    /// (a backstop: at 10-100 ns a poll, tens of milliseconds).
    @inlinable public static var idleCheckSpinLimit: UInt32 { 1 << 20 }

    /// Runs the wait on `queue`. `look` consumes what is there (servicing the device first) and
    /// returns how many items; `idleCheck` gets the precise time, and
    /// returns items it consumed itself (an NVMe rebuild completes commands) or throws (a gone or
    /// failed device). A check that finds the device gone looks once more and returns what it
    /// finished before going, throwing only when nothing is left (the drivers' checks do), since
    /// the device can finish items between the last look and the check. The interrupt modes
    /// need `queue.interruptEventFD`.
    @inlinable
    public mutating func run<Queue: WaitableQueue & ~Copyable, Failure: Error>(
        _ queue: inout Queue,
        look: (inout Queue) throws(Failure) -> Int,
        idleCheck: (inout Queue, _ now: UInt64) throws(Failure) -> Int
    ) throws(Failure) {
        var spins: UInt32 = 0
        var spinner = Spinner(mode.spin)
        var backoff = Backoff(startMicroseconds: 1000, capMicroseconds: 10_000)
        // The interrupt modes start at the eventfd, so messages are consumed (and counted) before
        // the items they announce; one already there starts hybrid mode's polling phase.
        if mode.kind != .poll && !phase.polling, let fd = queue.interruptEventFD {
            let signals = Self.drain(fd, &queue)
            statistics.interrupts &+= signals
            if signals != 0 { interrupted(&queue) }
        }
        while true {
            let n = try look(&queue)
            if n != 0 {
                done &+= n
                phase.idlePolls = 0
                spinner.found()
            }
            if done >= target { return }
            if n != 0 { continue }
            var afterPolling = false
            switch mode.kind {
            case .poll:
                statistics.emptyPolls &+= 1
                if try pacedIdleCheck(&spins, &queue, idleCheck) { return }
                if spinner.empty() { statistics.pauses &+= 1 }
                continue
            case .hybrid where phase.polling:
                phase.idlePolls &+= 1
                if phase.idlePolls < mode.idlePolls {
                    if try pacedIdleCheck(&spins, &queue, idleCheck) { return }
                    Barrier.cpuPause()
                    statistics.pauses &+= 1
                    continue
                }
                // Budget spent: leave polling; the arm below is followed by the last look.
                phase.polling = false
                afterPolling = true
            case .interrupt, .hybrid:
                break
            }
            guard let fd = queue.interruptEventFD else { return }
            // Arm, drop the signals raised before (their items are found by the look that
            // follows), look once more: a signal raised after the drain wakes the sleep.
            queue.armInterrupt(afterPolling: afterPolling)
            statistics.rearms &+= 1
            statistics.interrupts &+= Self.drain(fd, &queue)
            queue.acknowledgeInterrupt(afterWakeUp: false)
            let late = try look(&queue)
            if late != 0 {
                done &+= late
                if done >= target { return }
                continue
            }
            let coarse = MonotonicClock.coarseNanoseconds()
            if coarse >= deadline.nanoseconds || pacer.isDue() {
                if try idle(&queue, idleCheck) { return }
            }
            let left = deadline.nanoseconds > coarse ? (deadline.nanoseconds - coarse + 999_999) / 1_000_000 : 1
            let ms = Int32(min(UInt64(backoff.nextMilliseconds()), left))
            let signalled: Bool
            let wake: Bool
            let shared = queue.sharedVectorEventFD
            var alarmed = false
            if wakeUpFD != nil || shared != nil || alarmFD != nil {
                (signalled, wake, alarmed) = EventFD.wait(fd, shared: shared, orWakeUp: wakeUpFD, orAlarm: alarmFD, milliseconds: ms)
            } else {
                (signalled, wake) = (EventFD.wait(fd, milliseconds: ms), false)
            }
            if signalled {
                statistics.wakeups &+= 1
                statistics.interrupts &+= Self.drain(fd, &queue)
                backoff = Backoff(startMicroseconds: 1000, capMicroseconds: 10_000)
                interrupted(&queue)
            }
            if wake {
                done &+= try look(&queue)
                wokenUp = true
                return
            }
            // After a sleep without a message, and before the alarm's idle check even after one:
            // what the device finished before it went is taken before the check can end the wait
            // (a removal that lands with the queue's message wakes the sleep with both).
            if !signalled || alarmed {
                let found = try look(&queue)
                if found != 0 {
                    if !signalled { statistics.unsignalledFinds &+= 1 }
                    done &+= found
                    phase.idlePolls = 0
                    if done >= target { return }
                }
            }
            if alarmed {
                // Never drained (every waiter must see it): one check per wait, else it would
                // end every later sleep at once.
                alarmFD = nil
                if try idle(&queue, idleCheck) { return }
            }
        }
    }

    /// Drains the queue's eventfd, after handing a shared vector's message on to every queue
    /// sharing it (this one included), so that no drain here takes another queue's wake-up.
    @inlinable
    static func drain<Queue: WaitableQueue & ~Copyable>(_ fd: Int32, _ queue: inout Queue) -> UInt64 {
        if queue.sharedVectorEventFD != nil { queue.handOnSharedInterrupt() }
        return EventFD.drain(fd)
    }

    /// After the eventfd was drained of a message: acknowledge it; in hybrid mode disarm the cause
    /// and poll (NAPI: the interrupt schedules the poll).
    @inlinable
    mutating func interrupted<Queue: WaitableQueue & ~Copyable>(_ queue: inout Queue) {
        queue.acknowledgeInterrupt(afterWakeUp: true)
        if mode.kind == .hybrid {
            queue.disarmInterrupt()
            phase.polling = true
            phase.idlePolls = 0
            statistics.pollingPhases &+= 1
        }
    }

    /// Counts an empty poll; every 64, runs the idle check if the pacer says it is due (or the
    /// backstop). True when the wait ends.
    @inlinable
    mutating func pacedIdleCheck<Queue: WaitableQueue & ~Copyable, Failure: Error>(
        _ spins: inout UInt32, _ queue: inout Queue,
        _ idleCheck: (inout Queue, _ now: UInt64) throws(Failure) -> Int
    ) throws(Failure) -> Bool {
        spins &+= 1
        guard spins & 63 == 0 && (pacer.isDue() || spins >= Self.idleCheckSpinLimit) else { return false }
        spins = 0
        return try idle(&queue, idleCheck)
    }

    /// The idle check: the queue's, then the deadline, then the wake-up eventfd. True when the
    /// wait ends.
    @inlinable
    mutating func idle<Queue: WaitableQueue & ~Copyable, Failure: Error>(
        _ queue: inout Queue, _ idleCheck: (inout Queue, _ now: UInt64) throws(Failure) -> Int
    ) throws(Failure) -> Bool {
        let now = MonotonicClock.nanoseconds()
        done &+= try idleCheck(&queue, now)
        if done >= target { return true }
        if now >= deadline.nanoseconds {
            timedOut = true
            return true
        }
        if let wake = wakeUpFD, EventFD.isSignalled(wake) {
            wokenUp = true
            return true
        }
        return false
    }
}
