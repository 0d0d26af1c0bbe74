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
import VFIO
import PCIEmulation

/// Interrupt delivery for the controller: which vector a CQ signals, INTMS, and coalescing
/// (5.21.1.8). Sending, holding and masking the messages is the PCI side's
/// (`PCIFunctionState`), the same for every emulated device.
extension ControllerEngine {
    /// Sends vector `v`'s message; INTx unless INTMS bit 0 masks it (3.1.3), when it is held.
    mutating func signal(vector v: Int) {
        switch pci.interruptKind {
        case .msix:
            pci.signal(vector: v)
        case .intx:
            if interruptMask & 1 != 0 { pci.holdINTx() } else { pci.raiseINTx() }
        case .msi, nil:
            return
        }
    }

    /// Delivers what was held for vectors now unmasked, and the coalesced interrupts whose
    /// threshold or time has come (Interrupt Coalescing, 5.21.1.8).
    mutating func serviceInterrupts() -> Bool {
        var worked = pci.deliverUnmaskedPending()
        if interruptMask & 1 == 0, pci.deliverHeldINTx() { worked = true }
        let coalescing = InterruptCoalescing(dword: features.interruptCoalescing)
        var now: UInt64 = 0
        for qid in liveCompletionQueues {
            guard var cq = completionQueues[qid], cq.unsignalled > 0 else { continue }
            // The admin CQ is never coalesced; an I/O CQ is unless its vector has CD set (5.21.1.9).
            let coalesced = qid != 0 && coalescing.aggregationTime != 0
                && !(cq.vector < features.coalescingDisabled.count && features.coalescingDisabled[cq.vector])
            var fire = !coalesced || cq.unsignalled >= coalescing.aggregationThreshold
            if !fire {
                if now == 0 { now = MonotonicClock.nanoseconds() }
                if cq.firstUnsignalledAt == 0 {
                    cq.firstUnsignalledAt = now
                } else if now - cq.firstUnsignalledAt >= UInt64(coalescing.aggregationTimeMicroseconds) * 1000 {
                    fire = true
                }
            }
            if fire {
                cq.unsignalled = 0
                cq.firstUnsignalledAt = 0
                worked = true
            }
            completionQueues[qid] = cq
            if fire { signal(vector: pci.interruptKind == .intx ? 0 : cq.vector) }
        }
        return worked
    }
}
