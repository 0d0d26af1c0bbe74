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

import NIC
import NICEmulator
import Testing
import VFIO

/// RSS over the 82574's two receive queues.
@Suite(.enabled(if: EmulatedE1000E.unavailableReason == nil, "the emulated e1000e cannot run in this process (ThreadSanitizer, or not x86-64)")) struct ReceiveSideScalingTests {
    @Test func rssSpreadsFlowsOverBothQueuesAndKeepsEachFlowOnOne() throws {
        var options = NICOptions()
        options.receiveQueues = 2
        let rig = try Rig(options)
        #expect(rig.nic.extendedReceiveDescriptors)
        var rx0 = try rig.nic.makeReceiveQueue(0)
        var rx1 = try rig.nic.makeReceiveQueue(1)
        let mac = rig.nic.macAddress
        var queueOfPort: [UInt16: Int] = [:]
        var conflicts = 0
        for round in 0..<2 {
            for port in UInt16(1000)..<1064 {
                rig.device.inject(frame: Frames.tcp(to: mac, sourcePort: port, destinationPort: 80))
            }
            var count = 0
            func record(_ p: ReceivedPacket) {
                let port = UInt16(p.bytes[34]) << 8 | UInt16(p.bytes[35])
                #expect(p.rssHash != 0)
                #expect(p.queue == (p.queue == 0 ? 0 : 1))
                if round == 0 { queueOfPort[port] = p.queue } else if queueOfPort[port] != p.queue { conflicts += 1 }
                count += 1
            }
            count += 0
            _ = try rx0.receive(batch: 128, mode: .poll, timeoutMilliseconds: 200) { record($0) }
            _ = try rx1.receive(batch: 128, { record($0) })
            #expect(count == 64)
        }
        #expect(conflicts == 0)
        let onQueue1 = queueOfPort.values.filter { $0 == 1 }.count
        #expect(onQueue1 > 8 && onQueue1 < 56)
        check(rx0.statistics.packets + rx1.statistics.packets == 128)
    }

    @Test func theDriverProgramsRSSAsQEMURequiresIt() throws {
        var options = NICOptions()
        options.receiveQueues = 2
        let rig = try Rig(options)
        let mrqc = MultipleReceiveQueuesCommand(rawValue: rig.device.peekRegister(E1000ERegister.multipleReceiveQueuesCommand.offset))
        #expect(mrqc.rssEnabled && mrqc.hashTCPIPv4 && mrqc.hashIPv4)
        // MRQE = 1, TCP/IPv4 (16), IPv4 (17), TCP/IPv6 (18), IPv6 (20), as QEMU reads MRQC.
        #expect(mrqc.rawValue == 0x0017_0001)
        #expect(ReceiveFilterControl(rawValue: rig.device.peekRegister(E1000ERegister.receiveFilterControl.offset)).extendedStatus)
        #expect(ReceiveChecksumControl(rawValue: rig.device.peekRegister(E1000ERegister.receiveChecksumControl.offset)).packetChecksumDisable)
        let key = (0..<RSSKey.registerCount).flatMap { i -> [UInt8] in
            let w = rig.device.peekRegister(E1000ERegister.rssKey(i).offset)
            return [UInt8(w & 0xFF), UInt8(w >> 8 & 0xFF), UInt8(w >> 16 & 0xFF), UInt8(w >> 24)]
        }
        #expect(key == NICOptions.defaultRSSKey)
        let entries = (0..<RedirectionTable.registerCount).flatMap { i -> [Int] in
            let w = rig.device.peekRegister(E1000ERegister.redirectionTable(i).offset)
            return (0..<4).map { RedirectionTable.queue(entry: UInt8(truncatingIfNeeded: w >> (8 * UInt32($0)))) }
        }
        #expect(entries.filter { $0 == 1 }.count == 64)
    }
}
