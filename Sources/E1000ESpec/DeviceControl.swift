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

/// CTRL, device control (82574 datasheet 10.2.2.1; Linux `E1000_CTRL_*` in e1000e/defines.h).
@frozen
public struct DeviceControl: RegisterValue, Hashable {
    public var rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// CTRL.FD: full duplex (when speed/duplex are forced).
    @inlinable public var fullDuplex: Bool { get { rawValue.bit(0) } set { rawValue.setBit(0, newValue) } }
    /// CTRL.GIO_MASTER_DISABLE: stop issuing new master (DMA) requests, before a reset.
    @inlinable public var masterDisable: Bool { get { rawValue.bit(2) } set { rawValue.setBit(2, newValue) } }
    /// CTRL.ASDE: auto-speed detection enable.
    @inlinable public var autoSpeedDetection: Bool { get { rawValue.bit(5) } set { rawValue.setBit(5, newValue) } }
    /// CTRL.SLU: set link up; the MAC considers the link up without waiting for the PHY's
    /// autonegotiation (what QEMU's e1000e keys link state on when autoneg is off).
    @inlinable public var setLinkUp: Bool { get { rawValue.bit(6) } set { rawValue.setBit(6, newValue) } }
    /// CTRL.SPEED: forced speed (0 = 10, 1 = 100, 2 = 1000 Mb/s), used with FRCSPD.
    @inlinable public var speed: UInt32 { get { rawValue.bits(8..<10) } set { rawValue.setBits(8..<10, to: newValue) } }
    /// CTRL.FRCSPD: force speed.
    @inlinable public var forceSpeed: Bool { get { rawValue.bit(11) } set { rawValue.setBit(11, newValue) } }
    /// CTRL.FRCDPLX: force duplex.
    @inlinable public var forceDuplex: Bool { get { rawValue.bit(12) } set { rawValue.setBit(12, newValue) } }
    /// CTRL.RST: device reset; self-clearing, all registers but PCI config return to defaults.
    @inlinable public var reset: Bool { get { rawValue.bit(26) } set { rawValue.setBit(26, newValue) } }
    /// CTRL.RFCE: receive flow control enable.
    @inlinable public var receiveFlowControl: Bool { get { rawValue.bit(27) } set { rawValue.setBit(27, newValue) } }
    /// CTRL.TFCE: transmit flow control enable.
    @inlinable public var transmitFlowControl: Bool { get { rawValue.bit(28) } set { rawValue.setBit(28, newValue) } }
    /// CTRL.VME: VLAN mode enable (strip/insert 802.1Q tags).
    @inlinable public var vlanMode: Bool { get { rawValue.bit(30) } set { rawValue.setBit(30, newValue) } }
    /// CTRL.PHY_RST: PHY reset.
    @inlinable public var phyReset: Bool { get { rawValue.bit(31) } set { rawValue.setBit(31, newValue) } }
}
