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

/// Device values the driver must not trust, forged by the emulator's fault plan.
@Suite(.enabled(if: EmulatedE1000E.unavailableReason == nil, "the emulated e1000e cannot run in this process (ThreadSanitizer, or not x86-64)")) struct HostileDeviceTests {
    @Test func aReceiveLengthBeyondTheBufferIsRejectedAndTheQueueGoesOn() throws {
        let plan = NICFaultPlan(rules: [NICFaultRule(.receive, .nth(1), .receiveLengthBeyondBuffer(excess: 300))])
        let rig = try Rig(configuration: EmulatedE1000EConfiguration(faultPlan: plan))
        var rx = try rig.nic.makeReceiveQueue()
        let mac = rig.nic.macAddress
        rig.device.inject(frame: Frames.make(to: mac, sequence: 0))
        rig.device.inject(frame: Frames.make(to: mac, sequence: 1))
        var delivered: [UInt32] = []
        do {
            _ = try rx.receive(mode: .poll, timeoutMilliseconds: 500) { delivered.append(Frames.sequence(of: $0.bytes) ?? .max) }
            Issue.record("a length of 2348 was accepted")
        } catch {
            guard case .invalidReceiveDescriptor(0, 0, let reason) = error else {
                Issue.record("unexpected error \(error)")
                return
            }
            #expect(reason == "length 2348 outside 1...2048")
        }
        #expect(delivered.isEmpty)
        check(rx.statistics.invalidDescriptors == 1)
        _ = try rx.receive(mode: .poll, timeoutMilliseconds: 500) { p in
            #expect(Frames.isIntact(p.bytes, to: mac))
            delivered.append(Frames.sequence(of: p.bytes) ?? .max)
        }
        #expect(delivered == [1])
        check(rx.postedDescriptors == rx.ringEntries - 1)
    }

    @Test func doneOnADescriptorNeverPostedIsRejected() throws {
        let plan = NICFaultPlan(rules: [NICFaultRule(.receive, .nth(1), .doneOnUnpostedDescriptor)])
        let rig = try Rig(configuration: EmulatedE1000EConfiguration(faultPlan: plan))
        var rx = try rig.nic.makeReceiveQueue()
        let mac = rig.nic.macAddress
        rig.device.inject(frame: Frames.make(to: mac, sequence: 0))
        var delivered = 0
        #expect(throws: NICError.self) {
            _ = try rx.receive(mode: .poll, timeoutMilliseconds: 500) { _ in delivered += 1 }
        }
        // The real frame before it was delivered; the forged slot was not.
        #expect(delivered == 1)
        check(rx.statistics.invalidDescriptors == 1)
        check(rx.statistics.packets == 1)
        rig.device.inject(frame: Frames.make(to: mac, sequence: 1))
        check(try rx.receive(mode: .poll, timeoutMilliseconds: 500) { _ in } == 1)
    }

    @Test func theUnpostedDescriptorErrorNamesTheQueueAndSlot() throws {
        let e = NICError.unpostedDescriptorCompleted(kind: "receive", queue: 1, index: 511)
        #expect(e.description == "receive queue 1: descriptor 511 came back done but was never posted; the device is misbehaving")
    }

    @Test func aRefusedReceiveDMALosesOnlyThatFrame() throws {
        let plan = NICFaultPlan(rules: [NICFaultRule(.receive, .nth(1), .dmaFault)])
        let rig = try Rig(configuration: EmulatedE1000EConfiguration(faultPlan: plan))
        var rx = try rig.nic.makeReceiveQueue()
        let mac = rig.nic.macAddress
        rig.device.inject(frame: Frames.make(to: mac, sequence: 0))
        rig.device.inject(frame: Frames.make(to: mac, sequence: 1))
        var got: [UInt32] = []
        _ = try rx.receive(mode: .poll, timeoutMilliseconds: 500) { got.append(Frames.sequence(of: $0.bytes) ?? .max) }
        #expect(got == [1])
        check(rx.statistics.invalidDescriptors == 0)
    }

    @Test func aHeadOutsideTheRingIsNeverUsedByTheDriver() throws {
        let plan = NICFaultPlan(rules: [NICFaultRule(.receive, .nth(1), .headBeyondRing(offset: 3))])
        let rig = try Rig(configuration: EmulatedE1000EConfiguration(faultPlan: plan))
        var rx = try rig.nic.makeReceiveQueue()
        let mac = rig.nic.macAddress
        rig.device.inject(frame: Frames.make(to: mac, sequence: 0))
        var got: [UInt32] = []
        // The driver follows its own ring indices and DD bits, never RDH.
        _ = try rx.receive(mode: .poll, timeoutMilliseconds: 500) { got.append(Frames.sequence(of: $0.bytes) ?? .max) }
        #expect(got == [0])
        check(rx.postedDescriptors == rx.ringEntries - 1)
    }

    @Test func doneOnATransmitSlotNeverPostedIsRejectedBeforeMoreIsSent() throws {
        let rig = try Rig()
        var tx = try rig.nic.makeTransmitQueue()
        let peer = MACAddress(0x02, 0, 0, 0, 0, 9)
        check(try tx.send(count: 2) { i, b in Frames.fill(b, to: peer, sequence: UInt32(i)) } == 2)
        try tx.flush(timeoutMilliseconds: 500)
        // Forge DD into the slot at TDT, which the driver has not handed over.
        let ring = E1000ERegister.transmitQueue(0)
        let base = UInt64(rig.device.peekRegister(ring.baseAddressLow.offset)) | UInt64(rig.device.peekRegister(ring.baseAddressHigh.offset)) << 32
        let slot = Int(rig.device.peekRegister(ring.tail.offset))
        let forged = rig.device.iommu.withTranslation { t -> Bool in
            guard let p = t.translate(base + UInt64(slot * 16), length: 16, direction: .deviceWrite) else { return false }
            p.storeBytes(of: UInt32(TransmitDescriptorStatus.descriptorDone.rawValue), toByteOffset: 12, as: UInt32.self)
            return true
        }
        #expect(forged)
        do {
            _ = try tx.send(count: 4) { i, b in Frames.fill(b, to: peer, sequence: 10 + UInt32(i)) }
            Issue.record("a done bit on slot \(slot) was accepted")
        } catch {
            #expect(error.description == "transmit queue 0: descriptor \(slot) came back done but was never posted; the device is misbehaving")
        }
        check(tx.statistics.invalidDescriptors == 1)
        check(tx.statistics.packets == 2)
        // The slot was cleared; the queue goes on.
        check(try tx.send(count: 1) { _, b in Frames.fill(b, to: peer, sequence: 20) } == 1)
    }
}
