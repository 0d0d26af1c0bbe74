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

/// IPv4 (RFC 791): the header fields `vfioctl net` and the emulated NIC use.
public enum IPv4 {
    /// A header without options: IHL 5.
    public static let headerLength = 20
    public static let protocolICMP: UInt8 = 1
    public static let protocolTCP: UInt8 = 6
    public static let protocolUDP: UInt8 = 17
    /// Linux's default (net.ipv4.ip_default_ttl).
    public static let defaultTimeToLive: UInt8 = 64

    /// Writes a 20-byte header without options at `offset`, its checksum included.
    @inlinable
    public static func writeHeader(
        into frame: UnsafeMutableRawBufferPointer, at offset: Int, totalLength: Int, identification: UInt16 = 0,
        dontFragment: Bool = false, timeToLive: UInt8 = defaultTimeToLive, protocolNumber: UInt8,
        source: IPv4Address, destination: IPv4Address
    ) {
        precondition(offset >= 0 && offset <= frame.count - headerLength && totalLength >= headerLength && totalLength <= 0xFFFF)
        frame[offset] = 0x45  // version 4, IHL 5
        frame[offset + 1] = 0  // DSCP/ECN
        frame.setBE16(offset + 2, UInt16(totalLength))
        frame.setBE16(offset + 4, identification)
        frame.setBE16(offset + 6, dontFragment ? 0x4000 : 0)  // flags (DF) and fragment offset 0
        frame[offset + 8] = timeToLive
        frame[offset + 9] = protocolNumber
        frame.setBE16(offset + 10, 0)
        frame.setBE32(offset + 12, source.value)
        frame.setBE32(offset + 16, destination.value)
        frame.setBE16(offset + 10, InternetChecksum.checksum(UnsafeRawBufferPointer(frame), from: offset, count: headerLength))
    }
}

/// A received IPv4 header, read in place. It exists only when the version is 4, IHL is at least
/// 5 words and the whole header (options too) lies inside the frame; `totalLength` is what the
/// header claims and is not yet checked against the frame (see `fitsFrame`).
public struct IPv4Header: Sendable, Equatable {
    /// Where the header starts in the frame.
    public let offset: Int
    /// IHL in bytes (20...60).
    public let headerLength: Int
    /// Total Length: header and payload, in bytes, as the header says.
    public let totalLength: Int
    public let identification: UInt16
    /// MF set or a non-zero fragment offset: not a whole datagram.
    public let isFragment: Bool
    public let protocolNumber: UInt8
    public let source: IPv4Address
    public let destination: IPv4Address
    /// The header checksum adds up.
    public let checksumValid: Bool

    public init?(_ frame: UnsafeRawBufferPointer, at offset: Int) {
        guard offset >= 0, frame.count - offset >= IPv4.headerLength, frame[offset] >> 4 == 4 else { return nil }
        let ihl = Int(frame[offset] & 0x0F) * 4
        guard ihl >= IPv4.headerLength, ihl <= frame.count - offset else { return nil }
        self.offset = offset
        headerLength = ihl
        totalLength = Int(frame.be16(offset + 2))
        identification = frame.be16(offset + 4)
        isFragment = frame.be16(offset + 6) & 0x3FFF != 0
        protocolNumber = frame[offset + 9]
        source = IPv4Address(frame.be32(offset + 12))
        destination = IPv4Address(frame.be32(offset + 16))
        var sum = InternetChecksum()
        sum.add(frame, from: offset, count: ihl)
        checksumValid = sum.isValid
    }

    /// Total Length covers at least the header and the frame holds all of it (a longer frame is
    /// padding: Ethernet pads to 60 bytes).
    public func fitsFrame(_ frame: UnsafeRawBufferPointer) -> Bool {
        totalLength >= headerLength && totalLength <= frame.count - offset
    }

    /// Where the payload (the transport header) starts.
    public var payloadOffset: Int { offset + headerLength }
}
