/// A seeded, deterministic list of faults for the emulated NIC: the ways a hostile or broken
/// device can lie to its driver, so the driver's checks of device values can be tested.
///
/// Rules are evaluated once per frame the device receives or transmits; the same plan, seed and
/// frame sequence give the same faults.
public struct NICFaultPlan: Sendable {
    public var seed: UInt64
    public var rules: [NICFaultRule]

    public init(seed: UInt64 = 0x5EED, rules: [NICFaultRule] = []) {
        self.seed = seed
        self.rules = rules
    }

    public static let none = NICFaultPlan()
}

/// What a fault does.
public enum NICFault: Sendable, Hashable {
    /// The receive write-back claims more bytes than the posted buffer holds (by `excess`); the
    /// data written stays within the buffer. A driver must clamp or drop, never read past.
    case receiveLengthBeyondBuffer(excess: Int)
    /// After a receive, DD (with EOP) is also written into the descriptor at RDT, which the driver
    /// has not handed over. A driver must not consume descriptors it did not post.
    case doneOnUnpostedDescriptor
    /// RDH (receive) or TDH (transmit) is set to `ringSize + offset` after the frame: a head
    /// outside the ring. A driver must range-check heads it reads.
    case headBeyondRing(offset: Int)
    /// The frame's DMA is refused as if the IOMMU faulted (recorded as `.injected`): nothing of it
    /// is written (receive) or sent (transmit), and no write-back is made for it.
    case dmaFault
    /// The link drops before the frame (STATUS.LU clears, LSC is raised); the frame is lost. The
    /// link stays down until `EmulatedE1000E.setCable(connected: true)`.
    case linkDown
    /// The frame is handled, but its interrupt cause is not raised.
    case withholdInterrupt
}

/// When and on what a fault fires.
public struct NICFaultRule: Sendable, Hashable {
    public enum Direction: Sendable, Hashable {
        case receive
        case transmit
        case any
    }

    public enum Trigger: Sendable, Hashable {
        case always
        /// Only the nth matching frame (1-based).
        case nth(Int)
        /// Every nth matching frame.
        case every(Int)
        /// Each matching frame with this probability, from the plan's seeded generator.
        case probability(Double)
    }

    public var direction: Direction
    public var trigger: Trigger
    public var fault: NICFault
    /// Stop after firing this many times; nil: no limit.
    public var limit: Int?

    public init(_ direction: Direction = .any, _ trigger: Trigger = .always, _ fault: NICFault, limit: Int? = nil) {
        self.direction = direction
        self.trigger = trigger
        self.fault = fault
        self.limit = limit
    }
}

/// The plan's state: per-rule match and fire counts, and the generator.
struct NICFaultInjector {
    let plan: NICFaultPlan
    private var matches: [Int]
    private var fired: [Int]
    private var state: UInt64
    /// Faults fired, by kind, for the device statistics.
    private(set) var firedTotal = 0

    init(plan: NICFaultPlan) {
        self.plan = plan
        matches = Array(repeating: 0, count: plan.rules.count)
        fired = Array(repeating: 0, count: plan.rules.count)
        state = plan.seed == 0 ? 0x9E37_79B9_7F4A_7C15 : plan.seed
    }

    /// splitmix64: small, seeded, the same on every platform.
    private mutating func nextUnit() -> Double {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Double(z >> 11) / Double(1 << 53)
    }

    /// The faults that fire for one frame going `direction`.
    mutating func faults(receive: Bool) -> [NICFault] {
        guard !plan.rules.isEmpty else { return [] }
        var result: [NICFault] = []
        for (i, rule) in plan.rules.enumerated() {
            switch rule.direction {
            case .receive where !receive, .transmit where receive: continue
            default: break
            }
            if let limit = rule.limit, fired[i] >= limit { continue }
            matches[i] += 1
            let fire: Bool
            switch rule.trigger {
            case .always: fire = true
            case .nth(let n): fire = matches[i] == n
            case .every(let n): fire = n > 0 && matches[i] % n == 0
            case .probability(let p): fire = nextUnit() < p
            }
            if fire {
                fired[i] += 1
                firedTotal += 1
                result.append(rule.fault)
            }
        }
        return result
    }
}
