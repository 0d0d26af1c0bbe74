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

/// What dropping queues and the NIC gives back, and in which order.
@Suite(.enabled(if: EmulatedE1000E.unavailableReason == nil, "the emulated e1000e cannot run in this process (ThreadSanitizer, or not x86-64)")) struct ResourceReleaseTests {
    @Test func droppingQueuesStopsTheirRingsBeforeTheMemoryGoes() throws {
        let rig = try Rig()
        let device = rig.device
        let before = device.dma.liveMappings
        var rx: ReceiveQueue<EmulatedE1000E>? = try rig.nic.makeReceiveQueue()
        var tx: TransmitQueue<EmulatedE1000E>? = try rig.nic.makeTransmitQueue()
        #expect(device.dma.liveMappings == before + 4)  // two rings, two pools
        #expect(ReceiveControl(rawValue: device.peekRegister(E1000ERegister.receiveControl.offset)).enable)
        #expect(TransmitControl(rawValue: device.peekRegister(E1000ERegister.transmitControl.offset)).enable)
        rx = nil
        tx = nil
        _ = rx
        _ = tx
        #expect(!ReceiveControl(rawValue: device.peekRegister(E1000ERegister.receiveControl.offset)).enable)
        #expect(!TransmitControl(rawValue: device.peekRegister(E1000ERegister.transmitControl.offset)).enable)
        #expect(device.peekRegister(E1000ERegister.receiveQueue(0).length.offset) == 0)
        #expect(device.peekRegister(E1000ERegister.transmitQueue(0).length.offset) == 0)
        #expect(device.dma.liveMappings == before)
        #expect(device.dmaFaults.isEmpty)
    }

    @Test func closingTheNICMasksInterruptsAndReleasesTheVectors() throws {
        let device = try EmulatedE1000E()
        do {
            let nic = try E1000E(device: device)
            var rx = try nic.makeReceiveQueue()
            _ = try rx.receive(mode: .interrupt, timeoutMilliseconds: 0) { _ in }  // arms RXQ0
            #expect(device.interruptEventFD(vector: 0) != nil)
            _ = consume rx
            nic.close()
            nic.close()  // idempotent
        }
        #expect(device.interruptEventFD(vector: 0) == nil)
        #expect(device.peekRegister(E1000ERegister.interruptMaskSet.offset) == 0)
        #expect(device.dma.liveMappings == 0)
    }

    @Test func aQueueKeepsTheNICAliveUntilItIsDropped() throws {
        let device = try EmulatedE1000E()
        var rx = try E1000E(device: device).makeReceiveQueue()
        device.inject(frame: Frames.make(to: device.permanentAddress, sequence: 7))
        var got: UInt32?
        _ = try rx.receive(mode: .poll, timeoutMilliseconds: 500) { got = Frames.sequence(of: $0.bytes) }
        #expect(got == 7)
        _ = consume rx
        #expect(device.dma.liveMappings == 0)
    }

    @Test func closingWithLiveQueuesKeepsTheirVectorsUntilTheyAreDropped() throws {
        var options = NICOptions()
        options.receiveQueues = 2
        let device = try EmulatedE1000E()
        var rx0: ReceiveQueue<EmulatedE1000E>?
        do {
            let nic = try E1000E(device: device, options: options)
            rx0 = try nic.makeReceiveQueue(0)
            var rx1 = try nic.makeReceiveQueue(1)
            nic.close()
            #expect(!ReceiveControl(rawValue: device.peekRegister(E1000ERegister.receiveControl.offset)).enable)
            // The queues borrow the vectors' eventfds: still there.
            #expect(device.interruptEventFD(vector: 1) != nil)
            check(try rx1.receive(mode: .interrupt, timeoutMilliseconds: 1) { _ in } == 0)
            _ = consume rx1
            // Dropping a queue after close does not turn the receiver back on.
            #expect(!ReceiveControl(rawValue: device.peekRegister(E1000ERegister.receiveControl.offset)).enable)
            #expect(throws: NICError.self) { _ = try nic.makeTransmitQueue() }
        }
        #expect(device.interruptEventFD(vector: 0) != nil)
        rx0 = nil
        _ = rx0
        #expect(device.interruptEventFD(vector: 0) == nil)
        #expect(device.dma.liveMappings == 0)
    }
}
