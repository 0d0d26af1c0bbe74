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

import NetFrames
import VFIO

/// Everything the NIC driver can fail with. Device values that fail a check name the queue, the
/// descriptor and the value, so a report points at the misbehaving device rather than the driver.
public enum NICError: Error, Sendable, CustomStringConvertible {
    /// A VFIO operation failed (mapping, DMA memory, interrupts).
    case vfio(VFIOError)
    /// The function is not an 82574L (or QEMU's e1000e): vendor/device id.
    case unsupportedDevice(name: String, vendor: UInt16, device: UInt16)
    /// CTRL.RST did not clear in time.
    case resetTimedOut(name: String, milliseconds: Int)
    /// Neither RAL0/RAH0 nor the EEPROM held a usable station address.
    case invalidMACAddress(name: String, address: MACAddress)
    /// An option is out of range (ring size, queue count, frame length).
    case invalidArgument(String)
    /// The queue was already created, or the index is not one the NIC was brought up with.
    case queueUnavailable(kind: String, index: Int, reason: String)
    /// Interrupt or hybrid mode was asked for but the NIC has no interrupt vector enabled.
    case noInterruptVector(kind: String, queue: Int)
    /// A receive descriptor written back with values that cannot be right: the device is
    /// misbehaving. The descriptor was consumed and its buffer reposted; nothing was delivered.
    case invalidReceiveDescriptor(queue: Int, index: Int, reason: String)
    /// A descriptor the driver never handed to the device came back done.
    case unpostedDescriptorCompleted(kind: String, queue: Int, index: Int)
    /// A transmit queue did not finish its descriptors in time (closing or flushing).
    case transmitTimedOut(queue: Int, outstanding: Int, milliseconds: Int)
    /// The NIC was removed: the kernel asked for it back (the device request interrupt) or its
    /// registers read all ones. Frames the device had not finished are not counted as sent.
    case deviceRemoved(name: String)

    public var description: String {
        switch self {
        case .vfio(let e):
            return e.description
        case .unsupportedDevice(let name, let vendor, let device):
            return "\(name) is \(hex(vendor)):\(hex(device)), not an Intel 82574L (8086:10d3); this driver supports only that NIC (QEMU -device e1000e)"
        case .resetTimedOut(let name, let ms):
            return "\(name): CTRL.RST did not clear within \(ms) ms; the NIC is wedged: close and reopen it (vfio-pci resets the function on open) or restart the machine"
        case .invalidMACAddress(let name, let address):
            return "\(name): no valid station address (RAL0/RAH0 and EEPROM give \(address)); set one with QEMU's mac= option or program RAL0/RAH0"
        case .invalidArgument(let what):
            return "invalid argument: \(what)"
        case .queueUnavailable(let kind, let index, let reason):
            return "\(kind) queue \(index) unavailable: \(reason)"
        case .noInterruptVector(let kind, let queue):
            return "\(kind) queue \(queue) has no interrupt vector; use the poll completion mode or bring the NIC up with interrupts enabled"
        case .invalidReceiveDescriptor(let queue, let index, let reason):
            return "receive queue \(queue), descriptor \(index): \(reason); the device is misbehaving, the packet was dropped"
        case .unpostedDescriptorCompleted(let kind, let queue, let index):
            return "\(kind) queue \(queue): descriptor \(index) came back done but was never posted; the device is misbehaving"
        case .transmitTimedOut(let queue, let outstanding, let ms):
            return "transmit queue \(queue): \(outstanding) descriptor(s) not done after \(ms) ms; is TCTL.EN set and the link up?"
        case .deviceRemoved(let name):
            return "\(name): the NIC was removed (the kernel asked for it back, or its registers read all ones); frames not yet sent are lost; once it is back, bind it (vfioctl bind) and open it again"
        }
    }
}

@inline(__always)
func hex(_ v: UInt16) -> String {
    let s = String(v, radix: 16)
    return String(repeating: "0", count: max(0, 4 - s.count)) + s
}
