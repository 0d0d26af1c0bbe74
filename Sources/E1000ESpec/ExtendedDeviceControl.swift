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

/// CTRL_EXT, extended device control (82574 datasheet 10.2.2.5).
@frozen
public struct ExtendedDeviceControl: RegisterValue, Hashable {
    public var rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// CTRL_EXT.SPD_BYPS: speed select bypass.
    @inlinable public var speedSelectBypass: Bool { get { rawValue.bit(15) } set { rawValue.setBit(15, newValue) } }
    /// CTRL_EXT.RO_DIS: relaxed ordering disabled.
    @inlinable public var relaxedOrderingDisabled: Bool { get { rawValue.bit(17) } set { rawValue.setBit(17, newValue) } }
    /// CTRL_EXT.EIAME: in MSI-X mode, an interrupt clears the ICR bits its cause set in EIAC
    /// (auto-clear) and, with IAM, masks them (auto-mask) when the vector fires.
    @inlinable public var extendedInterruptAutoMask: Bool { get { rawValue.bit(24) } set { rawValue.setBit(24, newValue) } }
    /// CTRL_EXT.IAME: interrupt acknowledge auto-mask: reading ICR writes IAM's bits to IMC.
    @inlinable public var interruptAcknowledgeAutoMask: Bool { get { rawValue.bit(27) } set { rawValue.setBit(27, newValue) } }
    /// CTRL_EXT.DRV_LOAD: tells manageability firmware a driver owns the device.
    @inlinable public var driverLoaded: Bool { get { rawValue.bit(28) } set { rawValue.setBit(28, newValue) } }
    /// CTRL_EXT.INT_TIMERS_CLEAR_ENA: reading ICR clears the RX/TX delay timers.
    @inlinable public var interruptTimersClear: Bool { get { rawValue.bit(29) } set { rawValue.setBit(29, newValue) } }
    /// CTRL_EXT.PBA_CLR: in MSI-X mode, a fired vector clears its pending bit (Linux sets it with MSI-X).
    @inlinable public var pbaClear: Bool { get { rawValue.bit(31) } set { rawValue.setBit(31, newValue) } }
}
