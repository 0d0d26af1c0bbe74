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

/// The frames `vfioctl net` and the emulated wire peer send, byte for byte as they go on the wire.
@Suite struct FrameBuildingTests {
    @Test func arpRequestIsABroadcastWhoHasPaddedToSixtyBytes() {
        let (frame, length) = building(64) { ARP.writeRequest(into: $0, senderMAC: peerMAC, senderIP: peerIP, target: ourIP) }
        #expect(length == 60)
        #expect(Array(frame[0..<42]) == hex("""
            ffff ffff ffff 5254 00ee ee01 0806
            0001 0800 06 04 0001 5254 00ee ee01 0a4d 0001
            0000 0000 0000 0a4d 0002
            """))
        #expect(frame[42..<60].allSatisfy { $0 == 0 })
        #expect(kind(Array(frame[0..<length])) == .arpRequest(senderMAC: peerMAC, senderIP: peerIP, target: ourIP))
    }

    @Test func arpReplySwapsSenderAndTargetAndNamesOurAddress() {
        let (frame, length) = building(60) { ARP.writeReply(into: $0, ourMAC: ourMAC, ourIP: ourIP, toMAC: peerMAC, toIP: peerIP) }
        #expect(length == 60)
        #expect(Array(frame[0..<42]) == hex("""
            5254 00ee ee01 5254 0012 3456 0806
            0001 0800 06 04 0002 5254 0012 3456 0a4d 0002
            5254 00ee ee01 0a4d 0001
            """))
        #expect(kind(frame) == .arpReply(senderMAC: ourMAC, senderIP: ourIP, targetMAC: peerMAC, targetIP: peerIP))
    }

    @Test func echoRequestCarriesTheSequencePatternAndBothChecksums() {
        let (frame, length) = building(60) {
            ICMPEcho.writeRequest(into: $0, from: peerMAC, to: ourMAC, sourceIP: peerIP, destinationIP: ourIP,
                                  identifier: 0x5046, sequence: 1, payload: 8)
        }
        // 14 + 20 + 8 + 8 = 50 bytes of message, padded to the 60-byte minimum.
        #expect(length == 60)
        #expect(Array(frame[0..<50]) == hex("""
            5254 0012 3456 5254 00ee ee01 0800
            4500 0024 0001 0000 4001 663c 0a4d 0001 0a4d 0002
            0800 97a4 5046 0001 0102 0304 0506 0708
            """))
        #expect(frame[50..<60].allSatisfy { $0 == 0 })
        #expect(kind(frame) == .icmpEchoRequest(destination: ourIP, ipHeaderLength: 20, ipTotalLength: 36))
    }

    @Test func echoReplyReturnsIdentifierSequenceAndDataToTheSender() {
        let (request, _) = building(98) {
            ICMPEcho.writeRequest(into: $0, from: peerMAC, to: ourMAC, sourceIP: peerIP, destinationIP: ourIP,
                                  identifier: 0x4E49, sequence: 7, payload: 56)
        }
        guard case .icmpEchoRequest(_, let ihl, let total) = kind(request) else {
            Issue.record("not an echo request")
            return
        }
        #expect(total == 84, "ping's default: 56 data bytes, 84 bytes of IPv4")
        let (reply, length) = request.withUnsafeBytes { q in
            building(128) { ICMPEcho.writeReply(from: q, into: $0, ourMAC: ourMAC, ipHeaderLength: ihl, ipTotalLength: total) }
        }
        #expect(length == 98)
        let r = Array(reply[0..<length])
        #expect(Array(r[0..<12]) == hex("5254 00ee ee01 5254 0012 3456"), "MACs swapped")
        #expect(Array(r[26..<34]) == hex("0a4d 0002 0a4d 0001"), "IPv4 addresses swapped")
        #expect(r[22] == 64, "a fresh TTL")
        #expect(r[34] == ICMPEcho.typeReply && r[35] == 0)
        #expect(Array(r[38...]) == Array(request[38...]), "identifier, sequence and data unchanged")
        #expect(kind(r) == .icmpEchoReply(source: ourIP, ipHeaderLength: 20, ipTotalLength: 84), "both checksums add up")
    }

    @Test func udpTemplateIsDiscardTrafficWithNoChecksumAndAStampedSequence() {
        let template = UDPTemplate(source: ourMAC, destination: peerMAC, sourceIP: ourIP, destinationIP: peerIP, length: 60)
        var (frame, _) = building(60) { template.write(into: $0) }
        #expect(Array(frame[0..<48]) == hex("""
            5254 00ee ee01 5254 0012 3456 0800
            4500 002e 0000 4000 4011 2623 0a4d 0002 0a4d 0001
            002a 0009 001a 0000
            0000 0000 2e2f
            """))
        #expect(Array(frame[46..<60]) == (46..<60).map { UInt8($0) })
        frame.withUnsafeMutableBytes { UDPTemplate.stamp($0, sequence: 0x0100_0005) }
        #expect(Array(frame[42..<46]) == hex("0100 0005"))
        #expect(frame.withUnsafeBytes { UDPTemplate.sequence(of: $0) } == 0x0100_0005)
        #expect(kind(frame) == .udp)
        #expect(frame.withUnsafeBytes { template.mismatch($0) } == nil)
    }

    @Test func udpTemplateNamesWhatDiffersInAFrame() {
        let template = UDPTemplate(source: ourMAC, destination: peerMAC, sourceIP: ourIP, destinationIP: peerIP, length: 128)
        let (frame, _) = building(128) { template.write(into: $0) }
        var corrupt = frame
        corrupt[100] ^= 1
        #expect(corrupt.withUnsafeBytes { template.mismatch($0) } == "payload byte 100 is \(frame[100] ^ 1)")
        #expect(Array(frame[0..<100]).withUnsafeBytes { template.mismatch($0) } == "frame of 100 bytes, sent 128")
        var redirected = frame
        redirected[5] = 0x02
        #expect(redirected.withUnsafeBytes { template.mismatch($0) } == "destination 52:54:00:ee:ee:02, expected 52:54:00:ee:ee:01")
        var badHeader = frame
        badHeader[24] ^= 0xFF
        #expect(badHeader.withUnsafeBytes { template.mismatch($0) } == "not a valid IPv4/UDP frame")
    }

    @Test func largestTemplateFillsAStandardMTU() {
        let template = UDPTemplate(source: ourMAC, destination: .broadcast, sourceIP: ourIP, destinationIP: peerIP, length: 1514)
        let (frame, _) = building(1514) { template.write(into: $0) }
        #expect(Array(frame[16..<18]) == hex("05dc"), "IPv4 total length 1500")
        #expect(Array(frame[38..<40]) == hex("05c8"), "UDP length 1480")
        #expect(kind(frame) == .udp)
    }
}
