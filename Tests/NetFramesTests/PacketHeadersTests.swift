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

/// What a NIC's receive offloads read from a frame: addresses and ports for RSS, and whether the
/// IPv4 and TCP/UDP checksums add up, with pseudo-headers as RFC 768, 793 and 8200 define them.
@Suite struct PacketHeadersTests {
    static let ipv4TCP = hex("""
        0200 0000 0002 0200 0000 0001 0800
        4500 0028 1234 0000 4006 0000 0a00 0001 0a00 0002
        03e8 0050 0000 0001 0000 0000 5002 ffff 97a7 0000
        """)

    /// `ipv4TCP` with its IPv4 header checksum filled in.
    static var goodTCP: [UInt8] {
        var f = ipv4TCP
        let sum = f.withUnsafeBytes { InternetChecksum.checksum($0, from: 14, count: 20) }
        f[24] = UInt8(sum >> 8)
        f[25] = UInt8(sum & 0xFF)
        return f
    }

    @Test func ipv4TCPGivesAddressesPortsAndVerifiedChecksums() {
        let h = PacketHeaders(Self.goodTCP)
        #expect(h.network == .ipv4 && h.isTCP && !h.isUDP && !h.isFragment)
        #expect(Array(h.source) == [10, 0, 0, 1] && Array(h.destination) == [10, 0, 0, 2])
        #expect(Array(h.ports) == hex("03e8 0050"))
        #expect(h.ipIdentification == 0x1234)
        #expect(h.ipv4ChecksumValid == true)
        #expect(h.l4ChecksumValid == true, "TCP checksum 97a7 over the pseudo-header")
    }

    @Test func aWrongTCPChecksumIsReportedAsSuch() {
        var f = Self.goodTCP
        f[50] ^= 1
        #expect(PacketHeaders(f).l4ChecksumValid == false)
        #expect(PacketHeaders(Self.ipv4TCP).ipv4ChecksumValid == false)
    }

    @Test func udpWithoutAChecksumPassesOverIPv4() {
        let template = UDPTemplate(source: ourMAC, destination: peerMAC, sourceIP: ourIP, destinationIP: peerIP, length: 60)
        let h = PacketHeaders(building(60) { template.write(into: $0) }.0)
        #expect(h.isUDP && h.l4ChecksumValid == true && h.ipv4ChecksumValid == true)
    }

    @Test func ipv6UDPIsVerifiedWithTheIPv6PseudoHeader() {
        let frame = hex("""
            0200 0000 0002 0200 0000 0001 86dd
            6000 0000 000c 1140 fe80 0000 0000 0000 0000 0000 0000 0001 fe80 0000 0000 0000 0000 0000 0000 0002
            1388 0035 000c 2a4e 6162 6364
            """)
        let h = PacketHeaders(frame)
        #expect(h.network == .ipv6 && h.isUDP)
        #expect(h.source.count == 16 && h.destination.last == 2)
        #expect(Array(h.ports) == hex("1388 0035"))
        #expect(h.ipv4ChecksumValid == nil)
        #expect(h.l4ChecksumValid == true)
    }

    @Test func fragmentsHaveNoPortsAndNoTransportChecksum() {
        var f = Self.goodTCP
        f[21] = 0x10  // fragment offset 16 (x 8 bytes)
        let h = PacketHeaders(f)
        #expect(h.isFragment && h.ports.isEmpty && h.l4ChecksumValid == nil)
    }

    @Test func framesCutShortNeverReadPastTheirEnd() {
        for length in 0..<Self.goodTCP.count {
            let h = PacketHeaders(Array(Self.goodTCP[0..<length]))
            #expect(h.l4ChecksumValid == nil, "\(length) bytes: no whole TCP header")
            #expect((h.network == .ipv4) == (length >= 34), "\(length) bytes")
        }
    }

    @Test func nonIPFramesHaveNoNetworkLayer() {
        let arp = building(60) { ARP.writeRequest(into: $0, senderMAC: peerMAC, senderIP: peerIP, target: ourIP) }.0
        let h = PacketHeaders(arp)
        #expect(h.network == .none && h.source.isEmpty && h.ipv4ChecksumValid == nil)
    }
}
