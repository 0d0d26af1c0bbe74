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

/// RXCSUM, receive checksum control (82574 datasheet 10.2.5.2).
@frozen
public struct ReceiveChecksumControl: RegisterValue, Hashable {
    public var rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// RXCSUM.PCSS (bits 7:0): packet checksum start offset.
    @inlinable public var packetChecksumStart: UInt8 {
        get { UInt8(truncatingIfNeeded: rawValue.bits(0..<8)) }
        set { rawValue.setBits(0..<8, to: UInt32(newValue)) }
    }
    /// RXCSUM.IPOFL: IPv4 header checksum offload.
    @inlinable public var ipChecksumOffload: Bool { get { rawValue.bit(8) } set { rawValue.setBit(8, newValue) } }
    /// RXCSUM.TUOFL: TCP/UDP checksum offload.
    @inlinable public var tcpUDPChecksumOffload: Bool { get { rawValue.bit(9) } set { rawValue.setBit(9, newValue) } }
    /// RXCSUM.CRCOFL: CRC offload.
    @inlinable public var crcOffload: Bool { get { rawValue.bit(11) } set { rawValue.setBit(11, newValue) } }
    /// RXCSUM.PCSD: packet checksum disable: the descriptor's checksum dword carries the RSS hash
    /// instead (required for RSS, QEMU `e1000e_rss_enabled`).
    @inlinable public var packetChecksumDisable: Bool { get { rawValue.bit(13) } set { rawValue.setBit(13, newValue) } }
}
