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

import NVMeSpec
import PCIEmulation

/// A seeded, deterministic list of faults for the emulated controller to inject.
///
/// Each rule matches commands by queue and opcode and fires on the nth match, every nth match,
/// always, or with a probability drawn from a generator seeded with `seed`: the same plan, the
/// same seed and the same command sequence give the same faults. Rules are evaluated when a
/// command is fetched; several can fire on one command (e.g. delay it and withhold its interrupt).
public typealias FaultPlan = SeededFaultPlan<FaultRule>

/// One fault rule: which commands it matches, when it fires, what it does.
public struct FaultRule: FaultRuleMatching, Hashable {
    /// The submission queues a rule looks at.
    public enum QueueMatch: Sendable, Hashable {
        case any
        case admin
        case anyIO
        case queue(UInt16)

        func matches(_ sqid: UInt16) -> Bool {
            switch self {
            case .any: return true
            case .admin: return sqid == 0
            case .anyIO: return sqid != 0
            case .queue(let id): return sqid == id
            }
        }
    }

    /// When a matching command triggers the rule (shared with every emulator's fault plan).
    public typealias Trigger = FaultTrigger

    public var queue: QueueMatch
    /// The opcode to match (admin opcodes on the admin queue, I/O opcodes on I/O queues); nil: any.
    public var opcode: UInt8?
    public var trigger: Trigger
    public var action: FaultAction
    /// Stop after firing this many times; nil: no limit.
    public var limit: Int?

    public init(queue: QueueMatch = .anyIO, opcode: UInt8? = nil, trigger: Trigger = .always, action: FaultAction, limit: Int? = nil) {
        self.queue = queue
        self.opcode = opcode
        self.trigger = trigger
        self.action = action
        self.limit = limit
    }

    /// Matches one I/O opcode on any I/O queue.
    public static func io(_ opcode: IOOpcode, _ trigger: Trigger = .always, _ action: FaultAction, limit: Int? = nil) -> FaultRule {
        FaultRule(queue: .anyIO, opcode: opcode.rawValue, trigger: trigger, action: action, limit: limit)
    }

    public func matches(_ command: FetchedCommand) -> Bool {
        queue.matches(command.submissionQueue) && (opcode == nil || opcode == command.opcode)
    }

    /// Matches one admin opcode.
    public static func admin(_ opcode: AdminOpcode, _ trigger: Trigger = .always, _ action: FaultAction, limit: Int? = nil) -> FaultRule {
        FaultRule(queue: .admin, opcode: opcode.rawValue, trigger: trigger, action: action, limit: limit)
    }
}

/// What an injected fault does to a command. Each one imitates a way real controllers fail, so the
/// driver's timeout, abort, validation and reset paths can be tested.
public enum FaultAction: Sendable, Hashable {
    /// Execute the command but never post its completion (Abort can still find it).
    case dropCompletion
    /// Post the completion this much later than it would have been.
    case delayCompletion(nanoseconds: UInt64)
    /// Do not execute the command; complete it with this status.
    case completeWithStatus(NVMeStatus)
    /// Post the completion twice.
    case duplicateCompletion
    /// Post the completion with a command id that was not submitted (the real one is lost).
    case badCommandID
    /// Write the completion with the wrong phase tag, so the host never sees it and stalls there.
    case corruptPhase
    /// Set CSTS.CFS (NVMe base 1.4, 3.1.6) and stop processing until a controller reset.
    case controllerFatalStatus
    /// Stop fetching commands and posting completions until a controller reset.
    case stopResponding
    /// Treat the command's data transfer as an IOMMU fault: recorded, Data Transfer Error.
    case dmaFault
    /// Post the completion without signalling its interrupt vector.
    case withholdInterrupt
    /// Fetch the command, then neither execute nor complete it: a command the controller hangs
    /// on (a Delete I/O Queue that never completes leaves the queue alive and in use). Everything
    /// else carries on; Abort can still find it.
    case hang
    /// Move the data of a transfer to the host (Read, Identify, Get Log Page) this much after the
    /// completion is posted, instead of at fetch: the completion arrives before the data, so a
    /// driver that frees or reuses the buffer on completion-timeout paths would be written into.
    /// The late write goes through the IOMMU and bus master checks as they are then, and a
    /// controller reset (CC.EN 1 → 0) or function reset discards it. Host-to-device data is
    /// still read at fetch.
    case lateData(nanoseconds: UInt64)
    /// This admin command's completion is lost, and from now on the controller floods the admin
    /// CQ: every step it writes one full ring of completions with the current phase, ignoring the
    /// CQ head doorbell, each with this command's id with bit 15 flipped (an id no command
    /// carries) and SQ id 0. Only a controller reset or a function reset stops it.
    case floodAdminCompletions
    /// Post the completion normally, and post it again, word for word, when the next command is
    /// fetched from the same SQ, before that command's own completion: a stale CQE arriving after
    /// its id was handed out again (a driver that reuses a freed id at once gives the next command
    /// the same id; one with id generations, as Linux since 5.15, does not).
    case staleCompletionOnReuse
    /// The function leaves the bus as this command is fetched (a hot-unplug, with the request
    /// interrupt; `simulateSurpriseRemoval`): it and every later command never complete, those
    /// completed before stand. For tests of removal during I/O, e.g. after the nth write.
    case surpriseRemoval

    public var kind: FaultKind {
        switch self {
        case .dropCompletion: return .dropCompletion
        case .delayCompletion: return .delayCompletion
        case .completeWithStatus: return .completeWithStatus
        case .duplicateCompletion: return .duplicateCompletion
        case .badCommandID: return .badCommandID
        case .corruptPhase: return .corruptPhase
        case .controllerFatalStatus: return .controllerFatalStatus
        case .stopResponding: return .stopResponding
        case .dmaFault: return .dmaFault
        case .withholdInterrupt: return .withholdInterrupt
        case .hang: return .hang
        case .lateData: return .lateData
        case .floodAdminCompletions: return .floodAdminCompletions
        case .staleCompletionOnReuse: return .staleCompletionOnReuse
        case .surpriseRemoval: return .surpriseRemoval
        }
    }
}

/// The kinds of `FaultAction`, for counting.
public enum FaultKind: Int, Sendable, Hashable, CaseIterable {
    case dropCompletion, delayCompletion, completeWithStatus, duplicateCompletion, badCommandID
    case corruptPhase, controllerFatalStatus, stopResponding, dmaFault, withholdInterrupt
    case hang, lateData, floodAdminCompletions, staleCompletionOnReuse, surpriseRemoval
}

/// How many faults of each kind were injected.
public struct FaultCounters: Sendable, Hashable {
    var counts = [Int](repeating: 0, count: FaultKind.allCases.count)

    public init() {}

    public subscript(kind: FaultKind) -> Int { counts[kind.rawValue] }

    public var total: Int { counts.reduce(0, +) }

    mutating func increment(_ kind: FaultKind) { counts[kind.rawValue] += 1 }
}

/// The effects of every rule that fired for one command.
struct FaultEffects {
    var drop = false
    var delayNanoseconds: UInt64 = 0
    var status: NVMeStatus?
    var duplicate = false
    var badCommandID = false
    var corruptPhase = false
    var fatal = false
    var stop = false
    var dmaFault = false
    var withholdInterrupt = false
    var hang = false
    var lateDataNanoseconds: UInt64?
    var flood = false
    var staleOnReuse = false
    var removal = false
}

/// What fault rules are evaluated on: a command just fetched from an SQ.
public struct FetchedCommand: Sendable, Hashable {
    public var submissionQueue: UInt16
    public var opcode: UInt8

    public init(submissionQueue: UInt16, opcode: UInt8) {
        self.submissionQueue = submissionQueue
        self.opcode = opcode
    }
}

/// The fault plan's running state: the shared rule engine and the counters by kind.
struct FaultInjector {
    let plan: FaultPlan
    private var engine: FaultRuleEngine<FaultRule>
    private(set) var counters = FaultCounters()

    init(plan: FaultPlan) {
        self.plan = plan
        engine = FaultRuleEngine(plan)
    }

    var isEmpty: Bool { engine.isEmpty }

    /// Evaluates every rule for a command just fetched from `sqid`.
    mutating func evaluate(sqid: UInt16, opcode: UInt8) -> FaultEffects {
        var effects = FaultEffects()
        var counters = self.counters
        engine.evaluate(FetchedCommand(submissionQueue: sqid, opcode: opcode)) { rule in
            counters.increment(rule.action.kind)
            switch rule.action {
            case .dropCompletion: effects.drop = true
            case .delayCompletion(let ns): effects.delayNanoseconds &+= ns
            case .completeWithStatus(let s): effects.status = s
            case .duplicateCompletion: effects.duplicate = true
            case .badCommandID: effects.badCommandID = true
            case .corruptPhase: effects.corruptPhase = true
            case .controllerFatalStatus: effects.fatal = true
            case .stopResponding: effects.stop = true
            case .dmaFault: effects.dmaFault = true
            case .withholdInterrupt: effects.withholdInterrupt = true
            case .hang: effects.hang = true
            case .lateData(let ns): effects.lateDataNanoseconds = ns
            case .floodAdminCompletions: effects.flood = true
            case .staleCompletionOnReuse: effects.staleOnReuse = true
            case .surpriseRemoval: effects.removal = true
            }
        }
        self.counters = counters
        return effects
    }
}
