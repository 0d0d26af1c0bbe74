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

/// Ethernet II framing (IEEE 802.3 clause 3.2): destination, source, EtherType; 14 bytes, no
/// VLAN tag. Lengths here are without the 4-byte FCS, which the NIC appends and strips.
public enum Ethernet {
    public static let headerLength = 14
    /// Shortest frame without the FCS (64 bytes on the wire with it); shorter ones are padded.
    public static let minimumFrameLength = 60
    /// Longest untagged frame without the FCS at the default 1500-byte MTU.
    public static let maximumFrameLength = 1514
    public static let typeIPv4: UInt16 = 0x0800
    public static let typeARP: UInt16 = 0x0806
    public static let typeIPv6: UInt16 = 0x86DD

    /// Writes the 14-byte header at the start of `frame`.
    @inlinable
    public static func writeHeader(into frame: UnsafeMutableRawBufferPointer, destination: MACAddress, source: MACAddress, type: UInt16) {
        precondition(frame.count >= headerLength)
        destination.write(to: frame, at: 0)
        source.write(to: frame, at: 6)
        frame.setBE16(12, type)
    }
}
