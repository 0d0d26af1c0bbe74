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
}
