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

/// What a received Ethernet frame is, as far as `vfioctl net recv` and `net echo` care: ARP,
/// ICMP echo, UDP, other IPv4, another EtherType, or malformed. Classifying reads the frame in
/// place and allocates nothing; every length and offset taken from the frame is checked against
/// the frame's own length (what the NIC wrote) before it is used.
public enum FrameKind: Equatable, Sendable {
    /// ARP request: who has `target`? tell `senderIP` at `senderMAC`.
    case arpRequest(senderMAC: MACAddress, senderIP: IPv4Address, target: IPv4Address)
    /// ARP reply: `senderIP` is at `senderMAC` (the answer), sent to `targetMAC`/`targetIP`.
    case arpReply(senderMAC: MACAddress, senderIP: IPv4Address, targetMAC: MACAddress, targetIP: IPv4Address)
    /// ICMP echo request to `destination`, of `ipTotalLength` bytes from the IPv4 header on.
    case icmpEchoRequest(destination: IPv4Address, ipHeaderLength: Int, ipTotalLength: Int)
    /// ICMP echo reply from `source`, of `ipTotalLength` bytes from the IPv4 header on.
    case icmpEchoReply(source: IPv4Address, ipHeaderLength: Int, ipTotalLength: Int)
    case udp
    case otherIPv4
    /// An EtherType other than IPv4 and ARP, or an ARP operation other than request and reply.
    case other(etherType: UInt16)
    /// Shorter than its headers say, a version, length or address size that is not what the
    /// header's type requires, or a checksum that does not add up.
    case malformed

    /// Classifies `frame`: exactly the bytes that arrived (for a NIC, the length its receive
    /// descriptor reports, already bounded by the buffer).
    public init(_ frame: UnsafeRawBufferPointer) {
        guard frame.count >= Ethernet.headerLength else { self = .malformed; return }
        let type = frame.be16(12)
        switch type {
        case Ethernet.typeARP: self = Self.arp(frame)
        case Ethernet.typeIPv4: self = Self.ipv4(frame)
        default: self = .other(etherType: type)
        }
    }

    private static func arp(_ frame: UnsafeRawBufferPointer) -> FrameKind {
        let a = Ethernet.headerLength
        guard frame.count - a >= ARP.packetLength, frame.be16(a) == 1, frame.be16(a + 2) == Ethernet.typeIPv4,
              frame[a + 4] == 6, frame[a + 5] == 4 else { return .malformed }
        let senderMAC = MACAddress(reading: frame, at: a + 8)
        let senderIP = IPv4Address(frame.be32(a + 14))
        switch frame.be16(a + 6) {
        case ARP.operationRequest:
            return .arpRequest(senderMAC: senderMAC, senderIP: senderIP, target: IPv4Address(frame.be32(a + 24)))
        case ARP.operationReply:
            return .arpReply(senderMAC: senderMAC, senderIP: senderIP, targetMAC: MACAddress(reading: frame, at: a + 18),
                             targetIP: IPv4Address(frame.be32(a + 24)))
        default:
            return .other(etherType: Ethernet.typeARP)
        }
    }

    private static func ipv4(_ frame: UnsafeRawBufferPointer) -> FrameKind {
        // RFC 791: IHL at least 5 words; Total Length covers the header and fits the frame.
        guard let ip = IPv4Header(frame, at: Ethernet.headerLength), ip.fitsFrame(frame), ip.checksumValid else { return .malformed }
        switch ip.protocolNumber {
        case IPv4.protocolICMP where !ip.isFragment:  // a fragment is not a whole ICMP message
            let icmp = ip.payloadOffset
            let icmpLength = ip.totalLength - ip.headerLength
            guard icmpLength >= ICMPEcho.headerLength,
                  InternetChecksum.checksum(frame, from: icmp, count: icmpLength) == 0 else { return .malformed }
            switch (frame[icmp], frame[icmp + 1]) {
            case (ICMPEcho.typeRequest, 0):
                return .icmpEchoRequest(destination: ip.destination, ipHeaderLength: ip.headerLength, ipTotalLength: ip.totalLength)
            case (ICMPEcho.typeReply, 0):
                return .icmpEchoReply(source: ip.source, ipHeaderLength: ip.headerLength, ipTotalLength: ip.totalLength)
            default:
                return .otherIPv4
            }
        case IPv4.protocolUDP:
            return .udp
        default:
            return .otherIPv4
        }
    }
}
