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
import NetFrames
import Testing
import VFIO

/// Transmit and receive through legacy descriptor rings, driven by hand.
@Suite(.enabled(if: EmulatedE1000E.unavailableReason == nil, "the emulated e1000e cannot run in this process (ThreadSanitizer, or not x86-64)")) struct DatapathTests {
    @Test func transmitSendsTheFrameAndWritesDoneBack() throws {
        let rig = try Rig()
        try rig.bringUp()
        let sent = frame(to: [0x02, 0, 0, 0, 0, 9], payload: pattern(100))
        rig.stageTransmit(slot: 0, frame: sent)
        rig.write(E1000ERegister.transmitQueue(0).tail, 1)
        #expect(rig.transmitDescriptor(0).status.isEmpty)  // nothing happens before the device runs
        rig.nic.service()
        #expect(rig.transmitDescriptor(0).status.contains(.descriptorDone))
        #expect(rig.read(E1000ERegister.transmitQueue(0).head) == 1)
        let frames = rig.nic.takeTransmittedFrames()
        #expect(frames == [TransmittedFrame(bytes: sent, queue: 0)])
    }

    @Test func queueOneTransmitsFromItsOwnRingOnlyWithTARCEnable() throws {
        let rig = try Rig()
        try rig.bringUp()
        rig.write(E1000ERegister.transmitArbitration(1), 0x3)  // ENABLE clear: TDT writes are ignored
        let sent = frame(to: [0x02, 0, 0, 0, 0, 9], payload: pattern(80))
        rig.stageTransmit(queue: 1, slot: 0, frame: sent)
        rig.write(E1000ERegister.transmitQueue(1).tail, 1)
        rig.nic.service()
        #expect(rig.nic.takeTransmittedFrames().isEmpty)
        rig.write(E1000ERegister.transmitArbitration(1), 0x3 | E1000ERegister.transmitArbitrationEnable)
        rig.write(E1000ERegister.transmitQueue(1).tail, 1)
        rig.nic.service()
        #expect(rig.nic.takeTransmittedFrames() == [TransmittedFrame(bytes: sent, queue: 1)])
        #expect(rig.transmitDescriptor(queue: 1, 0).status.contains(.descriptorDone))
        #expect(rig.read(E1000ERegister.transmitQueue(0).head) == 0)
    }

    @Test func aTailOutsideTheRingTransmitsNothing() throws {
        let rig = try Rig()
        try rig.bringUp()
        rig.stageTransmit(slot: 0, frame: frame(payload: pattern(60)))
        rig.write(E1000ERegister.transmitQueue(0).tail, UInt32(Rig.ringSlots + 2))
        rig.nic.service()
        #expect(rig.nic.takeTransmittedFrames().isEmpty)
        #expect(rig.read(E1000ERegister.transmitQueue(0).head) == 0)
        #expect(rig.nic.iommu.faultCount == 0)
    }

    @Test func aPacketSpanningDescriptorsIsSentOnceAtEOP() throws {
        let rig = try Rig()
        try rig.bringUp()
        let whole = frame(to: [0x02, 0, 0, 0, 0, 9], payload: pattern(300))
        rig.stageTransmit(slot: 0, frame: Array(whole[0..<100]), command: [])
        rig.stageTransmit(slot: 1, frame: Array(whole[100...]), command: [.endOfPacket, .reportStatus])
        rig.write(E1000ERegister.transmitQueue(0).tail, 2)
        rig.nic.service()
        #expect(rig.nic.takeTransmittedFrames().map(\.bytes) == [whole])
        #expect(rig.transmitDescriptor(0).status.isEmpty)  // no RS: no write-back
        #expect(rig.transmitDescriptor(1).status.contains(.descriptorDone))
    }

    @Test func receiveFillsAPostedDescriptorAndAdvancesRDH() throws {
        let rig = try Rig()
        try rig.bringUp()
        rig.postReceive(count: 4)
        let incoming = frame(payload: pattern(200, seed: 3))
        #expect(rig.nic.inject(frame: incoming))
        rig.nic.service()
        let d = rig.receiveDescriptor(0)
        #expect(d.status.contains(.descriptorDone) && d.status.contains(.endOfPacket))
        #expect(Int(d.length) == incoming.count)
        #expect(rig.bytes(ofBuffer: 0, count: incoming.count) == incoming)
        #expect(rig.read(E1000ERegister.receiveQueue(0).head) == 1)
        #expect(rig.receiveDescriptor(1).status.isEmpty)
    }

    @Test func theFCSIsStoredUnlessStripped() throws {
        let rig = try Rig()
        try rig.bringUp(stripCRC: false)
        rig.postReceive(count: 2)
        let incoming = frame(payload: pattern(64))
        rig.nic.inject(frame: incoming)
        rig.nic.service()
        #expect(Int(rig.receiveDescriptor(0).length) == incoming.count + 4)
    }

    @Test func receiveWrapsAroundTheRing() throws {
        let rig = try Rig()
        try rig.bringUp()
        rig.postReceive(from: 0, count: 7)  // RDT 7: slots 0-6 posted (one always stays empty)
        for n in 0..<7 { rig.nic.inject(frame: frame(payload: pattern(60, seed: UInt8(n)))) }
        rig.nic.service()
        #expect(rig.read(E1000ERegister.receiveQueue(0).head) == 7)
        // The driver reaps 0-6, re-posts them, and the ring wraps: head 7 → 0 → 5.
        for slot in 0..<8 {
            rig.ringAddress(receive: true, 0).storeBytes(of: LegacyReceiveDescriptor(bufferAddress: rig.bufferIOVA(slot)),
                                                       toByteOffset: slot * 16, as: LegacyReceiveDescriptor.self)
        }
        rig.write(E1000ERegister.receiveQueue(0).tail, 6)
        for n in 0..<6 { rig.nic.inject(frame: frame(payload: pattern(80, seed: UInt8(100 + n)))) }
        rig.nic.service()
        #expect(rig.read(E1000ERegister.receiveQueue(0).head) == 5)
        #expect(rig.receiveDescriptor(7).status.contains(.descriptorDone))
        #expect(rig.receiveDescriptor(4).status.contains(.descriptorDone))
        #expect(rig.receiveDescriptor(5).status.isEmpty)
        let last = frame(payload: pattern(80, seed: 105))
        #expect(rig.bytes(ofBuffer: 4, count: last.count) == last)
        #expect(rig.nic.statistics.framesReceived == 13)
    }

    @Test func aFrameLargerThanOneBufferSpansDescriptors() throws {
        let rig = try Rig()
        try rig.bringUp()
        var rctl = rig.regs.read(E1000ERegister.receiveControl)
        rctl.bufferSize = .bytes256
        rig.regs.write(E1000ERegister.receiveControl, rctl)
        rig.postReceive(count: 7)
        let big = frame(payload: pattern(600))
        rig.nic.inject(frame: big)
        rig.nic.service()
        #expect(rig.read(E1000ERegister.receiveQueue(0).head) == 3)
        #expect(rig.receiveDescriptor(0).length == 256 && !rig.receiveDescriptor(0).status.contains(.endOfPacket))
        #expect(rig.receiveDescriptor(2).status.contains(.endOfPacket))
        #expect(Int(rig.receiveDescriptor(2).length) == big.count - 512)
        #expect(rig.bytes(ofBuffer: 1, count: 256) == Array(big[256..<512]))
    }

    @Test func noPostedDescriptorDropsTheFrameAndCountsMPC() throws {
        let rig = try Rig()
        try rig.bringUp()
        rig.nic.inject(frame: frame(payload: pattern(60)))
        rig.nic.service()
        #expect(rig.read(StatisticsRegister.missedPackets.register) == 1)
        #expect(rig.read(StatisticsRegister.missedPackets.register) == 0)  // clear on read
        #expect(rig.nic.statistics.framesDroppedNoDescriptor == 1)
        #expect(InterruptCause(rawValue: rig.nic.peekRegister(Offset.icr)).contains(.receiveOverrun))
    }

    @Test func theAddressFilterDropsOtherStations() throws {
        let rig = try Rig()
        try rig.bringUp()
        rig.postReceive(count: 4)
        rig.nic.inject(frame: frame(to: [0x02, 9, 9, 9, 9, 9], payload: pattern(60)))
        rig.nic.inject(frame: frame(to: [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF], payload: pattern(60)))
        rig.nic.service()
        #expect(rig.nic.statistics.framesDroppedByFilter == 1)
        #expect(rig.read(E1000ERegister.receiveQueue(0).head) == 1)
        #expect(rig.read(StatisticsRegister.broadcastPacketsReceived.register) == 1)
    }

    @Test func nothingIsReceivedBeforeTheLinkIsUp() throws {
        let rig = try Rig()
        try rig.nic.enableBusMaster()
        #expect(!rig.regs.read(E1000ERegister.deviceStatus).linkUp)
        rig.nic.inject(frame: frame(payload: pattern(60)))
        rig.nic.service()
        #expect(rig.nic.statistics.framesDroppedReceiverOff == 1)
    }

    @Test func receiveChecksumStatusIsReportedAsQEMUDoes() throws {
        let rig = try Rig()
        try rig.bringUp()
        rig.postReceive(count: 4)
        var good = ipv4Frame(source: [10, 0, 0, 1], destination: [10, 0, 0, 2], sourcePort: 1000, destinationPort: 80)
        let ipSum = good.withUnsafeBytes { InternetChecksum.checksum($0, from: 14, count: 20) }
        good[24] = UInt8(ipSum >> 8)
        good[25] = UInt8(ipSum & 0xFF)
        let pseudo: [UInt8] = [10, 0, 0, 1, 10, 0, 0, 2, 0, 6, 0, 20]
        var tcp = InternetChecksum()
        pseudo.withUnsafeBytes { tcp.add($0) }
        good.withUnsafeBytes { tcp.add($0, from: 34, count: 20) }
        let tcpSum = tcp.checksum
        good[50] = UInt8(tcpSum >> 8)
        good[51] = UInt8(tcpSum & 0xFF)
        var bad = good
        bad[24] ^= 0xFF
        rig.nic.inject(frame: good)
        rig.nic.inject(frame: bad)
        rig.nic.service()
        let first = rig.receiveDescriptor(0)
        #expect(first.status.contains([.ipChecksum, .tcpChecksum]) && !first.status.contains(.udpChecksum))
        #expect(first.errors.isEmpty)
        #expect(rig.receiveDescriptor(1).errors == [.ipChecksum])
    }

    @Test func twoCabledNICsExchangeFrames() throws {
        let a = try Rig()
        let b = try Rig(EmulatedE1000EConfiguration(macAddress: MACAddress(0x52, 0x54, 0, 0, 0, 0xB)))
        EmulatedE1000E.cable(a.nic, b.nic)
        try a.bringUp()
        try b.bringUp()
        b.postReceive(count: 4)
        let sent = frame(to: [0x52, 0x54, 0, 0, 0, 0xB], payload: pattern(90))
        a.stageTransmit(slot: 0, frame: sent)
        a.write(E1000ERegister.transmitQueue(0).tail, 1)
        a.nic.service()
        b.nic.service()
        #expect(b.receiveDescriptor(0).status.contains(.descriptorDone))
        #expect(b.bytes(ofBuffer: 0, count: sent.count) == sent)
        #expect(a.nic.takeTransmittedFrames().isEmpty)
    }

    @Test func loopbackReturnsTransmitToReceive() throws {
        let rig = try Rig()
        try rig.bringUp()
        rig.nic.loopback = true
        rig.postReceive(count: 4)
        let sent = frame(payload: pattern(70))
        rig.stageTransmit(slot: 0, frame: sent)
        rig.write(E1000ERegister.transmitQueue(0).tail, 1)
        rig.nic.service()
        #expect(rig.bytes(ofBuffer: 0, count: sent.count) == sent)
        #expect(rig.read(StatisticsRegister.goodPacketsTransmitted.register) == 1)
        #expect(rig.read(StatisticsRegister.goodPacketsReceived.register) == 1)
    }

    @Test func threadedModeTransmitsAndReceivesWithoutService() async throws {
        let rig = try Rig(EmulatedE1000EConfiguration(mode: .threaded))
        try rig.bringUp()
        rig.nic.loopback = true
        rig.postReceive(count: 4)
        let sent = frame(payload: pattern(120))
        rig.stageTransmit(slot: 0, frame: sent)
        rig.write(E1000ERegister.transmitQueue(0).tail, 1)
        var waited = 0
        // The status dword is published with a release store; read it with an acquire load, as a
        // driver does, before the rest of the descriptor and the buffer.
        while DMAWord.load32(rig.ringAddress(receive: true, 0) + 12) & 1 == 0 && waited < 5000 {
            try await Task.sleep(nanoseconds: 1_000_000)
            waited += 1
        }
        #expect(rig.receiveDescriptor(0).status.contains(.descriptorDone))
        #expect(rig.bytes(ofBuffer: 0, count: sent.count) == sent)
        rig.nic.close()
    }
}
