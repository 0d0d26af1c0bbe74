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

@Suite struct SpinPolicyTests {
    /// Pauses taken over `checks` empty checks in a row.
    func pauses(_ policy: SpinPolicy, checks: Int) -> Int {
        var spinner = Spinner(policy)
        var paused = 0
        for _ in 0..<checks where spinner.empty() { paused += 1 }
        return paused
    }

    @Test func theDefaultSpinsFreelyThenPausesOnEveryLaterEmptyCheck() {
        let free = Int(SpinPolicy.default.spinsBeforePause)
        #expect(free > 0)
        #expect(pauses(.default, checks: free) == 0)
        #expect(pauses(.default, checks: free + 10) == 10)
    }

    @Test func alwaysPausePausesFromTheFirstEmptyCheckAndNeverPauseNever() {
        #expect(pauses(.alwaysPause, checks: 100) == 100)
        #expect(pauses(.neverPause, checks: 100_000) == 0)
        #expect(pauses(SpinPolicy(spinsBeforePause: 3), checks: 5) == 2)
    }

    @Test func workFoundStartsTheFreeSpinsAgain() {
        var spinner = Spinner(SpinPolicy(spinsBeforePause: 2))
        let before = [spinner.empty(), spinner.empty(), spinner.empty()]
        #expect(before == [false, false, true])
        spinner.found()
        #expect(spinner.emptyChecks == 0)
        let after = [spinner.empty(), spinner.empty(), spinner.empty()]
        #expect(after == [false, false, true])
    }

    @Test func theCountStopsAtTheBoundSoALongWaitNeverSpinsFreelyAgain() {
        var spinner = Spinner(SpinPolicy(spinsBeforePause: 4))
        for _ in 0..<1000 { spinner.empty() }
        #expect(spinner.emptyChecks == 4)
        let paused = spinner.empty()
        #expect(paused)
    }

    @Test func pollModeCarriesItsPolicyAndSaysSoWhenItIsNotTheDefault() {
        #expect(CompletionMode.poll.spin == .default)
        #expect(CompletionMode.poll.description == "poll")
        let eager = CompletionMode.poll(spin: .alwaysPause)
        #expect(eager.kind == .poll && eager.spin == .alwaysPause && eager != .poll)
        #expect(eager.description == "poll(spin: pause)")
        #expect(CompletionMode.poll(spin: SpinPolicy(spinsBeforePause: 64)).description == "poll(spin: 64 spins, then pause)")
    }

    /// A polled queue whose device finishes one item after each run of empty looks in `gaps`
    /// (scripted, so no timing is involved).
    struct ScriptedQueue: WaitableQueue {
        var gaps: [Int]
        var emptyLeft: Int
        let interruptEventFD: Int32? = nil
        init(gaps: [Int]) {
            self.gaps = Array(gaps.dropFirst())
            self.emptyLeft = gaps.first ?? 0
        }
        mutating func look() -> Int {
            if emptyLeft > 0 {
                emptyLeft -= 1
                return 0
            }
            emptyLeft = gaps.isEmpty ? 0 : gaps.removeFirst()
            return 1
        }
        mutating func armInterrupt(afterPolling: Bool) {}
        mutating func disarmInterrupt() {}
        mutating func acknowledgeInterrupt(afterWakeUp: Bool) {}
    }

    /// Runs a poll-mode wait for one item per gap; returns its statistics.
    func pollWait(_ policy: SpinPolicy, gaps: [Int]) -> InterruptStatistics {
        var queue = ScriptedQueue(gaps: gaps)
        var wait = WaitLoop(
            mode: .poll(spin: policy), target: gaps.count, timeoutMilliseconds: 60_000,
            coarseStart: MonotonicClock.coarseNanoseconds())
        wait.run(&queue) { (q: inout ScriptedQueue) -> Int in q.look() } idleCheck: { (_: inout ScriptedQueue, _: UInt64) -> Int in 0 }
        #expect(wait.done == gaps.count && !wait.timedOut)
        return wait.statistics
    }

    @Test func aPollWaitSpinsTheFreeEmptyChecksWithoutPausingThenPausesOnEveryLaterOne() {
        let s = pollWait(SpinPolicy(spinsBeforePause: 10), gaps: [25])
        #expect(s.emptyPolls == 25)
        #expect(s.pauses == 15)
        let short = pollWait(SpinPolicy(spinsBeforePause: 10), gaps: [10])
        #expect(short.emptyPolls == 10 && short.pauses == 0)
    }

    @Test func aCompletionFoundInAPollWaitGivesTheNextGapItsFreeSpinsAgain() {
        // 7 empty looks, an item, 7 more, an item: 4 pauses after each run of 3 free spins.
        let s = pollWait(SpinPolicy(spinsBeforePause: 3), gaps: [7, 7])
        #expect(s.emptyPolls == 14)
        #expect(s.pauses == 8)
    }

    @Test func thePollModesNamedPoliciesPauseOnEveryEmptyCheckOrOnNone() {
        let always = pollWait(.alwaysPause, gaps: [50])
        #expect(always.emptyPolls == 50 && always.pauses == 50)
        let never = pollWait(.neverPause, gaps: [5000])
        #expect(never.emptyPolls == 5000 && never.pauses == 0)
        let byDefault = pollWait(.default, gaps: [Int(SpinPolicy.default.spinsBeforePause) + 3])
        #expect(byDefault.pauses == 3)
    }

    @Test func theDefaultIs4096FreeSpinsAndPollModeUsesIt() {
        #expect(SpinPolicy.default.spinsBeforePause == 4096)
        #expect(SpinPolicy.alwaysPause.spinsBeforePause == 0)
        #expect(SpinPolicy.neverPause.spinsBeforePause == .max)
        #expect(CompletionMode.poll == .poll(spin: .default))
        #expect(CompletionMode.hybrid.spin == .default && CompletionMode.interrupt.spin == .default)
    }
}
