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

/// A NIC queue over a `DescriptorRing`: the receive and the transmit queue. Both wait the same
/// way, on the ring's interrupt cause, so their `WaitableQueue` side (the eventfd, IMS before a
/// sleep, IMC while hybrid mode polls, the INTx unmask) and the set-up of their waits live here
/// once.
public protocol DescriptorRingQueue: WaitableQueue, ~Copyable {
    associatedtype Device: PCIFunction
    /// The queue's ring, with its interrupt cause; it has no public operations.
    var descriptorRing: DescriptorRing<Device> { get }
}

extension DescriptorRingQueue where Self: ~Copyable {
    /// The vector's eventfd (the queue's own MSI-X vector, or the shared MSI/INTx one).
    @inlinable public var interruptEventFD: Int32? { descriptorRing.interrupt.eventFD }
    /// IMS (after clearing ICR on a shared vector): the device masks the cause itself when its
    /// vector fires (EIAC), so every sleep is preceded by this.
    @inlinable public mutating func armInterrupt(afterPolling: Bool) { descriptorRing.interrupt.arm() }
    /// IMC: the cause latches in ICR but raises nothing while hybrid mode polls.
    @inlinable public mutating func disarmInterrupt() { descriptorRing.interrupt.mask() }
    @inlinable public mutating func acknowledgeInterrupt(afterWakeUp: Bool) {
        descriptorRing.interrupt.acknowledge(afterWakeUp: afterWakeUp, device: descriptorRing.device)
    }

    /// Runs `wait` on this queue; `look` consumes what is there (frames, done descriptors). The
    /// idle check is the NIC's removal check: a removed NIC (all ones, or the kernel asking for
    /// it back) ends the wait, once what the device finished between the last look and its going
    /// is taken: the check looks once more and hands that over, and a later one, finding
    /// nothing, throws.
    @inlinable
    mutating func runWait(_ wait: inout WaitLoop, look: (inout Self) throws(NICError) -> Int) throws(NICError) {
        try wait.run(&self, look: look) { (queue: inout Self, _: UInt64) throws(NICError) -> Int in
            do throws(NICError) {
                try queue.descriptorRing.checkPresent()
                return 0
            } catch {
                let taken = try look(&queue)
                if taken > 0 { return taken }
                throw error
            }
        }
    }
}

extension DescriptorRing {
    /// A wait of a `kind` queue (`index`) for `target` items in `mode` (VFIO's `WaitLoop`): it
    /// ends early when the kernel asks for the device back, and hybrid mode's phase carries over
    /// from the last wait (NAPI). Throws `noInterruptVector` for an interrupt mode without a vector.
    @inlinable
    func startWait(kind: String, index: Int, mode: CompletionMode, target: Int,
                   timeoutMilliseconds: Int) throws(NICError) -> WaitLoop {
        if mode.kind != .poll && interrupt.eventFD == nil { throw .noInterruptVector(kind: kind, queue: index) }
        return WaitLoop(
            mode: mode, target: target, timeoutMilliseconds: timeoutMilliseconds,
            coarseStart: MonotonicClock.coarseNanoseconds(), phase: interrupt.phase,
            alarmFD: mode.kind == .poll ? nil : device.removalRequestEventFD)
    }

    /// Keeps what a finished (or thrown-out-of) wait leaves: its hybrid phase, for the next wait,
    /// and its counters, added to the queue's.
    @inlinable
    mutating func endWait(_ wait: WaitLoop, statistics: inout InterruptStatistics) {
        interrupt.phase = wait.phase
        statistics.add(wait.statistics)
    }
}
