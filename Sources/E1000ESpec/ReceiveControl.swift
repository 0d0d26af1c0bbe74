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

/// RCTL, receive control (82574 datasheet 10.2.5.1; Linux `E1000_RCTL_*`).
@frozen
public struct ReceiveControl: RegisterValue, Hashable {
    /// RCTL.BSIZE with RCTL.BSEX clear: the receive buffer size of every descriptor.
    public enum BufferSize: UInt32, Sendable {
        case bytes2048 = 0
        case bytes1024 = 1
        case bytes512 = 2
        case bytes256 = 3

        /// The size in bytes.
        @inlinable public var bytes: Int {
            switch self {
            case .bytes2048: 2048
            case .bytes1024: 1024
            case .bytes512: 512
            case .bytes256: 256
            }
        }
    }

    /// RCTL.RDMTS: the RXDMT0 threshold as a fraction of the ring (1/2, 1/4, 1/8).
    public enum DescriptorMinimumThreshold: UInt32, Sendable {
        case half = 0
        case quarter = 1
        case eighth = 2
    }

    public var rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// RCTL.EN: receiver enable.
    @inlinable public var enable: Bool { get { rawValue.bit(1) } set { rawValue.setBit(1, newValue) } }
    /// RCTL.SBP: store bad packets.
    @inlinable public var storeBadPackets: Bool { get { rawValue.bit(2) } set { rawValue.setBit(2, newValue) } }
    /// RCTL.UPE: unicast promiscuous.
    @inlinable public var unicastPromiscuous: Bool { get { rawValue.bit(3) } set { rawValue.setBit(3, newValue) } }
    /// RCTL.MPE: multicast promiscuous.
    @inlinable public var multicastPromiscuous: Bool { get { rawValue.bit(4) } set { rawValue.setBit(4, newValue) } }
    /// RCTL.LPE: long packet enable (frames over 1522 bytes).
    @inlinable public var longPackets: Bool { get { rawValue.bit(5) } set { rawValue.setBit(5, newValue) } }
    /// RCTL.LBM (bits 7:6): loopback mode (0 none, 3 PHY/MAC loopback).
    @inlinable public var loopbackMode: UInt32 { get { rawValue.bits(6..<8) } set { rawValue.setBits(6..<8, to: newValue) } }
    /// RCTL.RDMTS (bits 9:8).
    @inlinable public var descriptorMinimumThreshold: DescriptorMinimumThreshold {
        get { DescriptorMinimumThreshold(rawValue: rawValue.bits(8..<10)) ?? .half }
        set { rawValue.setBits(8..<10, to: newValue.rawValue) }
    }
    /// RCTL.DTYP (bits 11:10): descriptor type, 0 legacy/extended (RFCTL.EXSTEN picks), 1 packet split.
    @inlinable public var descriptorType: UInt32 { get { rawValue.bits(10..<12) } set { rawValue.setBits(10..<12, to: newValue) } }
    /// RCTL.MO (bits 13:12): which 12 destination-address bits index the MTA.
    @inlinable public var multicastOffset: UInt32 { get { rawValue.bits(12..<14) } set { rawValue.setBits(12..<14, to: newValue) } }
    /// RCTL.BAM: accept broadcast.
    @inlinable public var broadcastAccept: Bool { get { rawValue.bit(15) } set { rawValue.setBit(15, newValue) } }
    /// RCTL.BSIZE (bits 17:16); with BSEX clear.
    @inlinable public var bufferSize: BufferSize {
        get { BufferSize(rawValue: rawValue.bits(16..<18))! }
        set { rawValue.setBits(16..<18, to: newValue.rawValue) }
    }
    /// RCTL.VFE: VLAN filter enable.
    @inlinable public var vlanFilter: Bool { get { rawValue.bit(18) } set { rawValue.setBit(18, newValue) } }
    /// RCTL.DPF: discard pause frames.
    @inlinable public var discardPauseFrames: Bool { get { rawValue.bit(22) } set { rawValue.setBit(22, newValue) } }
    /// RCTL.PMCF: pass MAC control frames.
    @inlinable public var passMACControlFrames: Bool { get { rawValue.bit(23) } set { rawValue.setBit(23, newValue) } }
    /// RCTL.BSEX: buffer size extension (BSIZE times 16); kept clear by this driver.
    @inlinable public var bufferSizeExtension: Bool { get { rawValue.bit(25) } set { rawValue.setBit(25, newValue) } }
    /// RCTL.SECRC: strip the Ethernet CRC before storing the packet.
    @inlinable public var stripCRC: Bool { get { rawValue.bit(26) } set { rawValue.setBit(26, newValue) } }

    /// The receive buffer size in bytes that RCTL describes (BSIZE, times 16 with BSEX).
    @inlinable public var bufferBytes: Int { bufferSize.bytes * (bufferSizeExtension ? 16 : 1) }
}
