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

/// TCTL, transmit control (82574 datasheet 10.2.6.1; Linux `E1000_TCTL_*`).
@frozen
public struct TransmitControl: RegisterValue, Hashable {
    public var rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// TCTL.EN: transmitter enable.
    @inlinable public var enable: Bool { get { rawValue.bit(1) } set { rawValue.setBit(1, newValue) } }
    /// TCTL.PSP: pad short packets to 64 bytes.
    @inlinable public var padShortPackets: Bool { get { rawValue.bit(3) } set { rawValue.setBit(3, newValue) } }
    /// TCTL.CT (bits 11:4): collision threshold (half duplex), 15 recommended.
    @inlinable public var collisionThreshold: UInt8 {
        get { UInt8(truncatingIfNeeded: rawValue.bits(4..<12)) }
        set { rawValue.setBits(4..<12, to: UInt32(newValue)) }
    }
    /// TCTL.COLD (bits 21:12): collision distance, 63 for full duplex.
    @inlinable public var collisionDistance: UInt16 {
        get { UInt16(truncatingIfNeeded: rawValue.bits(12..<22)) }
        set { rawValue.setBits(12..<22, to: UInt32(newValue)) }
    }
    /// TCTL.RTLC: retransmit on late collision.
    @inlinable public var retransmitOnLateCollision: Bool { get { rawValue.bit(24) } set { rawValue.setBit(24, newValue) } }
    /// TCTL.MULR: multiple request support (82571 family, set by Linux).
    @inlinable public var multipleRequests: Bool { get { rawValue.bit(28) } set { rawValue.setBit(28, newValue) } }
}

/// TIPG, transmit inter-packet gap (82574 datasheet 10.2.6.2). Linux's copper defaults are
/// IPGT 8, IPGR1 8, IPGR2 6 (`DEFAULT_82543_TIPG_*`).
@frozen
public struct TransmitInterPacketGap: RegisterValue, Hashable {
    public var rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// The recommended copper setting.
    public static let copperDefault = TransmitInterPacketGap(transmitTime: 8, receiveTime1: 8, receiveTime2: 6)

    @inlinable public init(transmitTime: UInt16, receiveTime1: UInt16, receiveTime2: UInt16) {
        rawValue = 0
        self.transmitTime = transmitTime
        self.receiveTime1 = receiveTime1
        self.receiveTime2 = receiveTime2
    }

    /// IPGT (bits 9:0).
    @inlinable public var transmitTime: UInt16 {
        get { UInt16(truncatingIfNeeded: rawValue.bits(0..<10)) }
        set { rawValue.setBits(0..<10, to: UInt32(newValue)) }
    }
    /// IPGR1 (bits 19:10).
    @inlinable public var receiveTime1: UInt16 {
        get { UInt16(truncatingIfNeeded: rawValue.bits(10..<20)) }
        set { rawValue.setBits(10..<20, to: UInt32(newValue)) }
    }
    /// IPGR2 (bits 29:20).
    @inlinable public var receiveTime2: UInt16 {
        get { UInt16(truncatingIfNeeded: rawValue.bits(20..<30)) }
        set { rawValue.setBits(20..<30, to: UInt32(newValue)) }
    }
}
