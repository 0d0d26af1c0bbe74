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

import CShims
import Logging

/// The device request interrupt (`VFIO_PCI_REQ_IRQ_INDEX`): how vfio-pci asks a userspace driver
/// to let a device go. When the function is hot-unplugged or unbound, the kernel signals this
/// eventfd and then waits, re-signalling now and then, until the process closes the device; a
/// process that never listens blocks the removal (the kernel logs "No device request channel
/// registered"). Armed once at open, so every driver on the device can watch it.
extension VFIODevice {
    /// The request eventfd, or nil when the device or the kernel has no request interrupt
    /// (`VFIO_DEVICE_GET_IRQ_INFO` reports no such index, or no vector in it).
    public var removalRequestEventFD: Int32? { state.withLock { $0.requestEventFD?.rawValue } }

    /// `VFIO_DEVICE_SET_IRQS` with `DATA_EVENTFD | ACTION_TRIGGER` on the request index, after
    /// checking that the index exists and can signal an eventfd. A failure is logged, not thrown:
    /// the device works without it, and a removal is then seen only as all-ones reads.
    func armRemovalRequest() {
        let index = Int(VFIO_PCI_REQ_IRQ_INDEX)
        guard irqs.indices.contains(index), irqs[index].count >= 1, irqs[index].supportsEventFD else {
            logger.debug("\(address) has no device request interrupt; a removal is noticed only by all-ones reads")
            return
        }
        let eventFD: VectorEventFD
        do {
            eventFD = VectorEventFD(try EventFD(for: "the device request interrupt of \(address)"))
        } catch {
            logger.warning("\(error); a removal is noticed only by all-ones reads")
            return
        }
        let data = withUnsafeBytes(of: eventFD.rawValue) { Array($0) }
        let request = Self.irqSetRequest(flags: UInt32(VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER),
                                         index: index, start: 0, count: 1, data: data)
        do {
            try Self.setIRQs(fd: deviceFD, request, "arming the device request interrupt of \(address)")
        } catch {
            logger.warning("\(error); a removal is noticed only by all-ones reads")
            return
        }
        state.withLock { $0.requestEventFD = eventFD }
    }

    /// Disarms the request index and closes its eventfd (at release, before the device fd goes).
    static func disarmRemovalRequest(_ s: inout State, fd: Int32, logger: Logger) {
        guard s.requestEventFD != nil else { return }
        let request = irqSetRequest(flags: UInt32(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER),
                                    index: Int(VFIO_PCI_REQ_IRQ_INDEX), start: 0, count: 0)
        do { try setIRQs(fd: fd, request, "disarming the device request interrupt") } catch {
            logger.debug("\(error)")
        }
        s.requestEventFD = nil  // closes it, now that the index no longer signals it
    }
}
