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

import PCIEmulation
import Testing

/// A rule on integers: matches the even ones or all.
struct ParityRule: FaultRuleMatching {
    var evenOnly: Bool
    var trigger: FaultTrigger
    var limit: Int?
    var name: String

    func matches(_ event: Int) -> Bool { !evenOnly || event % 2 == 0 }
}

/// The shared fault-rule engine: triggers, limits, matching, and determinism by seed.
@Suite struct FaultRuleEngineTests {
    func fired(_ rules: [ParityRule], seed: UInt64 = 1, events: Range<Int> = 0..<20) -> [[String]] {
        var engine = FaultRuleEngine(SeededFaultPlan(seed: seed, rules: rules))
        return events.map { event in
            var names: [String] = []
            engine.evaluate(event) { names.append($0.name) }
            return names
        }
    }

    @Test func nthFiresOnceOnTheNthMatchOnly() {
        let result = fired([ParityRule(evenOnly: true, trigger: .nth(3), limit: nil, name: "n")])
        #expect(result.enumerated().filter { !$0.element.isEmpty }.map(\.offset) == [4])
    }

    @Test func everyFiresOnEachNthMatchUpToItsLimit() {
        let result = fired([ParityRule(evenOnly: false, trigger: .every(4), limit: 3, name: "e")])
        #expect(result.enumerated().filter { !$0.element.isEmpty }.map(\.offset) == [3, 7, 11])
    }

    @Test func alwaysFiresOnEveryMatchInPlanOrder() {
        let result = fired([ParityRule(evenOnly: true, trigger: .always, limit: nil, name: "a"),
                            ParityRule(evenOnly: false, trigger: .always, limit: nil, name: "b")], events: 0..<2)
        #expect(result == [["a", "b"], ["b"]])
    }

    @Test func probabilityIsDeterminedBySeed() {
        let rule = ParityRule(evenOnly: false, trigger: .probability(0.5), limit: nil, name: "p")
        let a = fired([rule], seed: 42, events: 0..<200)
        #expect(a == fired([rule], seed: 42, events: 0..<200))
        #expect(a != fired([rule], seed: 43, events: 0..<200))
        let count = a.filter { !$0.isEmpty }.count
        #expect(count > 60 && count < 140)
        let never = fired([ParityRule(evenOnly: false, trigger: .probability(0), limit: nil, name: "z")])
        let none = never.allSatisfy { $0.isEmpty }
        #expect(none)
    }
}
