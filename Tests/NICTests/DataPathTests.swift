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
import NetFrames
import Testing
import VFIO

/// Sending and receiving through the rings, batched, in the emulator's stepped mode.
@Suite(.enabled(if: EmulatedE1000E.unavailableReason == nil, "the emulated e1000e cannot run in this process (ThreadSanitizer, or not x86-64)")) struct DataPathTests {
    @Test func aTransmitBatchIsPublishedWithOneTailWrite() throws {
        let rig = try Rig()
        var tx = try rig.nic.makeTransmitQueue()
        let peer = MACAddress(0x02, 0, 0, 0, 0, 9)
        let sent = try tx.send(count: 32) { i, buffer in Frames.fill(buffer, to: peer, sequence: UInt32(i)) }
        #expect(sent == 32)
        check(tx.statistics.tailWrites == 1)
        try tx.flush(timeoutMilliseconds: 1000)
        check(tx.statistics.reclaimed == 32)
        check(tx.freeBuffers == tx.ringEntries)
        let frames = rig.device.takeTransmittedFrames()
        #expect(frames.count == 32)
        for (i, f) in frames.enumerated() {
            #expect(f.bytes == Frames.make(to: peer, sequence: UInt32(i)))
            #expect(f.queue == 0)
        }
    }

    @Test func aReceiveBatchIsRepostedWithOneTailWrite() throws {
        let rig = try Rig()
        var rx = try rig.nic.makeReceiveQueue()
        let writesAfterSetup = rx.statistics.tailWrites
        for i in 0..<32 { #expect(rig.device.inject(frame: Frames.make(to: rig.nic.macAddress, sequence: UInt32(i)))) }
        var seen: [UInt32] = []
        let n = try rx.receive(batch: 64, mode: .poll, timeoutMilliseconds: 1000) { packet in
            #expect(Frames.isIntact(packet.bytes, to: rig.nic.macAddress))
            seen.append(Frames.sequence(of: packet.bytes) ?? .max)
        }
        #expect(n == 32)
        #expect(seen == Array(0..<32))
        check(rx.statistics.tailWrites == writesAfterSetup + 1)
        check(rx.postedDescriptors == rx.ringEntries - 1)
    }

    @Test func framesForOtherStationsAreFilteredUnlessPromiscuous() throws {
        let rig = try Rig()
        var rx = try rig.nic.makeReceiveQueue()
        let other = MACAddress(0x02, 0, 0, 0, 0, 0x77)
        rig.device.inject(frame: Frames.make(to: other, sequence: 1))
        rig.device.inject(frame: Frames.make(to: .broadcast, sequence: 2))
        var got: [UInt32] = []
        _ = try rx.receive(mode: .poll, timeoutMilliseconds: 200) { got.append(Frames.sequence(of: $0.bytes) ?? 0) }
        #expect(got == [2])
        #expect(rig.device.statistics.framesDroppedByFilter == 1)
    }

    @Test func ringWrapsManyTimesWithIntactDataThroughALoopback() throws {
        var options = NICOptions()
        options.ringEntries = 32
        let rig = try Rig(options)
        rig.device.loopback = true
        var rx = try rig.nic.makeReceiveQueue()
        var tx = try rig.nic.makeTransmitQueue()
        let mac = rig.nic.macAddress
        var next: UInt32 = 0
        var expected: UInt32 = 0
        let total: UInt32 = 32 * 25
        while expected < total {
            let burst = Int(min(13, total - next))
            if burst > 0 {
                let sent = try tx.send(count: burst) { i, buffer in
                    Frames.fill(buffer, to: mac, sequence: next + UInt32(i), length: 60 + Int((next + UInt32(i)) % 1400))
                }
                next += UInt32(sent)
            }
            _ = try rx.receive(batch: 16, mode: .poll, timeoutMilliseconds: 1000) { packet in
                let s = Frames.sequence(of: packet.bytes)
                #expect(s == expected)
                #expect(Frames.isIntact(packet.bytes, to: mac, length: 60 + Int(expected % 1400)))
                expected += 1
            }
        }
        #expect(expected == total)
        try tx.flush(timeoutMilliseconds: 1000)
        check(tx.statistics.reclaimed == UInt64(total))
        check(rx.statistics.packets == UInt64(total))
        let stats = rig.nic.statistics()
        #expect(stats.goodPacketsTransmitted == UInt64(total))
        #expect(stats.goodPacketsReceived == UInt64(total))
    }

    @Test func noTransmitBufferIsReusedBeforeItsDescriptorIsDoneAndAFullRingPushesBack() throws {
        var options = NICOptions()
        options.ringEntries = 16
        let rig = try Rig(options)
        var tx = try rig.nic.makeTransmitQueue()
        let peer = MACAddress(0x02, 0, 0, 0, 0, 9)
        // Hold the transmitter (TCTL.EN off, as the test's own register write): the device takes
        // no descriptor and writes no DD.
        let registers = try rig.device.region(bar: 0)
        let tctl = registers.read(E1000ERegister.transmitControl)
        var held = tctl
        held.enable = false
        registers.write(E1000ERegister.transmitControl, held)
        let first = try tx.send(count: 100) { i, b in Frames.fill(b, to: peer, sequence: UInt32(i)) }
        check(first == 15)  // entries - 1: the ring never fills completely
        // Ring full, nothing done: no buffer comes back, however often we ask.
        let more = try tx.send(count: 4) { i, b in Frames.fill(b, to: peer, sequence: 100 + UInt32(i)) }
        check(more == 0)
        check(try tx.reclaim() == 0)
        check(tx.outstandingDescriptors == 15)
        check(tx.freeBuffers == 1)
        check(tx.statistics.backpressure >= 2)
        #expect(rig.device.takeTransmittedFrames().isEmpty)
        // Let the device go: every frame leaves exactly as it was written, then the buffers return.
        registers.write(E1000ERegister.transmitControl, tctl)
        try tx.flush(timeoutMilliseconds: 1000)
        let frames = rig.device.takeTransmittedFrames()
        #expect(frames.count == 15)
        for (i, f) in frames.enumerated() { #expect(f.bytes == Frames.make(to: peer, sequence: UInt32(i))) }
        check(tx.freeBuffers == 16)
        check(tx.statistics.reclaimed == 15)
    }

    @Test func aFrameLongerThanTheBufferIsRefused() throws {
        let rig = try Rig()
        var tx = try rig.nic.makeTransmitQueue()
        #expect(throws: NICError.self) { _ = try tx.send(count: 1) { _, _ in 4000 } }
        check(tx.outstandingDescriptors == 0)
        check(tx.freeBuffers == tx.ringEntries)
    }

    @Test func twoTransmitQueuesSendOnTheirOwnRings() throws {
        var options = NICOptions()
        options.transmitQueues = 2
        let rig = try Rig(options)
        var tx0 = try rig.nic.makeTransmitQueue(0)
        var tx1 = try rig.nic.makeTransmitQueue(1)
        let peer = MACAddress(0x02, 0, 0, 0, 0, 9)
        _ = try tx0.send(count: 3) { i, b in Frames.fill(b, to: peer, sequence: UInt32(i)) }
        _ = try tx1.send(count: 5) { i, b in Frames.fill(b, to: peer, sequence: 100 + UInt32(i)) }
        try tx0.flush(timeoutMilliseconds: 1000)
        try tx1.flush(timeoutMilliseconds: 1000)
        let frames = rig.device.takeTransmittedFrames()
        #expect(frames.filter { $0.queue == 0 }.count == 3)
        #expect(frames.filter { $0.queue == 1 }.count == 5)
    }

    @Test func twoNICsOnACableTalkBothWays() throws {
        let a = try Rig(configuration: EmulatedE1000EConfiguration(macAddress: MACAddress(0x02, 0, 0, 0, 0, 0xA)))
        let b = try Rig(configuration: EmulatedE1000EConfiguration(macAddress: MACAddress(0x02, 0, 0, 0, 0, 0xB)))
        EmulatedE1000E.cable(a.device, b.device)
        var txA = try a.nic.makeTransmitQueue()
        var rxB = try b.nic.makeReceiveQueue()
        _ = try txA.send(count: 10) { i, buf in Frames.fill(buf, to: b.nic.macAddress, sequence: UInt32(i)) }
        var got = 0
        while got < 10 {
            a.device.service()
            let n = try rxB.receive(mode: .poll, timeoutMilliseconds: 1000) { p in
                #expect(Frames.isIntact(p.bytes, to: b.nic.macAddress))
            }
            #expect(n > 0)
            if n == 0 { break }
            got += n
        }
        #expect(got == 10)
    }
}
