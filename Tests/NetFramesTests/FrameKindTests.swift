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

import NetFrames
import Testing

/// Classifying received frames: what each is, and that a frame whose headers lie is called
/// malformed, never read past its end.
@Suite struct FrameKindTests {
    static let request: [UInt8] = building(98) {
        ICMPEcho.writeRequest(into: $0, from: peerMAC, to: ourMAC, sourceIP: peerIP, destinationIP: ourIP,
                              identifier: 1, sequence: 2, payload: 56)
    }.0

    @Test func aFrameCutShortAnywhereIsMalformed() {
        for length in 0..<Self.request.count {
            #expect(kind(Array(Self.request[0..<length])) == .malformed, "\(length) bytes")
        }
        #expect(kind(Self.request) == .icmpEchoRequest(destination: ourIP, ipHeaderLength: 20, ipTotalLength: 84))
    }

    @Test func paddingAfterTheIPv4LengthIsIgnored() {
        #expect(kind(Self.request + [0, 0, 0, 0]) == .icmpEchoRequest(destination: ourIP, ipHeaderLength: 20, ipTotalLength: 84))
    }

    @Test func aBadIPv4HeaderChecksumIsMalformed() {
        var f = Self.request
        f[24] ^= 1
        #expect(kind(f) == .malformed)
    }

    @Test func aBadICMPChecksumIsMalformed() {
        var f = Self.request
        f[97] ^= 1
        #expect(kind(f) == .malformed)
    }

    /// The echo request with `bytes` of its IPv4 header changed and the header checksum made
    /// right again, so that only the changed field can make it malformed.
    static func request(with bytes: [(offset: Int, value: UInt8)]) -> [UInt8] {
        var f = request
        for (offset, value) in bytes { f[offset] = value }
        f[24] = 0
        f[25] = 0
        let sum = f.withUnsafeBytes { InternetChecksum.checksum($0, from: 14, count: 20) }
        f[24] = UInt8(sum >> 8)
        f[25] = UInt8(sum & 0xFF)
        return f
    }

    @Test func impossibleIPv4HeadersAreMalformed() {
        #expect(kind(Self.request(with: [])) == kind(Self.request), "re-summing alone changes nothing")
        #expect(kind(Self.request(with: [(14, 0x44)])) == .malformed, "IHL 4: shorter than the fixed header")
        #expect(kind(Self.request(with: [(14, 0x65)])) == .malformed, "version 6 under EtherType IPv4")
        #expect(kind(Self.request(with: [(16, 0), (17, 19)])) == .malformed, "Total Length 19 < IHL")
        #expect(kind(Self.request(with: [(16, 0), (17, 85)])) == .malformed, "Total Length beyond the frame")
        #expect(kind(Self.request(with: [(16, 0), (17, 27)])) == .malformed, "ICMP shorter than its 8-byte header")
    }

    @Test func anIPv4FragmentIsNoWholeICMPMessage() {
        #expect(kind(Self.request(with: [(20, 0x20)])) == .otherIPv4, "MF set")
        #expect(kind(Self.request(with: [(21, 0x01)])) == .otherIPv4, "fragment offset 8")
        #expect(kind(Self.request(with: [(20, 0x40)])) != .otherIPv4, "DF alone is no fragment")
    }

    @Test func otherEtherTypesAndARPOperationsAreNamed() {
        var ipv6 = Self.request
        ipv6[12] = 0x86
        ipv6[13] = 0xDD
        #expect(kind(ipv6) == .other(etherType: 0x86DD))
        var arp = building(60) { ARP.writeRequest(into: $0, senderMAC: peerMAC, senderIP: peerIP, target: ourIP) }.0
        arp[21] = 3  // RARP request
        #expect(kind(arp) == .other(etherType: 0x0806))
        arp[18] = 8  // hardware address length 8
        #expect(kind(arp) == .malformed)
    }
}
