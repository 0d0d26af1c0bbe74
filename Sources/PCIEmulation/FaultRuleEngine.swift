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

/// When a matching event triggers a fault rule.
public enum FaultTrigger: Sendable, Hashable {
    /// Every matching event.
    case always
    /// Only the nth matching event (1-based).
    case nth(Int)
    /// Every nth matching event (the nth, 2nth, ...).
    case every(Int)
    /// Each matching event with this probability (0...1), from the plan's seeded generator.
    case probability(Double)
}

/// One rule of an emulated device's fault plan, as the engine sees it: what it matches is the
/// device's business (a command's queue and opcode, a frame's direction); when it fires and how
/// often is the engine's.
public protocol FaultRuleMatching: Sendable {
    /// What rules are evaluated on: a fetched command, a received or sent frame.
    associatedtype Event
    var trigger: FaultTrigger { get }
    /// Stop after firing this many times; nil: no limit.
    var limit: Int? { get }
    func matches(_ event: Event) -> Bool
}

/// A device's fault plan: its rules and the seed of the generator that probability triggers draw
/// from. Each emulator names its own (`FaultPlan` for NVMe commands, `NICFaultPlan` for frames).
public struct SeededFaultPlan<Rule: FaultRuleMatching>: Sendable {
    public var seed: UInt64
    public var rules: [Rule]

    public init(seed: UInt64 = 0x5EED, rules: [Rule] = []) {
        self.seed = seed
        self.rules = rules
    }

    /// No faults.
    public static var none: Self { Self() }
}

/// A seeded, deterministic fault plan in progress: per-rule match and fire counts and the
/// generator, so that the same rules, seed and event sequence give the same faults.
public struct FaultRuleEngine<Rule: FaultRuleMatching>: Sendable {
    public let rules: [Rule]
    private var matches: [Int]
    private var fired: [Int]
    private var generator: SeededGenerator
    /// Rules fired so far, over all rules.
    public private(set) var firedTotal = 0

    public init(_ plan: SeededFaultPlan<Rule>) {
        rules = plan.rules
        matches = Array(repeating: 0, count: rules.count)
        fired = Array(repeating: 0, count: rules.count)
        generator = SeededGenerator(seed: plan.seed)
    }

    public var isEmpty: Bool { rules.isEmpty }

    /// Evaluates every rule for `event` and calls `body` with each one that fires, in plan order.
    /// A rule past its limit neither counts the match nor draws from the generator.
    public mutating func evaluate(_ event: Rule.Event, _ body: (Rule) -> Void) {
        for (i, rule) in rules.enumerated() where rule.matches(event) {
            if let limit = rule.limit, fired[i] >= limit { continue }
            matches[i] += 1
            let fires: Bool
            switch rule.trigger {
            case .always: fires = true
            case .nth(let n): fires = matches[i] == n
            case .every(let n): fires = n > 0 && matches[i] % n == 0
            case .probability(let p): fires = generator.nextUnit() < p
            }
            guard fires else { continue }
            fired[i] += 1
            firedTotal += 1
            body(rule)
        }
    }
}
