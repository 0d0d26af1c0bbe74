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
#if canImport(Glibc)
import Glibc
#endif

/// Signals counted on an enabled vector's eventfd since the last drain.
func drain(_ nic: EmulatedE1000E, vector: Int) -> UInt64 {
    guard let fd = nic.interruptEventFD(vector: vector) else { return 0 }
    var value: UInt64 = 0
    return read(fd, &value, 8) == 8 ? value : 0
}

/// MSI-X routing per IVAR, masking with the PBA, ICR/ICS/IMS/IMC/EIAC/IAM and EITR throttling.
@Suite(.enabled(if: EmulatedE1000E.unavailableReason == nil, "the emulated e1000e cannot run in this process (ThreadSanitizer, or not x86-64)")) struct InterruptTests {
    /// MSI-X with IVAR RxQ0→0, RxQ1→1, TxQ0→2, TxQ1→3, Other→4, every queue cause and LSC
    /// enabled, a manual clock.
    func msixRig(eiac: Bool = true) throws -> Rig {
        let rig = try Rig(EmulatedE1000EConfiguration(clock: .manual))
        try rig.nic.enableInterrupts(.msix, count: 5)
        var ivar = InterruptVectorAllocation(rawValue: 0)
        for source in InterruptVectorAllocation.Source.allCases { ivar.setVector(source.rawValue, for: source) }
        rig.regs.write(E1000ERegister.interruptVectorAllocation, ivar)
        let queues: InterruptCause = [.receiveQueue0, .receiveQueue1, .transmitQueue0, .transmitQueue1, .other]
        if eiac { rig.regs.write(E1000ERegister.extendedInterruptAutoClear, queues) }
        try rig.bringUp()
        // Link-up raised LSC during bring-up: acknowledge it before enabling causes, as a driver does.
        rig.regs.write(E1000ERegister.interruptCauseRead, .all)
        rig.regs.write(E1000ERegister.interruptMaskSet, queues.union(.linkStatusChange))
        for v in 0..<5 { _ = drain(rig.nic, vector: v) }
        return rig
    }

    @Test func queueCausesGoToTheirIVARVectors() throws {
        let rig = try msixRig()
        rig.postReceive(count: 4)
        rig.nic.inject(frame: frame(payload: pattern(60)))
        rig.nic.service()
        #expect(drain(rig.nic, vector: 0) == 1)
        rig.stageTransmit(slot: 0, frame: frame(to: [2, 0, 0, 0, 0, 7], payload: pattern(60)))
        rig.write(E1000ERegister.transmitQueue(0).tail, 1)
        rig.nic.service()
        #expect(drain(rig.nic, vector: 2) == 1)
        #expect(drain(rig.nic, vector: 0) == 0 && drain(rig.nic, vector: 1) == 0 && drain(rig.nic, vector: 3) == 0)
        rig.nic.setCable(connected: false)  // LSC goes to the Other vector
        #expect(drain(rig.nic, vector: 4) == 1)
        #expect(InterruptCause(rawValue: rig.nic.peekRegister(Offset.icr)).contains(.linkStatusChange))
    }

    @Test func anEntryWithoutTheValidBitRoutesNothing() throws {
        let rig = try msixRig()
        var ivar = rig.regs.read(E1000ERegister.interruptVectorAllocation)
        ivar.setVector(nil, for: .receiveQueue0)
        rig.regs.write(E1000ERegister.interruptVectorAllocation, ivar)
        rig.postReceive(count: 2)
        rig.nic.inject(frame: frame(payload: pattern(60)))
        rig.nic.service()
        #expect((0..<5).allSatisfy { drain(rig.nic, vector: $0) == 0 })
        #expect(rig.nic.statistics.interruptsUnrouted == 1)
    }

    @Test func aMaskedVectorHoldsItsMessageUntilUnmasked() throws {
        let rig = try msixRig()
        rig.nic.setInterruptMasked(vector: 0, true)
        rig.postReceive(count: 2)
        rig.nic.inject(frame: frame(payload: pattern(60)))
        rig.nic.service()
        #expect(drain(rig.nic, vector: 0) == 0)
        #expect(rig.nic.isVectorPending(0))
        let pba = try rig.nic.region(bar: 3).load32(at: 0x2000)
        #expect(pba & 1 == 1)
        rig.nic.setInterruptMasked(vector: 0, false)
        #expect(drain(rig.nic, vector: 0) == 1)
        #expect(!rig.nic.isVectorPending(0))
    }

    @Test func eiacAutoClearsTheCauseWhenItsVectorFires() throws {
        let rig = try msixRig(eiac: true)
        rig.postReceive(count: 4)
        rig.nic.inject(frame: frame(payload: pattern(60)))
        rig.nic.service()
        #expect(!InterruptCause(rawValue: rig.nic.peekRegister(Offset.icr)).contains(.receiveQueue0))
        // Without IAME, auto-clear also masks the cause: the driver re-enables it after polling.
        #expect(!rig.regs.read(E1000ERegister.interruptMaskSet).contains(.receiveQueue0))
        rig.regs.write(E1000ERegister.interruptMaskSet, .receiveQueue0)
        rig.advanceClock()
        rig.nic.inject(frame: frame(payload: pattern(60)))
        rig.nic.service()
        #expect(drain(rig.nic, vector: 0) == 2)
    }

    @Test func withoutEIACACauseFiresOnceUntilTheDriverClearsIt() throws {
        let rig = try msixRig(eiac: false)
        rig.postReceive(count: 4)
        rig.nic.inject(frame: frame(payload: pattern(60)))
        rig.nic.service()
        rig.advanceClock()
        rig.nic.inject(frame: frame(payload: pattern(60)))
        rig.nic.service()
        #expect(drain(rig.nic, vector: 0) == 1)
        rig.regs.write(E1000ERegister.interruptCauseRead, .receiveQueue0)  // write 1 to clear
        #expect(!InterruptCause(rawValue: rig.nic.peekRegister(Offset.icr)).contains(.receiveQueue0))
        rig.nic.inject(frame: frame(payload: pattern(60)))
        rig.nic.service()
        #expect(drain(rig.nic, vector: 0) == 1)
    }

    @Test func eitrThrottlesAVectorAndSendsTheHeldInterruptLater() throws {
        let rig = try msixRig()
        rig.regs.write(E1000ERegister.vectorThrottle(0), InterruptThrottle(rawValue: 1000))  // 256 us
        #expect(rig.regs.read(E1000ERegister.vectorThrottle(0)).rawValue == 1000)
        rig.postReceive(count: 6)
        rig.nic.inject(frame: frame(payload: pattern(60)))
        rig.nic.service()
        #expect(drain(rig.nic, vector: 0) == 1)
        rig.regs.write(E1000ERegister.interruptMaskSet, .receiveQueue0)
        rig.nic.inject(frame: frame(payload: pattern(60)))
        rig.nic.service()
        #expect(drain(rig.nic, vector: 0) == 0)
        #expect(rig.nic.statistics.interruptsThrottled == 1)
        rig.nic.advanceClock(nanoseconds: 255_000)
        rig.nic.service()
        #expect(drain(rig.nic, vector: 0) == 0)
        rig.nic.advanceClock(nanoseconds: 1_000)
        rig.nic.service()
        #expect(drain(rig.nic, vector: 0) == 1)
    }

    @Test func eitrBelowTheMinimumActsAs128Microseconds() throws {
        let rig = try msixRig()
        rig.regs.write(E1000ERegister.vectorThrottle(0), InterruptThrottle(rawValue: 0))
        #expect(rig.regs.read(E1000ERegister.vectorThrottle(0)).rawValue == 0)
        #expect(rig.nic.peekRegister(E1000ERegister.vectorThrottle(0).offset) == 500)
    }

    @Test func icsRaisesACauseAndIMCMasksIt() throws {
        let rig = try msixRig(eiac: false)
        rig.regs.write(E1000ERegister.interruptCauseSet, .linkStatusChange)
        #expect(drain(rig.nic, vector: 4) == 1)
        let icr = InterruptCause(rawValue: rig.nic.peekRegister(Offset.icr))
        #expect(icr.contains(.other) && icr.contains(.asserted))
        rig.regs.write(E1000ERegister.interruptCauseRead, .other)  // clearing OTHER clears LSC too
        #expect(rig.nic.peekRegister(Offset.icr) == 0)
        rig.regs.write(E1000ERegister.interruptMaskClear, [.linkStatusChange, .other])
        rig.advanceClock()
        rig.regs.write(E1000ERegister.interruptCauseSet, .linkStatusChange)
        #expect(drain(rig.nic, vector: 4) == 0)
    }

    @Test func icrReadClearsWithIAMEAndAutoMasks() throws {
        let rig = try msixRig()
        var ext = rig.regs.read(E1000ERegister.extendedDeviceControl)
        ext.interruptAcknowledgeAutoMask = true
        rig.regs.write(E1000ERegister.extendedDeviceControl, ext)
        rig.regs.write(E1000ERegister.interruptAutoMask, .linkStatusChange)
        rig.regs.write(E1000ERegister.interruptCauseSet, .linkStatusChange)
        let icr = rig.regs.read(E1000ERegister.interruptCauseRead)
        #expect(icr.contains(.linkStatusChange))
        #expect(rig.regs.read(E1000ERegister.interruptCauseRead).rawValue == 0)
        #expect(!rig.regs.read(E1000ERegister.interruptMaskSet).contains(.linkStatusChange))
    }

    @Test func icrReadClearsWhenNoCauseIsEnabled() throws {
        let rig = try Rig()
        rig.regs.write(E1000ERegister.interruptCauseSet, .linkStatusChange)
        #expect(rig.regs.read(E1000ERegister.interruptCauseRead).contains(.linkStatusChange))
        #expect(rig.regs.read(E1000ERegister.interruptCauseRead).rawValue == 0)
    }

    @Test func intxSignalsOnceUntilUnmaskedAndAgainWhileStillPending() throws {
        let rig = try Rig(EmulatedE1000EConfiguration(clock: .manual))
        try rig.nic.enableInterrupts(.intx, count: 1)
        try rig.bringUp()
        rig.regs.write(E1000ERegister.interruptMaskSet, [.receiveTimer])
        rig.postReceive(count: 4)
        rig.nic.inject(frame: frame(payload: pattern(60)))
        rig.nic.service()
        #expect(drain(rig.nic, vector: 0) == 1)
        rig.advanceClock()
        rig.nic.inject(frame: frame(payload: pattern(60)))
        rig.nic.service()
        #expect(drain(rig.nic, vector: 0) == 0)  // masked by vfio until unmask
        try rig.nic.unmaskINTx()
        #expect(drain(rig.nic, vector: 0) == 1)  // the line is still asserted
        rig.regs.write(E1000ERegister.interruptCauseRead, .all)
        try rig.nic.unmaskINTx()
        #expect(drain(rig.nic, vector: 0) == 0)
    }
}

@Suite(.enabled(if: EmulatedE1000E.unavailableReason == nil, "the emulated e1000e cannot run in this process (ThreadSanitizer, or not x86-64)")) struct ThreadedInterruptTests {
    @Test func aThreadedDeviceSignalsTheEventFDOfTheQueueVector() throws {
        let rig = try Rig(EmulatedE1000EConfiguration(mode: .threaded))
        defer { rig.nic.close() }
        try rig.nic.enableInterrupts(.msix, count: 5)
        var ivar = InterruptVectorAllocation(rawValue: 0)
        ivar.setVector(1, for: .receiveQueue0)
        rig.regs.write(E1000ERegister.interruptVectorAllocation, ivar)
        try rig.bringUp()
        rig.regs.write(E1000ERegister.interruptMaskSet, .receiveQueue0)
        rig.postReceive(count: 4)
        rig.nic.inject(frame: frame(payload: pattern(60)))
        let fd = try #require(rig.nic.interruptEventFD(vector: 1))
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        #expect(poll(&descriptor, 1, 5000) == 1)
        #expect(drain(rig.nic, vector: 1) >= 1)
    }

    @Test func functionLevelResetThroughConfigSpaceResetsTheRegisters() throws {
        let rig = try Rig()
        try rig.bringUp()
        #expect(rig.regs.read(E1000ERegister.receiveControl).enable)
        let devctl = NICEngine.expressOffset + 8
        try rig.nic.writeConfig16(try rig.nic.readConfig16(at: devctl) | 0x8000, at: devctl)
        #expect(!rig.regs.read(E1000ERegister.receiveControl).enable)
        #expect(try rig.nic.readConfig16(at: devctl) & 0x8000 == 0)
        #expect(try rig.nic.readConfig16(at: 0x04) & 0x4 == 0)  // bus master off after FLR
    }
}

extension Rig {
    /// Moves the manual clock past any throttle interval and lets the device catch up.
    func advanceClock() {
        nic.advanceClock(nanoseconds: 10_000_000)
        nic.service()
    }
}
