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

import NVMeSpec
import NVMeEmulator
import Testing
import VFIO
#if canImport(Glibc)
import Glibc
#endif

/// MSI-X delivery through eventfds, masking with the table and the PBA, INTx, coalescing.
@Suite struct InterruptTests {
    func drainCount(_ c: EmulatedNVMeController, _ vector: Int) -> UInt64 {
        guard let fd = c.interruptEventFD(vector: vector) else { return 0 }
        var value: UInt64 = 0
        return read(fd, &value, 8) == 8 ? value : 0
    }

    func readyWithVectors(_ configuration: EmulatedNVMeConfiguration = EmulatedNVMeConfiguration()) throws -> (TestHost, TestQueue) {
        let host = try TestHost(configuration)
        try host.controller.enableInterrupts(.msix, count: 3)
        try host.enable()
        _ = host.setNumberOfQueues(2)
        let queue = try host.createQueuePair(id: 1, entries: 32, vector: 2)
        return (host, queue)
    }

    @Test func completionSignalsItsVector() throws {
        let (host, queue) = try readyWithVectors()
        _ = drainCount(host.controller, 0)
        #expect(queue.execute(.flush(namespaceID: 1)).status == .success)
        #expect(drainCount(host.controller, 2) == 1)
        #expect(drainCount(host.controller, 1) == 0)
        // The admin queue uses vector 0.
        _ = host.adminCommand(.getFeatures(.arbitration))
        #expect(drainCount(host.controller, 0) == 1)
        #expect(try host.controller.readConfig16(at: 0x52) & 0x8000 != 0)  // MSI-X enable
    }

    @Test func interruptsDisabledQueueDoesNotSignal() throws {
        let host = try TestHost()
        try host.controller.enableInterrupts(.msix, count: 2)
        try host.enable()
        _ = host.setNumberOfQueues(1)
        let queue = try host.createQueuePair(id: 1, entries: 16, vector: nil)
        #expect(queue.execute(.flush(namespaceID: 1)).status == .success)
        #expect(drainCount(host.controller, 0) > 0)  // the admin commands above
        #expect(drainCount(host.controller, 1) == 0)
    }

    @Test func maskedVectorIsHeldInThePBAAndDeliveredOnUnmask() throws {
        let (host, queue) = try readyWithVectors()
        host.controller.setInterruptMasked(vector: 2, true)
        #expect(queue.execute(.flush(namespaceID: 1)).status == .success)
        #expect(drainCount(host.controller, 2) == 0)
        let pba = host.controller.msixPBAOffset
        #expect(host.bar.load32(at: pba) & (1 << 2) != 0)
        host.controller.setInterruptMasked(vector: 2, false)
        #expect(drainCount(host.controller, 2) == 1)
        #expect(host.bar.load32(at: pba) & (1 << 2) == 0)
        #expect(host.controller.statistics.interruptsHeldMasked == 1)
    }

    @Test func maskBitWrittenInTheTableIsHonoured() throws {
        let (host, queue) = try readyWithVectors()
        let control = host.controller.msixTableOffset + 16 * 2 + 12
        host.bar.store32(1, at: control)
        #expect(queue.execute(.flush(namespaceID: 1)).status == .success)
        #expect(drainCount(host.controller, 2) == 0)
        host.bar.store32(0, at: control)
        host.controller.service()
        #expect(drainCount(host.controller, 2) == 1)
    }

    @Test func functionMaskHoldsEveryVector() throws {
        let (host, queue) = try readyWithVectors()
        let control = try host.controller.readConfig16(at: 0x52)
        try host.controller.writeConfig16(control | 0x4000, at: 0x52)
        #expect(queue.execute(.flush(namespaceID: 1)).status == .success)
        #expect(drainCount(host.controller, 2) == 0)
        try host.controller.writeConfig16(control, at: 0x52)
        host.controller.service()
        #expect(drainCount(host.controller, 2) == 1)
    }

    @Test func intxIsAutomaskedUntilUnmasked() throws {
        let host = try TestHost()
        try host.controller.enableInterrupts(.intx, count: 1)
        try host.enable()
        _ = host.adminCommand(.getFeatures(.arbitration))
        #expect(drainCount(host.controller, 0) == 1)
        _ = host.adminCommand(.getFeatures(.arbitration))
        #expect(drainCount(host.controller, 0) == 0)  // masked after the first trigger
        try host.controller.unmaskINTx()
        #expect(drainCount(host.controller, 0) == 1)
        #expect(host.controller.interruptCount(.intx) == 1 && host.controller.interruptCount(.msi) == 0)
    }

    @Test func tooManyVectorsAreRefused() throws {
        let c = try EmulatedNVMeController(configuration: EmulatedNVMeConfiguration(msixVectors: 4))
        #expect(throws: VFIOError.self) { try c.enableInterrupts(.msix, count: 5) }
        #expect(throws: VFIOError.self) { try c.enableInterrupts(.msi, count: 1) }
        try c.enableInterrupts(.msix, count: 4)
        #expect(c.interruptEventFD(vector: 3) != nil)
        try c.disableInterrupts()
        #expect(c.interruptEventFD(vector: 0) == nil)
    }

    @Test func coalescingWaitsForTheThreshold() throws {
        let (host, queue) = try readyWithVectors()
        // THR 4 entries, TIME 25.5 ms.
        #expect(host.adminCommand(.setFeatures(.interruptCoalescing, cdw11: InterruptCoalescing(aggregationThreshold: 4, aggregationTime: 255).dword)).status == .success)
        for _ in 0..<3 { queue.place(.flush(namespaceID: 1)) }
        queue.ring()
        #expect(queue.reap(3).count == 3)
        #expect(drainCount(host.controller, 2) == 0)
        queue.submit(.flush(namespaceID: 1))
        #expect(queue.reap(1).count == 1)
        #expect(drainCount(host.controller, 2) == 1)
    }

    @Test func coalescingTimeBoundsTheDelay() throws {
        let (host, queue) = try readyWithVectors()
        #expect(host.adminCommand(.setFeatures(.interruptCoalescing, cdw11: InterruptCoalescing(aggregationThreshold: 64, aggregationTime: 255).dword)).status == .success)
        queue.submit(.flush(namespaceID: 1))
        #expect(queue.reap(1).count == 1)
        #expect(drainCount(host.controller, 2) == 0)
        let start = host.now()
        host.wait("coalesced interrupt after 25.5 ms") { drainCount(host.controller, 2) == 1 }
        #expect(host.now() - start >= 20_000_000)
    }

    @Test func coalescingDisableBitAndAdminQueueAreImmediate() throws {
        let (host, queue) = try readyWithVectors()
        #expect(host.adminCommand(.setFeatures(.interruptCoalescing, cdw11: InterruptCoalescing(aggregationThreshold: 64, aggregationTime: 255).dword)).status == .success)
        _ = drainCount(host.controller, 0)
        _ = host.adminCommand(.getFeatures(.arbitration))
        #expect(drainCount(host.controller, 0) == 1)
        #expect(host.adminCommand(.setFeatures(.interruptVectorConfiguration, cdw11: 2 | 1 << 16)).status == .success)
        queue.submit(.flush(namespaceID: 1))
        #expect(queue.reap(1).count == 1)
        #expect(drainCount(host.controller, 2) == 1)
    }
}
