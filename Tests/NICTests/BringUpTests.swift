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

/// Bring-up against the emulated 82574L: what the driver programs and what it reports.
@Suite(.enabled(if: EmulatedE1000E.unavailableReason == nil, "the emulated e1000e cannot run in this process (ThreadSanitizer, or not x86-64)")) struct BringUpTests {
    @Test func bringUpReadsTheStationAddressAndBringsTheLinkUp() throws {
        let mac = MACAddress(0x52, 0x54, 0x00, 0xAB, 0xCD, 0xEF)
        let rig = try Rig(configuration: EmulatedE1000EConfiguration(macAddress: mac))
        #expect(rig.nic.macAddress == mac)
        let link = rig.nic.linkStatus
        #expect(link.isUp)
        #expect(link.speedMbps == 1000)
        #expect(link.fullDuplex)
        // RAL0/RAH0 hold the address with AV; every interrupt cause is masked after bring-up.
        #expect(rig.device.peekRegister(E1000ERegister.receiveAddressLow(0).offset) == mac.receiveAddressLow)
        #expect(ReceiveAddressHigh(rawValue: rig.device.peekRegister(E1000ERegister.receiveAddressHigh(0).offset)).addressValid)
        #expect(rig.device.peekRegister(E1000ERegister.interruptMaskSet.offset) == 0)
        #expect(DeviceControl(rawValue: rig.device.peekRegister(E1000ERegister.deviceControl.offset)).setLinkUp)
    }

    @Test func linkWithoutACableIsReportedDownNotAnError() throws {
        let rig = try Rig(configuration: EmulatedE1000EConfiguration(cableConnected: false))
        #expect(!rig.nic.linkStatus.isUp)
        rig.device.setCable(connected: true)
        #expect(rig.nic.waitForLink(timeoutMilliseconds: 100).isUp)
    }

    @Test func msixRoutesEachQueueToItsOwnVector() throws {
        let rig = try Rig()
        #expect(rig.nic.interruptVectors == 5 && rig.nic.interruptKind == .msix)
        let ivar = InterruptVectorAllocation(rawValue: rig.device.peekRegister(E1000ERegister.interruptVectorAllocation.offset))
        #expect(ivar.vector(for: .receiveQueue0) == 0)
        #expect(ivar.vector(for: .receiveQueue1) == 1)
        #expect(ivar.vector(for: .transmitQueue0) == 2)
        #expect(ivar.vector(for: .transmitQueue1) == 3)
        #expect(ivar.vector(for: .other) == 4)
        let eiac = InterruptCause(rawValue: rig.device.peekRegister(E1000ERegister.extendedInterruptAutoClear.offset))
        #expect(eiac == [.receiveQueue0, .receiveQueue1, .transmitQueue0, .transmitQueue1])
    }

    @Test func withoutInterruptsTheQueuesOnlyPoll() throws {
        var options = NICOptions()
        options.interrupts = false
        let rig = try Rig(options)
        #expect(rig.nic.interruptVectors == 0)
        var rx = try rig.nic.makeReceiveQueue()
        check(!rx.hasInterrupt)
        #expect(throws: NICError.self) { _ = try rx.receive(mode: .interrupt, timeoutMilliseconds: 1) { _ in } }
    }

    @Test func promiscuousModeSetsUnicastAndMulticastPromiscuous() throws {
        var options = NICOptions()
        options.promiscuous = true
        let rig = try Rig(options)
        let rx = try rig.nic.makeReceiveQueue()
        let rctl = ReceiveControl(rawValue: rig.device.peekRegister(E1000ERegister.receiveControl.offset))
        #expect(rctl.enable && rctl.unicastPromiscuous && rctl.multicastPromiscuous && rctl.stripCRC)
        check(rx.postedDescriptors == rx.ringEntries - 1)
    }

    @Test func badOptionsAreRefusedBeforeTheDeviceIsTouched() throws {
        let device = try EmulatedE1000E()
        var ring = NICOptions()
        ring.ringEntries = 100
        var queues = NICOptions()
        queues.receiveQueues = 3
        var key = NICOptions()
        key.rssKey = [1, 2, 3]
        for bad in [ring, queues, key] {
            #expect(throws: NICError.self) { _ = try E1000E(device: device, options: bad) }
        }
        #expect(device.statistics.registerAccesses == 0)
    }

    @Test func aQueueExistsOnceAndOnlyIfConfigured() throws {
        let rig = try Rig()
        let rx = try rig.nic.makeReceiveQueue(0)
        #expect(throws: NICError.self) { _ = try rig.nic.makeReceiveQueue(0) }
        #expect(throws: NICError.self) { _ = try rig.nic.makeReceiveQueue(1) }
        #expect(throws: NICError.self) { _ = try rig.nic.makeTransmitQueue(1) }
        _ = consume rx
        let again = try rig.nic.makeReceiveQueue(0)
        #expect(again.postedDescriptors == again.ringEntries - 1)
    }

    @Test func errorsSayTheCauseAndTheFix() {
        let e = NICError.unsupportedDevice(name: "0000:00:03.0", vendor: 0x8086, device: 0x100e)
        #expect(e.description == "0000:00:03.0 is 8086:100e, not an Intel 82574L (8086:10d3); this driver supports only that NIC (QEMU -device e1000e)")
        let bad = NICError.invalidReceiveDescriptor(queue: 0, index: 7, reason: "length 3000 outside 1...2048")
        #expect(bad.description.contains("descriptor 7") && bad.description.contains("misbehaving"))
    }
}
