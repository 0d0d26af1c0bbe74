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

/// A seeded, deterministic list of faults for the emulated NIC: the ways a hostile or broken
/// device can lie to its driver, so the driver's checks of device values can be tested.
///
/// Rules are evaluated once per frame the device receives or transmits; the same plan, seed and
/// frame sequence give the same faults.
public typealias NICFaultPlan = SeededFaultPlan<NICFaultRule>

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
    /// The function leaves the bus before the frame (a hot-unplug, with the request interrupt;
    /// `simulateSurpriseRemoval`): it and every later frame are lost, those before stand.
    case surpriseRemoval
}

/// When and on what a fault fires.
public struct NICFaultRule: FaultRuleMatching, Hashable {
    public enum Direction: Sendable, Hashable {
        case receive
        case transmit
        case any
    }

    /// When a matching frame triggers the rule (shared with every emulator's fault plan).
    public typealias Trigger = FaultTrigger

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

    /// Evaluated on the direction of each frame: true for a received one.
    public func matches(_ received: Bool) -> Bool {
        switch direction {
        case .receive: return received
        case .transmit: return !received
        case .any: return true
        }
    }
}

/// The plan's state: the shared rule engine.
struct NICFaultInjector {
    private var engine: FaultRuleEngine<NICFaultRule>

    init(plan: NICFaultPlan) {
        engine = FaultRuleEngine(plan)
    }

    /// The faults that fire for one frame, received or transmitted.
    mutating func faults(receive: Bool) -> [NICFault] {
        guard !engine.isEmpty else { return [] }
        var result: [NICFault] = []
        engine.evaluate(receive) { result.append($0.fault) }
        return result
    }
}

extension NICEngine {
    /// The faults the plan injects into this frame, counted, with the two that act on the device
    /// itself done here: a surprise removal leaves the bus (nil: the frame goes no further) and
    /// a link drop pulls the cable.
    mutating func frameFaults(receive: Bool) -> [NICFault]? {
        let injected = faults.faults(receive: receive)
        statistics.faultsInjected += injected.count
        if injected.contains(.surpriseRemoval) {
            leaveBus(notify: true)
            return nil
        }
        if injected.contains(.linkDown) {
            cableConnected = false
            updateLink()
        }
        return injected
    }
}
