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

/// One queue's interrupt: its cause bit (RXQn/TXQn) and the eventfd of the MSI-X vector IVAR
/// routes it to, or, without MSI-X, RXT0/TXDW and the one shared MSI/INTx vector. The "top half" (vfio-pci's, or the emulated NIC's, eventfd signal) only wakes the
/// queue's thread; the "bottom half" is the receive or reclaim that follows.
///
/// Masking is per cause, in the device: IMC clears the cause from IMS, IMS re-arms it. Both are
/// write-one-to-change registers, so two queue threads masking their own causes never race. With
/// EIAC set for queue causes the device also masks a cause itself when its vector fires
/// (QEMU `e1000e_msix_notify_one`), so every wake-up must be followed by a re-arm.
@frozen @usableFromInline
struct QueueInterrupt {
    @usableFromInline let cause: InterruptCause
    @usableFromInline let eventFD: Int32?
    @usableFromInline let registers: MMIORegion
    /// MSI or INTx: one vector for every queue; the cause stays in ICR until written back.
    @usableFromInline let shared: Bool
    /// INTx: level-triggered, masked by VFIO when it fires until the driver unmasks it.
    @usableFromInline let level: Bool
    /// Hybrid mode: the cause is masked and the queue is being polled.
    @usableFromInline var polling = false
    /// Empty polls in the current polling phase.
    @usableFromInline var idlePolls = 0

    @inlinable
    init(cause: InterruptCause, eventFD: Int32?, registers: MMIORegion, shared: Bool = false, level: Bool = false) {
        self.cause = cause
        self.eventFD = eventFD
        self.registers = registers
        self.shared = shared
        self.level = level
    }

    /// IMS: let the cause raise its vector. On a shared vector the cause is first cleared from
    /// ICR (write one to clear), so only work that arrives from now on raises it; the look at
    /// the ring that follows finds anything older.
    @inlinable @inline(__always)
    func arm() {
        if shared { registers.write(E1000ERegister.interruptCauseRead, cause) }
        registers.write(E1000ERegister.interruptMaskSet, cause)
    }

    /// After a wake-up on a shared vector: clear the cause from ICR, so a level-triggered INTx
    /// line drops before it is unmasked (QEMU 7.2 clears ICR on read only when IMS is 0).
    @inlinable @inline(__always)
    func acknowledge() {
        if shared { registers.write(E1000ERegister.interruptCauseRead, cause) }
    }

    /// IMC: keep the cause from raising its vector (it still latches in ICR).
    @inlinable @inline(__always)
    func mask() { registers.write(E1000ERegister.interruptMaskClear, cause) }

    /// Sleeps on the eventfd until signalled or `milliseconds` pass. True when signalled.
    @inlinable
    func sleep(milliseconds: Int32) -> Bool {
        guard let fd = eventFD else { return false }
        return EventFD.wait(fd, milliseconds: milliseconds)
    }

    /// Reads and resets the eventfd: the messages since the last drain.
    @inlinable
    func drain() -> UInt64 {
        guard let fd = eventFD else { return 0 }
        return EventFD.drain(fd)
    }
}

/// Counters of one queue's waits, shared by receive and transmit queues.
@frozen
public struct InterruptStatistics: Sendable, Equatable {
    /// Messages drained from the vector's eventfd.
    public var interrupts: UInt64 = 0
    /// Sleeps on the eventfd that ended with a signal.
    public var wakeups: UInt64 = 0
    /// Hybrid mode: polling phases entered after an interrupt (cause masked).
    public var pollingPhases: UInt64 = 0
    /// Times the cause was re-armed with IMS before sleeping.
    public var rearms: UInt64 = 0

    public init() {}
}
