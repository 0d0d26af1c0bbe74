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

import E1000ESpec
@testable import NICEmulator
import Testing
import VFIO

/// RSS over the two receive queues: Toeplitz hash, RETA queue choice, the extended write-back.
@Suite(.enabled(if: EmulatedE1000E.unavailableReason == nil, "the emulated e1000e cannot run in this process (ThreadSanitizer, or not x86-64)")) struct RSSTests {
    /// The key of Microsoft's RSS verification suite.
    static let key: [UInt8] = [
        0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0,
        0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c,
        0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
    ]

    @Test func toeplitzMatchesMicrosoftsVerificationSuite() {
        // 66.9.149.187:2794 -> 161.142.100.80:1766
        let addresses: [UInt8] = [66, 9, 149, 187, 161, 142, 100, 80]
        #expect(NICEngine.toeplitz(addresses, key: Self.key) == 0x323e_8fc2)
        #expect(NICEngine.toeplitz(addresses + [0x0a, 0xea, 0x06, 0xe6], key: Self.key) == 0x51cc_c178)
        // 199.92.111.2:14230 -> 65.69.140.83:4739
        let second: [UInt8] = [199, 92, 111, 2, 65, 69, 140, 83]
        #expect(NICEngine.toeplitz(second, key: Self.key) == 0xd718_262a)
        #expect(NICEngine.toeplitz(second + [0x37, 0x96, 0x12, 0x83], key: Self.key) == 0xc626_b0ea)
    }

    /// RSS on (MRQC TCP/IPv4 and IPv4, RXCSUM.PCSD, extended descriptors), the key above, and a
    /// RETA sending odd entries to queue 1.
    func rssRig() throws -> Rig {
        let rig = try Rig()
        try rig.bringUp(rss: true)
        var mrqc = MultipleReceiveQueuesCommand(rawValue: 0)
        mrqc.rssEnabled = true
        mrqc.hashTCPIPv4 = true
        mrqc.hashIPv4 = true
        rig.regs.write(E1000ERegister.multipleReceiveQueuesCommand, mrqc)
        for r in 0..<RSSKey.registerCount {
            let k = Self.key[(4 * r)..<(4 * r + 4)].enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * $1.offset) }
            rig.write(E1000ERegister.rssKey(r), k)
        }
        for r in 0..<RedirectionTable.registerCount {
            var word: UInt32 = 0
            for b in 0..<4 { word |= UInt32(RedirectionTable.entry(queue: (4 * r + b) % 2)) << (8 * b) }
            rig.write(E1000ERegister.redirectionTable(r), word)
        }
        for q in 0..<2 { rig.postReceive(queue: q, count: 7) }
        return rig
    }

    @Test func eachFlowGoesToTheQueueRETANamesForItsHash() throws {
        let rig = try rssRig()
        var expected = [0, 0]
        for n in 0..<8 {
            let sourcePort = UInt16(1000 + 17 * n)
            let f = ipv4Frame(source: [10, 0, 0, 1], destination: [10, 0, 0, 2], sourcePort: sourcePort, destinationPort: 80)
            let hash = NICEngine.toeplitz([10, 0, 0, 1, 10, 0, 0, 2, UInt8(sourcePort >> 8), UInt8(sourcePort & 0xFF), 0, 80], key: Self.key)
            let queue = Int(hash & 0x7F) % 2
            rig.nic.inject(frame: f)
            rig.nic.service()
            guard expected[queue] < 7 else { continue }
            let d = rig.extendedDescriptor(queue: queue, expected[queue])
            #expect(d.statusError.status.contains(.descriptorDone))
            #expect(d.rssHash == hash)
            #expect(d.rssType == 1)  // TCP/IPv4
            #expect(Int(d.rssQueue) == queue)
            expected[queue] += 1
        }
        #expect(expected[0] > 0 && expected[1] > 0)
        #expect(rig.read(E1000ERegister.receiveQueue(0).head) == UInt32(expected[0]))
        #expect(rig.read(E1000ERegister.receiveQueue(1).head) == UInt32(expected[1]))
    }

    @Test func udpIsHashedOnAddressesOnly() throws {
        let rig = try rssRig()
        let f = ipv4Frame(source: [66, 9, 149, 187], destination: [161, 142, 100, 80], sourcePort: 2794, destinationPort: 1766, udp: true)
        rig.nic.inject(frame: f)
        rig.nic.service()
        let queue = Int(0x323e_8fc2 & 0x7F) % 2
        let d = rig.extendedDescriptor(queue: queue, 0)
        #expect(d.rssHash == 0x323e_8fc2)
        #expect(d.rssType == 2)  // IPv4
    }

    @Test func legacyDescriptorsDisableRSS() throws {
        let rig = try rssRig()
        rig.regs.write(E1000ERegister.receiveFilterControl, ReceiveFilterControl(rawValue: 0))
        for n in 0..<4 {
            rig.nic.inject(frame: ipv4Frame(source: [10, 0, 0, 1], destination: [10, 0, 0, 2], sourcePort: UInt16(n), destinationPort: 80))
        }
        rig.nic.service()
        #expect(rig.read(E1000ERegister.receiveQueue(0).head) == 4)
        #expect(rig.read(E1000ERegister.receiveQueue(1).head) == 0)
    }
}
