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

/// STATUS, device status (82574 datasheet 10.2.2.2). Read-only; a device value, but every field
/// is a masked bit field so none is out of its type's range.
@frozen
public struct DeviceStatus: RegisterValue, Hashable {
    public var rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// STATUS.FD: link is full duplex.
    @inlinable public var fullDuplex: Bool { get { rawValue.bit(0) } set { rawValue.setBit(0, newValue) } }
    /// STATUS.LU: link up.
    @inlinable public var linkUp: Bool { get { rawValue.bit(1) } set { rawValue.setBit(1, newValue) } }
    /// STATUS.TXOFF: transmission paused by flow control.
    @inlinable public var transmitPaused: Bool { get { rawValue.bit(4) } set { rawValue.setBit(4, newValue) } }
    /// STATUS.SPEED (bits 7:6): 0 = 10, 1 = 100, 2 or 3 = 1000 Mb/s.
    @inlinable public var speedField: UInt32 { get { rawValue.bits(6..<8) } set { rawValue.setBits(6..<8, to: newValue) } }
    /// STATUS.PHYRA: PHY reset asserted (cleared by software after a PHY reset).
    @inlinable public var phyResetAsserted: Bool { get { rawValue.bit(10) } set { rawValue.setBit(10, newValue) } }
    /// STATUS.GIO_MASTER_ENABLE: the device still issues master requests (clear after
    /// CTRL.GIO_MASTER_DISABLE once pending DMA has drained).
    @inlinable public var masterEnabled: Bool { get { rawValue.bit(19) } set { rawValue.setBit(19, newValue) } }

    /// Link speed in Mb/s from STATUS.SPEED.
    @inlinable public var speedMbps: Int {
        switch speedField { case 0: 10; case 1: 100; default: 1000 }
    }
}
