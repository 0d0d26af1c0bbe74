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

/// What a NIC's receive offloads learn from a frame's headers: the network and transport
/// protocols, the addresses and ports that receive side scaling hashes, and whether the IPv4
/// header and TCP/UDP checksums add up (QEMU's net_rx_pkt, reduced to Ethernet II, IPv4 and IPv6
/// without extension headers). Unlike `FrameKind` it keeps going on a frame that is shorter than
/// its IP length says, as a NIC does: the checksum is then taken over what arrived.
public struct PacketHeaders: Sendable {
    public enum Network: Sendable { case none, ipv4, ipv6 }
    public var network = Network.none
    public var isTCP = false
    public var isUDP = false
    /// IPv4 MF set or a fragment offset: no ports to hash.
    public var isFragment = false
    /// Source and destination addresses, network order (4 or 16 bytes each).
    public var source: ArraySlice<UInt8> = []
    public var destination: ArraySlice<UInt8> = []
    /// Source and destination ports, network order (TCP/UDP, first fragment only).
    public var ports: ArraySlice<UInt8> = []
    public var ipIdentification: UInt16 = 0
    /// The IPv4 header checksum verifies; nil when there is no IPv4 header.
    public var ipv4ChecksumValid: Bool?
    /// The TCP or UDP checksum verifies (a UDP checksum of zero means "none" and passes over
    /// IPv4); nil when there is no unfragmented TCP/UDP segment inside the IP length.
    public var l4ChecksumValid: Bool?

    public init(_ frame: [UInt8]) {
        frame.withUnsafeBytes { parse($0, frame) }
    }

    private mutating func parse(_ f: UnsafeRawBufferPointer, _ frame: [UInt8]) {
        guard f.count >= Ethernet.headerLength else { return }
        let l3 = Ethernet.headerLength
        let l4: Int
        let l4End: Int
        let protocolNumber: UInt8
        switch f.be16(12) {
        case Ethernet.typeIPv4:
            guard let ip = IPv4Header(f, at: l3) else { return }
            network = .ipv4
            protocolNumber = ip.protocolNumber
            isFragment = ip.isFragment
            ipIdentification = ip.identification
            source = frame[(l3 + 12)..<(l3 + 16)]
            destination = frame[(l3 + 16)..<(l3 + 20)]
            ipv4ChecksumValid = ip.checksumValid
            l4 = ip.payloadOffset
            l4End = min(f.count, l3 + max(ip.totalLength, ip.headerLength))
        case Ethernet.typeIPv6:
            // RFC 8200: a 40-byte header; Payload Length counts what follows it.
            guard f.count >= l3 + 40, f[l3] >> 4 == 6 else { return }
            network = .ipv6
            protocolNumber = f[l3 + 6]
            source = frame[(l3 + 8)..<(l3 + 24)]
            destination = frame[(l3 + 24)..<(l3 + 40)]
            l4 = l3 + 40
            l4End = min(f.count, l4 + Int(f.be16(l3 + 4)))
        default:
            return
        }
        isTCP = protocolNumber == IPv4.protocolTCP
        isUDP = protocolNumber == IPv4.protocolUDP
        guard isTCP || isUDP, !isFragment else { return }
        if f.count >= l4 + 4 { ports = frame[l4..<(l4 + 4)] }
        guard l4End - l4 >= (isTCP ? 20 : 8) else { return }
        if isUDP && network == .ipv4 && f.be16(l4 + 6) == 0 {
            l4ChecksumValid = true
            return
        }
        // The pseudo-header (RFC 768, RFC 793, RFC 8200 8.1): addresses, protocol, length.
        var sum = InternetChecksum()
        let addresses = network == .ipv4 ? (l3 + 12, 8) : (l3 + 8, 32)
        sum.add(f, from: addresses.0, count: addresses.1)
        sum.add(word: UInt16(protocolNumber))
        sum.add(doubleWord: UInt32(l4End - l4))
        sum.add(f, from: l4, count: l4End - l4)
        l4ChecksumValid = sum.isValid
    }
}
