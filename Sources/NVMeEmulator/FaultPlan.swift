import NVMe

/// A seeded, deterministic list of faults for the emulated controller to inject.
///
/// Each rule matches commands by queue and opcode and fires on the nth match, every nth match,
/// always, or with a probability drawn from a generator seeded with `seed`: the same plan, the
/// same seed and the same command sequence give the same faults. Rules are evaluated when a
/// command is fetched; several can fire on one command (e.g. delay it and withhold its interrupt).
public struct FaultPlan: Sendable {
    public var seed: UInt64
    public var rules: [FaultRule]

    public init(seed: UInt64 = 0x5EED, rules: [FaultRule] = []) {
        self.seed = seed
        self.rules = rules
    }

    /// No faults.
    public static let none = FaultPlan()
}

/// One fault rule: which commands it matches, when it fires, what it does.
public struct FaultRule: Sendable, Hashable {
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

    /// When a matching command triggers the rule.
    public enum Trigger: Sendable, Hashable {
        /// Every matching command.
        case always
        /// Only the nth matching command (1-based).
        case nth(Int)
        /// Every nth matching command (the nth, 2nth, ...).
        case every(Int)
        /// Each matching command with this probability (0...1), from the plan's seeded generator.
        case probability(Double)
    }

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
        }
    }
}

/// The kinds of `FaultAction`, for counting.
public enum FaultKind: Int, Sendable, Hashable, CaseIterable {
    case dropCompletion, delayCompletion, completeWithStatus, duplicateCompletion, badCommandID
    case corruptPhase, controllerFatalStatus, stopResponding, dmaFault, withholdInterrupt
}

/// How many faults of each kind were injected.
public struct FaultCounters: Sendable, Hashable {
    var counts = [Int](repeating: 0, count: FaultKind.allCases.count)

    public init() {}

    public subscript(kind: FaultKind) -> Int { counts[kind.rawValue] }

    public var total: Int { counts.reduce(0, +) }

    mutating func increment(_ kind: FaultKind) { counts[kind.rawValue] += 1 }
}

/// SplitMix64 (Steele, Lea, Flood 2014): small, fast and fully determined by its seed, which is all
/// fault injection and test data need.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
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

    var isEmpty: Bool {
        !drop && delayNanoseconds == 0 && status == nil && !duplicate && !badCommandID && !corruptPhase
            && !fatal && !stop && !dmaFault && !withholdInterrupt
    }
}

/// The fault plan's running state: per-rule match and fire counts, the generator, the counters.
struct FaultInjector {
    private(set) var plan: FaultPlan
    private var matches: [Int]
    private var fired: [Int]
    private var generator: SeededGenerator
    private(set) var counters = FaultCounters()

    init(plan: FaultPlan) {
        self.plan = plan
        matches = Array(repeating: 0, count: plan.rules.count)
        fired = Array(repeating: 0, count: plan.rules.count)
        generator = SeededGenerator(seed: plan.seed)
    }

    var isEmpty: Bool { plan.rules.isEmpty }

    /// Evaluates every rule for a command just fetched from `sqid`.
    mutating func evaluate(sqid: UInt16, opcode: UInt8) -> FaultEffects {
        var effects = FaultEffects()
        for (i, rule) in plan.rules.enumerated() {
            guard rule.queue.matches(sqid), rule.opcode == nil || rule.opcode == opcode else { continue }
            matches[i] += 1
            if let limit = rule.limit, fired[i] >= limit { continue }
            let fires: Bool
            switch rule.trigger {
            case .always: fires = true
            case .nth(let n): fires = matches[i] == n
            case .every(let n): fires = n > 0 && matches[i] % n == 0
            case .probability(let p):
                // Draw for every match, fired or not, so the sequence depends only on the seed.
                let draw = Double(generator.next() >> 11) * 0x1.0p-53
                fires = draw < p
            }
            guard fires else { continue }
            fired[i] += 1
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
            }
        }
        return effects
    }
}
