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
    /// Hybrid mode's phase, kept between waits: a caller that keeps coming back keeps polling.
    @usableFromInline var phase = HybridPhase()

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

    /// After the eventfd was drained. On a wake-up on a shared vector: clear the cause from ICR,
    /// so a level-triggered INTx line drops before it is unmasked (QEMU 7.2 clears ICR on read
    /// only when IMS is 0). INTx, after a wake-up or an arm: VFIO masked the line when it fired;
    /// with the cause cleared it may listen again.
    @inlinable @inline(__always)
    func acknowledge<Device: PCIFunction>(afterWakeUp: Bool, device: Device) {
        if afterWakeUp && shared { registers.write(E1000ERegister.interruptCauseRead, cause) }
        if level { try? device.unmaskINTx() }
    }

    /// IMC: keep the cause from raising its vector (it still latches in ICR).
    @inlinable @inline(__always)
    func mask() { registers.write(E1000ERegister.interruptMaskClear, cause) }
}

extension InterruptStatistics {
    /// Adds one wait's counters.
    @inlinable
    mutating func add(_ wait: InterruptStatistics) {
        interrupts &+= wait.interrupts
        wakeups &+= wait.wakeups
        pollingPhases &+= wait.pollingPhases
        rearms &+= wait.rearms
        emptyPolls &+= wait.emptyPolls
        pauses &+= wait.pauses
    }
}
