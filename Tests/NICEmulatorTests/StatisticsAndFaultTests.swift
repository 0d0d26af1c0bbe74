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

/// Statistics registers, the IOMMU boundary, and every fault of the hostile-device plan.
@Suite(.enabled(if: EmulatedE1000E.unavailableReason == nil, "the emulated e1000e cannot run in this process (ThreadSanitizer, or not x86-64)")) struct StatisticsAndFaultTests {
    @Test func countersClearOnRead() throws {
        let rig = try Rig()
        try rig.bringUp()
        rig.nic.loopback = true
        rig.postReceive(count: 7)
        for slot in 0..<3 { rig.stageTransmit(slot: slot, frame: frame(payload: pattern(100))) }
        rig.write(E1000ERegister.transmitQueue(0).tail, 3)
        rig.nic.service()
        let size = 114
        #expect(rig.read(StatisticsRegister.goodPacketsTransmitted.register) == 3)
        #expect(rig.read(StatisticsRegister.goodPacketsTransmitted.register) == 0)
        #expect(rig.read(StatisticsRegister.goodPacketsReceived.register) == 3)
        #expect(rig.read(StatisticsRegister.totalPacketsReceived.register) == 3)
        #expect(rig.read(StatisticsRegister.goodOctetsTransmittedLow.register) == UInt32(3 * size))
        #expect(rig.read(StatisticsRegister.goodOctetsTransmittedHigh.register) == 0)  // the high half clears both
        #expect(rig.read(StatisticsRegister.goodOctetsTransmittedLow.register) == 0)
        #expect(rig.read(StatisticsRegister.goodOctetsReceivedLow.register) == UInt32(3 * (size + 4)))  // with the FCS
        _ = rig.read(StatisticsRegister.goodOctetsReceivedHigh.register)
        #expect(rig.read(StatisticsRegister.goodOctetsReceivedLow.register) == 0)
        #expect(rig.read(StatisticsRegister.goodPacketsReceived.register) == 0)
    }

    @Test func anUnmappedReceiveBufferIsRefusedAndNeverWritten() throws {
        let rig = try Rig()
        try rig.bringUp()
        let descriptor = LegacyReceiveDescriptor(bufferAddress: 0x7_0000_0000)
        rig.ringAddress(receive: true, 0).storeBytes(of: descriptor, as: LegacyReceiveDescriptor.self)
        rig.write(E1000ERegister.receiveQueue(0).tail, 1)
        rig.nic.inject(frame: frame(payload: pattern(60)))
        rig.nic.service()
        let fault = try #require(rig.nic.dmaFaults.last)
        #expect(fault.iova == 0x7_0000_0000 && fault.direction == .deviceWrite && fault.reason == .unmapped)
        #expect(rig.receiveDescriptor(0).status.isEmpty)
        #expect(rig.read(E1000ERegister.receiveQueue(0).head) == 0)
        #expect(rig.nic.statistics.framesDroppedDMAError == 1)
    }

    @Test func anUnmappedTransmitBufferSendsNothing() throws {
        let rig = try Rig()
        try rig.bringUp()
        let descriptor = LegacyTransmitDescriptor(bufferAddress: 0x8_0000_0000, length: 64, command: [.endOfPacket, .reportStatus])
        rig.ringAddress(receive: false, 0).storeBytes(of: descriptor, as: LegacyTransmitDescriptor.self)
        rig.write(E1000ERegister.transmitQueue(0).tail, 1)
        rig.nic.service()
        #expect(rig.nic.takeTransmittedFrames().isEmpty)
        #expect(rig.nic.dmaFaults.last?.direction == .deviceRead)
        #expect(rig.nic.statistics.transmitPacketsDropped == 1)
        #expect(rig.transmitDescriptor(0).status.contains(.descriptorDone))  // consumed, as QEMU does
    }

    @Test func anUnmappedRingFaultsOnTheDescriptorFetch() throws {
        let rig = try Rig()
        try rig.bringUp()
        rig.write(E1000ERegister.transmitQueue(0).baseAddressLow, 0)
        rig.write(E1000ERegister.transmitQueue(0).baseAddressHigh, 0x9)
        rig.write(E1000ERegister.transmitQueue(0).tail, 1)
        rig.nic.service()
        #expect(rig.nic.dmaFaults.last == DMAFault(iova: 0x9_0000_0000, length: 16, direction: .deviceRead, reason: .unmapped))
        #expect(rig.read(E1000ERegister.transmitQueue(0).head) == 0)
    }

    @Test func withoutBusMasterTheDeviceDoesNoDMA() throws {
        let rig = try Rig()
        try rig.bringUp()
        try rig.nic.writeConfig16(0x0002, at: 0x04)  // memory on, bus master off
        rig.stageTransmit(slot: 0, frame: frame(payload: pattern(60)))
        rig.write(E1000ERegister.transmitQueue(0).tail, 1)
        rig.nic.service()
        #expect(rig.nic.dmaFaults.last?.reason == .busMasterDisabled)
        #expect(rig.transmitDescriptor(0).status.isEmpty)
    }

    @Test func headBeyondAShortRingIsNotFollowed() throws {
        let rig = try Rig()
        try rig.bringUp()
        rig.write(E1000ERegister.receiveQueue(0).head, 200)
        rig.write(E1000ERegister.receiveQueue(0).tail, 3)
        rig.nic.inject(frame: frame(payload: pattern(60)))
        rig.nic.service()
        #expect(rig.nic.statistics.framesDroppedNoDescriptor == 1)
        #expect(rig.nic.iommu.faultCount == 0)
    }

    // MARK: - Fault plan

    func faulty(_ rule: NICFaultRule) throws -> Rig {
        let rig = try Rig(EmulatedE1000EConfiguration(faultPlan: NICFaultPlan(rules: [rule])))
        try rig.bringUp()
        rig.postReceive(count: 4)
        return rig
    }

    @Test func faultReceiveLengthBeyondTheBuffer() throws {
        let rig = try faulty(NICFaultRule(.receive, .nth(1), .receiveLengthBeyondBuffer(excess: 100)))
        rig.nic.inject(frame: frame(payload: pattern(60)))
        rig.nic.service()
        #expect(Int(rig.receiveDescriptor(0).length) == Rig.bufferSize + 100)
        #expect(rig.nic.statistics.faultsInjected == 1)
        // The data itself stayed within the posted buffer.
        #expect(rig.bytes(ofBuffer: 1, count: 4) == [0, 0, 0, 0])
    }

    @Test func faultDoneOnADescriptorNotPosted() throws {
        let rig = try faulty(NICFaultRule(.receive, .nth(1), .doneOnUnpostedDescriptor))
        rig.nic.inject(frame: frame(payload: pattern(60)))
        rig.nic.service()
        #expect(rig.receiveDescriptor(0).status.contains(.descriptorDone))
        #expect(rig.receiveDescriptor(4).status.contains(.descriptorDone))  // RDT was 4: not posted
        #expect(rig.read(E1000ERegister.receiveQueue(0).head) == 1)
    }

    @Test func faultHeadBeyondTheRing() throws {
        let rig = try faulty(NICFaultRule(.receive, .nth(1), .headBeyondRing(offset: 3)))
        rig.nic.inject(frame: frame(payload: pattern(60)))
        rig.nic.service()
        #expect(rig.read(E1000ERegister.receiveQueue(0).head) == UInt32(Rig.ringSlots + 3))
        rig.stageTransmit(slot: 0, frame: frame(payload: pattern(60)))
        rig.nic.setFaultPlan(NICFaultPlan(rules: [NICFaultRule(.transmit, .always, .headBeyondRing(offset: 1))]))
        rig.write(E1000ERegister.transmitQueue(0).tail, 1)
        rig.nic.service()
        #expect(rig.read(E1000ERegister.transmitQueue(0).head) == UInt32(Rig.ringSlots + 1))
    }

    @Test func faultDMARefusal() throws {
        let rig = try faulty(NICFaultRule(.any, .every(2), .dmaFault))
        rig.nic.inject(frame: frame(payload: pattern(60, seed: 1)))
        rig.nic.inject(frame: frame(payload: pattern(60, seed: 2)))
        rig.nic.service()
        #expect(rig.read(E1000ERegister.receiveQueue(0).head) == 1)
        #expect(rig.nic.dmaFaults.last?.reason == .injected)
        #expect(rig.nic.statistics.framesDroppedDMAError == 1)
    }

    @Test func faultLinkDown() throws {
        let rig = try faulty(NICFaultRule(.receive, .nth(2), .linkDown))
        rig.nic.inject(frame: frame(payload: pattern(60)))
        rig.nic.inject(frame: frame(payload: pattern(60)))
        rig.nic.inject(frame: frame(payload: pattern(60)))
        rig.nic.service()
        #expect(!rig.regs.read(E1000ERegister.deviceStatus).linkUp)
        #expect(rig.read(E1000ERegister.receiveQueue(0).head) == 1)
        #expect(InterruptCause(rawValue: rig.nic.peekRegister(Offset.icr)).contains(.linkStatusChange))
        rig.nic.setCable(connected: true)
        #expect(rig.regs.read(E1000ERegister.deviceStatus).linkUp)
    }

    @Test func faultWithheldInterrupt() throws {
        let rig = try Rig(EmulatedE1000EConfiguration(clock: .manual, faultPlan: NICFaultPlan(rules: [NICFaultRule(.receive, .nth(1), .withholdInterrupt)])))
        try rig.nic.enableInterrupts(.msix, count: 5)
        var ivar = InterruptVectorAllocation(rawValue: 0)
        ivar.setVector(0, for: .receiveQueue0)
        rig.regs.write(E1000ERegister.interruptVectorAllocation, ivar)
        try rig.bringUp()
        rig.regs.write(E1000ERegister.interruptMaskSet, .receiveQueue0)
        rig.postReceive(count: 4)
        rig.nic.inject(frame: frame(payload: pattern(60)))
        rig.nic.service()
        #expect(rig.receiveDescriptor(0).status.contains(.descriptorDone))
        #expect(drain(rig.nic, vector: 0) == 0)
    }

    @Test func theSameSeedGivesTheSameFaults() throws {
        func run() throws -> [UInt16] {
            let rig = try Rig(EmulatedE1000EConfiguration(faultPlan: NICFaultPlan(seed: 42, rules: [NICFaultRule(.receive, .probability(0.5), .receiveLengthBeyondBuffer(excess: 1))])))
            try rig.bringUp()
            rig.postReceive(count: 7)
            for _ in 0..<7 { rig.nic.inject(frame: frame(payload: pattern(60))) }
            rig.nic.service()
            return (0..<7).map { rig.receiveDescriptor($0).length }
        }
        let first = try run()
        #expect(try run() == first)
        #expect(Set(first).count == 2)
    }
}
