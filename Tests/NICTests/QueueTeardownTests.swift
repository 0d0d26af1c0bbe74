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

/// Dropping one queue of two stops the device from using that ring before its memory goes
/// (issue 16 item 10), while the other queue keeps working.
@Suite(.enabled(if: EmulatedE1000E.unavailableReason == nil, "the emulated e1000e cannot run in this process (ThreadSanitizer, or not x86-64)"))
struct QueueTeardownTests {
    static let ports = UInt16(1000)..<UInt16(1064)

    /// The queue each RETA entry names.
    static func redirection(_ device: EmulatedE1000E) -> [Int] {
        (0..<RedirectionTable.registerCount).flatMap { i -> [Int] in
            let w = device.peekRegister(E1000ERegister.redirectionTable(i).offset)
            return (0..<4).map { RedirectionTable.queue(entry: UInt8(truncatingIfNeeded: w >> (8 * UInt32($0)))) }
        }
    }

    static func twoQueueRig() throws -> Rig {
        var options = NICOptions()
        options.receiveQueues = 2
        options.transmitQueues = 2
        return try Rig(options)
    }

    @Test func droppingOneOfTwoReceiveQueuesSteersEveryFlowToTheOtherAndLeavesItsRingAlone() throws {
        let rig = try Self.twoQueueRig()
        let mac = rig.nic.macAddress
        var rx0 = try rig.nic.makeReceiveQueue(0)
        var rx1: ReceiveQueue<EmulatedE1000E>? = try rig.nic.makeReceiveQueue(1)
        // Traffic on both, so the device has fetched descriptors of queue 1's ring.
        for port in Self.ports { rig.device.inject(frame: Frames.tcp(to: mac, sourcePort: port, destinationPort: 80)) }
        var before = 0
        var onQueue1: [UInt16] = []
        _ = try rx0.receive(batch: 128, mode: .poll, timeoutMilliseconds: 200) { _ in before += 1 }
        _ = try rx1!.receive(batch: 128) { p in
            before += 1
            onQueue1.append(UInt16(p.bytes[34]) << 8 | UInt16(p.bytes[35]))
        }
        #expect(before == Self.ports.count)
        // One more frame for queue 1, so that the descriptors fetched in its last burst are not
        // all used up (the device fetches eight at a time).
        let port1 = try #require(onQueue1.first)
        if onQueue1.count % 8 == 0 {
            rig.device.inject(frame: Frames.tcp(to: mac, sourcePort: port1, destinationPort: 80))
            check(try rx1!.receive(batch: 1, mode: .poll, timeoutMilliseconds: 200) { _ in } == 1)
        }

        rx1 = nil
        _ = rx1
        #expect(Self.redirection(rig.device).allSatisfy { $0 == 0 }, "RSS still names the dropped queue")
        #expect(rig.device.peekRegister(E1000ERegister.receiveQueue(1).length.offset) == 0)
        #expect(ReceiveControl(rawValue: rig.device.peekRegister(E1000ERegister.receiveControl.offset)).enable)

        // Every flow now arrives on queue 0, and the device never writes where queue 1 was.
        for port in Self.ports { rig.device.inject(frame: Frames.tcp(to: mac, sourcePort: port, destinationPort: 80)) }
        var after: [UInt16] = []
        var spins = 0
        while after.count < Self.ports.count && spins < 50 {
            _ = try rx0.receive(batch: 128, mode: .poll, timeoutMilliseconds: 20) { p in
                after.append(UInt16(p.bytes[34]) << 8 | UInt16(p.bytes[35]))
            }
            spins += 1
        }
        #expect(after.sorted() == Array(Self.ports), "flows lost after dropping queue 1: \(Self.ports.count - after.count)")
        #expect(rig.device.dmaFaults.isEmpty, "the device used the dropped ring: \(rig.device.dmaFaults.prefix(3))")
        #expect(rig.device.statistics.framesDroppedNoDescriptor == 0)
    }

    @Test func aDroppedReceiveQueueMadeAgainGetsItsShareOfTheFlowsBack() throws {
        let rig = try Self.twoQueueRig()
        let mac = rig.nic.macAddress
        var rx0 = try rig.nic.makeReceiveQueue(0)
        do { _ = try rig.nic.makeReceiveQueue(1) }
        #expect(Self.redirection(rig.device).allSatisfy { $0 == 0 })
        var rx1 = try rig.nic.makeReceiveQueue(1)
        #expect(Self.redirection(rig.device).filter { $0 == 1 }.count == 64)
        for port in Self.ports { rig.device.inject(frame: Frames.tcp(to: mac, sourcePort: port, destinationPort: 80)) }
        var counts = [0, 0]
        _ = try rx0.receive(batch: 128, mode: .poll, timeoutMilliseconds: 200) { _ in counts[0] += 1 }
        _ = try rx1.receive(batch: 128) { _ in counts[1] += 1 }
        #expect(counts[0] + counts[1] == Self.ports.count && counts[1] > 0 && counts[0] > 0)
        #expect(rig.device.dmaFaults.isEmpty)
    }

    @Test func droppingOneOfTwoTransmitQueuesTakesItOutOfArbitrationWhileTheOtherSends() throws {
        let rig = try Self.twoQueueRig()
        let peer = MACAddress(0x02, 0, 0, 0, 0, 9)
        var tx0 = try rig.nic.makeTransmitQueue(0)
        var tx1: TransmitQueue<EmulatedE1000E>? = try rig.nic.makeTransmitQueue(1)
        check(try tx1!.send(count: 4) { i, b in Frames.fill(b, to: peer, sequence: UInt32(i)) } == 4)
        try tx1!.flush(timeoutMilliseconds: 500)
        let enable = E1000ERegister.transmitArbitrationEnable
        #expect(rig.device.peekRegister(E1000ERegister.transmitArbitration(1).offset) & enable != 0)
        tx1 = nil
        _ = tx1
        // Queue 1 is no longer scheduled, its ring is gone from the registers; queue 0 goes on.
        #expect(rig.device.peekRegister(E1000ERegister.transmitArbitration(1).offset) & enable == 0,
                "TARC1.ENABLE still set: the device may still fetch from the dropped ring")
        #expect(rig.device.peekRegister(E1000ERegister.transmitQueue(1).length.offset) == 0)
        #expect(rig.device.peekRegister(E1000ERegister.transmitArbitration(0).offset) & enable != 0)
        #expect(TransmitControl(rawValue: rig.device.peekRegister(E1000ERegister.transmitControl.offset)).enable)
        _ = rig.device.takeTransmittedFrames()
        check(try tx0.send(count: 4) { i, b in Frames.fill(b, to: peer, sequence: UInt32(10 + i)) } == 4)
        try tx0.flush(timeoutMilliseconds: 500)
        let sent = rig.device.takeTransmittedFrames()
        #expect(sent.count == 4 && sent.allSatisfy { $0.queue == 0 })
        // Made again, queue 1 is back in arbitration and sends.
        var again = try rig.nic.makeTransmitQueue(1)
        check(try again.send(count: 1) { _, b in Frames.fill(b, to: peer, sequence: 99) } == 1)
        try again.flush(timeoutMilliseconds: 500)
        #expect(rig.device.takeTransmittedFrames().map(\.queue) == [1])
        #expect(rig.device.dmaFaults.isEmpty)
    }
}

/// Packet buffers are recycled first in, first out (issue 16 item 2): a buffer just given back
/// is the last to be handed out again, so a late device write finds it idle, not refilled.
@Suite(.enabled(if: EmulatedE1000E.unavailableReason == nil, "the emulated e1000e cannot run in this process (ThreadSanitizer, or not x86-64)"))
struct PacketBufferRecyclingTests {
    @Test func aFreedPacketBufferIsTheLastToBeHandedOutAgain() throws {
        let device = try EmulatedE1000E()
        var pool = try PacketBufferPool(allocator: device.dma, count: 4)
        let first = pool.allocate()!
        pool.free(first)
        var order: [Int] = []
        while let index = pool.allocate() { order.append(index) }
        check(order.count == 4 && order.last == first, "order \(order)")
        for index in order { pool.free(index) }
        // Freed in the order 1, 2, 3, 0: handed out in that order.
        var again: [Int] = []
        while let index = pool.allocate() { again.append(index) }
        check(again == order)
    }
}
