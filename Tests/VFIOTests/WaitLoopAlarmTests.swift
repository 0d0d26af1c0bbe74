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

import Testing
import VFIO

/// A sleeping wait and the device's removal request (issue 17): the request eventfd, passed as
/// the wait's alarm, ends the sleep at once and runs the idle check, instead of the check
/// waiting for the coarse clock, which stands still on an idle tickless CPU.
@Suite struct WaitLoopAlarmTests {
    /// A queue that never completes anything; its idle check reports the removal.
    struct SilentQueue: WaitableQueue {
        let interruptEventFD: Int32?
        var idleChecks = 0
        mutating func armInterrupt(afterPolling: Bool) {}
        mutating func disarmInterrupt() {}
        mutating func acknowledgeInterrupt(afterWakeUp: Bool) {}
    }

    struct Removed: Error {}

    @Test(arguments: [CompletionMode.interrupt, .hybrid])
    func alarmEndsTheFirstSleepWithTheIdleCheck(_ mode: CompletionMode) throws {
        let interrupt = try EventFD()
        let request = try EventFD()
        request.signal()
        var queue = SilentQueue(interruptEventFD: interrupt.rawValue)
        var wait = WaitLoop(
            mode: mode, target: 1, timeoutMilliseconds: 5000, coarseStart: MonotonicClock.coarseNanoseconds(),
            alarmFD: request.rawValue)
        var thrown = false
        do {
            try wait.run(&queue) { (_: inout SilentQueue) throws(Removed) -> Int in 0 } idleCheck: { (q: inout SilentQueue, _: UInt64) throws(Removed) -> Int in
                q.idleChecks += 1
                throw Removed()
            }
        } catch {
            thrown = true
        }
        #expect(thrown)
        // Armed once, slept once: the alarm ended that sleep, and the check ended the wait.
        #expect(wait.statistics.rearms == 1)
        #expect(queue.idleChecks == 1)
        // Not drained: every other waiter on the device sees it too.
        let stillSignalled = request.wait(timeoutMilliseconds: 0)
        #expect(stillSignalled)
    }

    @Test func alarmWhoseCheckDoesNotEndTheWaitIsLookedAtOnce() throws {
        let interrupt = try EventFD()
        let request = try EventFD()
        request.signal()
        var queue = SilentQueue(interruptEventFD: interrupt.rawValue)
        var wait = WaitLoop(
            mode: .interrupt, target: 1, timeoutMilliseconds: 50, coarseStart: MonotonicClock.coarseNanoseconds(),
            alarmFD: request.rawValue)
        wait.run(&queue) { (_: inout SilentQueue) -> Int in 0 } idleCheck: { (q: inout SilentQueue, _: UInt64) -> Int in
            q.idleChecks += 1
            return 0
        }
        // The wait runs to its deadline sleeping, not spinning on the unread alarm.
        #expect(wait.timedOut)
        #expect(wait.statistics.rearms < 200, "\(wait.statistics.rearms) sleeps in 50 ms")
    }

    /// A queue whose device finishes `items` and leaves (its message and the removal request
    /// both signalled) right after the look that precedes the first sleep; its idle check takes
    /// what is there, as the drivers' checks do, and throws when nothing is.
    struct LeavingQueue: WaitableQueue {
        let interruptEventFD: Int32?
        let request: Int32
        var looks = 0
        var finished = 0
        var takenByIdleCheck = 0
        mutating func armInterrupt(afterPolling: Bool) {}
        mutating func disarmInterrupt() {}
        mutating func acknowledgeInterrupt(afterWakeUp: Bool) {}

        mutating func look() -> Int {
            looks += 1
            let taken = finished
            finished = 0
            if looks == 2 {
                // The look after the arm: the device finishes five items, then goes.
                finished = 5
                if let fd = interruptEventFD { EventFD.signal(fd) }
                EventFD.signal(request)
            }
            return taken
        }
    }

    @Test(arguments: [CompletionMode.interrupt, .hybrid])
    func itemsFinishedAsTheDeviceLeftAreTakenBeforeItsRemovalEndsTheWait(_ mode: CompletionMode) throws {
        let interrupt = try EventFD()
        let request = try EventFD()
        var queue = LeavingQueue(interruptEventFD: interrupt.rawValue, request: request.rawValue)
        var wait = WaitLoop(
            mode: mode, target: 1, timeoutMilliseconds: 5000, coarseStart: MonotonicClock.coarseNanoseconds(),
            alarmFD: request.rawValue)
        try wait.run(&queue) { (q: inout LeavingQueue) throws(Removed) -> Int in q.look() } idleCheck: { (q: inout LeavingQueue, _: UInt64) throws(Removed) -> Int in
            let taken = q.finished
            q.finished = 0
            q.takenByIdleCheck += taken
            if taken == 0 { throw Removed() }
            return taken
        }
        #expect(wait.done == 5)
        // A sleep woken by both eventfds looks before the alarm's check; only a check that
        // came before the sleep (the pacer's, on a loaded machine) may have taken them.
        #expect(wait.statistics.wakeups == 0 || queue.takenByIdleCheck == 0)
    }
}
