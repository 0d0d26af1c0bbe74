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
}
