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

import E1000ESpec
import PCIEmulation

/// ICR/ICS/IMS/IMC/IAM/EIAC, IVAR routing, ITR/EITR throttling and delivery, as QEMU 7.2's
/// e1000e core does it (82574 datasheet 7.4, 10.2.4).
extension NICEngine {
    var msixActive: Bool { pci.msixActive }
    var extendedControl: ExtendedDeviceControl { ExtendedDeviceControl(rawValue: load(Offset.ctrlExt)) }

    /// Adds causes to ICR and re-evaluates what to signal (QEMU `e1000e_set_interrupt_cause`).
    mutating func setInterruptCause(_ causes: UInt32) {
        store(Offset.icr, load(Offset.icr) | causes)
        updateInterruptState()
    }

    /// QEMU `e1000e_update_interrupt_state`: in MSI-X mode a non-queue cause also sets OTHER;
    /// INT_ASSERTED follows "any cause"; ICS mirrors ICR; then signal what is enabled.
    mutating func updateInterruptState() {
        var icr = load(Offset.icr)
        if msixActive && icr & Cause.otherCauses != 0 { icr |= Cause.other }
        icr &= ~Cause.asserted
        if icr != 0 { icr |= Cause.asserted }
        store(Offset.icr, icr)
        store(Offset.ics, icr)
        let pending = load(Offset.ims) & icr != 0
        if !pending { msiCausesPending = 0 }
        if msixActive {
            if pending { sendMSIX() }
        } else if pci.interruptKind == .intx, pending, !postponedByThrottle(Self.vectorCount) {
            raiseINTx()
        }
    }

    /// Only causes that were not already signalled fire (QEMU `e1000e_send_msi`).
    mutating func sendMSIX() {
        var causes = load(Offset.icr) & load(Offset.ims) & ~Cause.asserted
        msiCausesPending &= causes
        causes ^= msiCausesPending
        guard causes != 0 else { return }
        msiCausesPending |= causes
        let ivar = InterruptVectorAllocation(rawValue: load(Offset.ivar))
        let routes: [(UInt32, InterruptVectorAllocation.Source)] = [
            (Cause.rxq0, .receiveQueue0), (Cause.rxq1, .receiveQueue1),
            (Cause.txq0, .transmitQueue0), (Cause.txq1, .transmitQueue1), (Cause.other, .other),
        ]
        for (cause, source) in routes where causes & cause != 0 {
            notifyVector(cause: cause, vector: ivar.vector(for: source))
        }
    }

    /// QEMU `e1000e_msix_notify_one`: signal the IVAR vector (unless throttled); with
    /// CTRL_EXT.EIAME, auto-mask the cause's IAM bits in IMS; EIAC auto-clears the cause from ICR
    /// (and from IMS unless CTRL_EXT.IAME).
    mutating func notifyVector(cause: UInt32, vector: Int?) {
        if let vector, vector < Self.vectorCount {
            if !postponedByThrottle(vector) { deliverMSIX(vector) }
        } else {
            statistics.interruptsUnrouted += 1
        }
        let control = extendedControl
        if control.extendedInterruptAutoMask {
            store(Offset.ims, load(Offset.ims) & ~(load(Offset.iam) & cause))
        }
        let autoClear = load(Offset.eiac) & cause
        store(Offset.icr, load(Offset.icr) & ~autoClear)
        msiCausesPending &= ~autoClear
        if !control.interruptAcknowledgeAutoMask {
            store(Offset.ims, load(Offset.ims) & ~autoClear)
        }
    }

    /// ICR read (QEMU `e1000e_mac_icr_read`): returns the causes; clears them when IMS is zero,
    /// or when INT_ASSERTED is set and CTRL_EXT.IAME (which also clears IAM's bits from IMS).
    /// QEMU 7.2 does not clear ICR on a read otherwise; drivers that need it cleared write the
    /// bits back (ICR is write-1-to-clear, `writeInterruptCause`), which works on both.
    mutating func readInterruptCause() -> UInt32 {
        let value = load(Offset.icr)
        if load(Offset.ims) == 0 { store(Offset.icr, 0) }
        if load(Offset.icr) & Cause.asserted != 0 && extendedControl.interruptAcknowledgeAutoMask {
            store(Offset.icr, 0)
            store(Offset.ims, load(Offset.ims) & ~load(Offset.iam))
        }
        updateInterruptState()
        return value
    }

    /// ICR write: write-1-to-clear; clearing OTHER clears every other-cause bit (QEMU
    /// `e1000e_set_icr`); with INT_ASSERTED and IAME the IAM bits leave IMS.
    mutating func writeInterruptCause(_ value: UInt32) {
        if load(Offset.icr) & Cause.asserted != 0 && extendedControl.interruptAcknowledgeAutoMask {
            store(Offset.ims, load(Offset.ims) & ~load(Offset.iam))
        }
        var icr = load(Offset.icr) & ~value
        if value & Cause.other != 0 { icr &= ~Cause.otherCauses }
        store(Offset.icr, icr)
        updateInterruptState()
    }

    /// IMS write: enable causes; with CTRL_EXT.PBA_CLR in MSI-X mode, re-enabling a queue or
    /// OTHER cause drops its vector's pending message (QEMU `e1000e_set_ims`).
    mutating func writeInterruptMaskSet(_ value: UInt32) {
        let valid = value & Cause.imsValid
        store(Offset.ims, load(Offset.ims) | valid)
        if valid & Cause.msixCauses != 0, extendedControl.pbaClear, msixActive {
            let ivar = InterruptVectorAllocation(rawValue: load(Offset.ivar))
            let routes: [(UInt32, InterruptVectorAllocation.Source)] = [
                (Cause.rxq0, .receiveQueue0), (Cause.rxq1, .receiveQueue1),
                (Cause.txq0, .transmitQueue0), (Cause.txq1, .transmitQueue1), (Cause.other, .other),
            ]
            for (cause, source) in routes where valid & cause != 0 {
                if let v = ivar.vector(for: source), v < Self.vectorCount { pci.setPending(v, false) }
            }
        }
        updateInterruptState()
    }

    // MARK: - Throttling

    /// QEMU `e1000e_postpone_interrupt`: while a vector's throttle runs, its interrupt waits;
    /// otherwise it goes now and the throttle starts for `interval * 256 ns`.
    mutating func postponedByThrottle(_ index: Int) -> Bool {
        if throttles[index].running && now < throttles[index].until {
            throttles[index].pending = true
            statistics.interruptsThrottled += 1
            return true
        }
        armThrottle(index)
        return false
    }

    mutating func armThrottle(_ index: Int) {
        let interval = index == Self.vectorCount ? load(Offset.itr) : load(Offset.eitr0 + 4 * index)
        if interval != 0 {
            throttles[index].running = true
            throttles[index].until = now &+ UInt64(interval) * Self.throttleUnitNanoseconds
        } else {
            throttles[index].running = false
        }
    }

    /// Fires interrupts whose throttle interval has passed. A fired one starts a new interval, so
    /// the rate stays at most one per interval (QEMU fires without re-arming).
    @discardableResult
    mutating func serviceThrottles() -> Bool {
        var worked = false
        for index in throttles.indices where throttles[index].running && now >= throttles[index].until {
            throttles[index].running = false
            guard throttles[index].pending else { continue }
            throttles[index].pending = false
            worked = true
            if index == Self.vectorCount {
                updateInterruptState()  // INTx: raised again if still pending (arms the throttle)
            } else {
                armThrottle(index)
                deliverMSIX(index)
            }
        }
        return worked
    }

    /// Whether some interrupt is waiting for its throttle (the device thread polls faster then).
    var waitingOnThrottle: Bool { throttles.contains { $0.running && $0.pending } }

    // MARK: - Delivery

    func isPending(_ v: Int) -> Bool { pci.msix.isPending(v) }

    /// Sends vector `v`'s message, or sets its PBA bit while it is masked (PCI 3.0, 6.8.2.9).
    mutating func deliverMSIX(_ v: Int) { pci.signal(vector: v) }

    /// INTx: counted in IAC; vfio-pci signals the eventfd and masks the line until the driver
    /// unmasks it (`interruptUnmasked`).
    mutating func raiseINTx() {
        if load(Offset.iac) != .max { store(Offset.iac, load(Offset.iac) + 1) }
        pci.raiseINTx()
    }
}
