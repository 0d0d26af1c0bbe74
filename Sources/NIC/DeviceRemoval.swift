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
import VFIO

/// The NIC's removal check, run by the receive and transmit waits when they are idle (paced, never
/// per frame): the device is gone when its STATUS register reads all ones (a surprise removal or
/// a dead link: reads of a missing PCIe function complete with all ones), or the kernel has asked
/// for it back through the device request interrupt (`PCIFunction.removalRequested`; vfio-pci
/// then waits for the process to close the device). Either way no frame will move again: the
/// wait throws `deviceRemoved` and the caller drops its queues, which stops what can still be
/// stopped before their memory is released (a function that is gone masters nothing).
@usableFromInline
func checkNICPresent<Device: PCIFunction>(registers: MMIORegion, device: Device) throws(NICError) {
    if registers.read(E1000ERegister.deviceStatus).rawValue == .max || device.removalRequested {
        throw .deviceRemoved(name: device.name)
    }
}

extension DescriptorRing {
    /// `checkNICPresent` for this ring's device: the wait loop's idle check for a NIC queue.
    @usableFromInline
    func checkPresent() throws(NICError) {
        try checkNICPresent(registers: interrupt.registers, device: device)
    }

    /// STATUS reads all ones: the function is gone and reads (or writes) nothing any more, so
    /// nothing is waited for before the ring's memory goes.
    var deviceGone: Bool { interrupt.registers.read(E1000ERegister.deviceStatus).rawValue == .max }
}

extension TransmitQueue {
    /// Throws `deviceRemoved` if the NIC is gone or the kernel asked for it back: for callers
    /// that drive `send` themselves, which no wait loop checks for them (pace it: it is an MMIO
    /// read and a `poll`).
    public func checkPresent() throws(NICError) {
        try ring.checkPresent()
    }
}
