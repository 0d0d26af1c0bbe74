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

import NVMe
import NVMeEmulator
import Testing
import VFIO

/// Asynchronous events end to end against the emulated controller: requests kept outstanding,
/// each event's log page read, namespaces rescanned, requests re-armed after events and resets.
@Suite struct AsynchronousEventTests {
    /// Two namespaces; the second starts detached (as QEMU's `detached=on`) unless `attached`.
    func rig(secondAttached: Bool = false) throws -> (EmulatedNVMeController, Controller<EmulatedNVMeController>) {
        let device = try EmulatedNVMeController(configuration: EmulatedNVMeConfiguration(
            namespaces: [EmulatedNamespace(blockSize: 512, capacityInBlocks: 4096), EmulatedNamespace(blockSize: 4096, capacityInBlocks: 512)],
            mode: .stepped))
        if !secondAttached { device.setNamespaceAttached(2, false, notify: false) }
        return (device, try Controller(device: device))
    }

    /// Polls until an event arrives (stepped mode: each poll services the device), at most 100 times.
    func nextEvents(_ controller: Controller<EmulatedNVMeController>) throws -> [ControllerEvent] {
        for _ in 0..<100 {
            let events = try controller.pollAsynchronousEvents()
            if !events.isEmpty { return events }
        }
        return []
    }

    func writeAndVerify(_ ns: Namespace<EmulatedNVMeController>, device: EmulatedNVMeController, seed: UInt64) throws {
        let bytes = 4 * ns.blockSize
        let data = try patternBuffer(device.dma, bytes: bytes, seed: seed)
        let back = try device.dma.allocate(length: bytes)
        try ns.write(lba: 3, blocks: 4, from: data.whole)
        try ns.read(lba: 3, blocks: 4, into: back.whole)
        #expect(equalBytes(data.slice(offset: 0, length: bytes), back.slice(offset: 0, length: bytes)))
    }

    @Test func enablingKeepsAERLPlusOneRequestsOutstanding() throws {
        let (_, controller) = try rig()
        #expect(controller.outstandingEventRequests == 0)
        try controller.enableAsynchronousEvents()
        #expect(controller.outstandingEventRequests == Int(controller.identity.asyncEventRequestLimit) + 1)
        #expect(try controller.pollAsynchronousEvents().isEmpty)
        #expect(try controller.feature(.asynchronousEventConfiguration) == 0x1FF)
    }

    @Test func namespaceAttachedWhileRunningAppearsAndTakesIO() throws {
        let (device, controller) = try rig()
        #expect(controller.namespaces.map(\.id) == [1])
        try controller.enableAsynchronousEvents()
        device.setNamespaceAttached(2, true)
        let events = try nextEvents(controller)
        #expect(events.map(\.kind) == [.namespacesChanged(NamespaceChanges(added: [2]))])
        #expect(events.first?.information.logPage == 0x04)
        #expect(controller.namespaces.map(\.id) == [1, 2])
        let ns = try controller.namespace(2)
        #expect(ns.blockSize == 4096 && ns.blockCount == 512)
        try writeAndVerify(ns, device: device, seed: 7)
        // Re-armed after the event, and the list was read with RAE clear: the next change is reported.
        #expect(controller.outstandingEventRequests == Int(controller.identity.asyncEventRequestLimit) + 1)
        device.resizeNamespace(2, blocks: 256)
        #expect(try nextEvents(controller).map(\.kind) == [.namespacesChanged(NamespaceChanges(changed: [2]))])
        #expect(try controller.namespace(2).blockCount == 256)
    }

    @Test func namespaceDetachedWhileRunningDisappearsAndItsIOFailsCleanly() throws {
        let (device, controller) = try rig(secondAttached: true)
        let ns = try controller.namespace(2)
        try writeAndVerify(ns, device: device, seed: 3)
        try controller.enableAsynchronousEvents()
        device.setNamespaceAttached(2, false)
        #expect(try nextEvents(controller).map(\.kind) == [.namespacesChanged(NamespaceChanges(removed: [2]))])
        #expect(controller.namespaces.map(\.id) == [1])
        #expect(throws: NVMeError.namespaceNotAttached(2)) { _ = try controller.namespace(2) }
        let buffer = try device.dma.allocate(length: 4096)
        #expect(throws: NVMeError.namespaceNotAttached(2)) { try ns.read(lba: 0, blocks: 1, into: buffer.whole) }
        // Namespace 1 is untouched.
        try writeAndVerify(try controller.namespace(1), device: device, seed: 4)
    }

    @Test func ioToANamespaceDetachedBeforeAnyEventFailsWithNamespaceNotAttached() throws {
        let (device, controller) = try rig(secondAttached: true)
        let ns = try controller.namespace(2)
        device.setNamespaceAttached(2, false)  // no events enabled: the driver learns it from the I/O
        let buffer = try device.dma.allocate(length: 4096)
        #expect(throws: NVMeError.namespaceNotAttached(2)) { try ns.write(lba: 0, blocks: 1, from: buffer.whole) }
        #expect(controller.namespaces.map(\.id) == [1])
        #expect(NVMeError.namespaceNotAttached(2).description.contains("vfioctl nvme ns attach --nsid 2"))
    }

    @Test func criticalWarningArrivesAsASMARTEventWithTheHealthLog() throws {
        let (device, controller) = try rig()
        try controller.enableAsynchronousEvents()
        device.setCriticalWarning([.availableSpareBelowThreshold, .temperatureThreshold])
        let events = try nextEvents(controller)
        guard case .smartHealth(let log)? = events.first?.kind else {
            Issue.record("expected a SMART / health event, got \(events)")
            return
        }
        #expect(log.criticalWarning == [.availableSpareBelowThreshold, .temperatureThreshold])
        #expect(events.first?.information.type == .smartHealth)
    }

    @Test func errorEventReadsTheNewestErrorLogEntry() throws {
        let (device, controller) = try rig()
        try controller.enableAsynchronousEvents()
        let buffer = try device.dma.allocate(length: 512)
        // A failing command puts an entry in the error log; the event names that log.
        #expect(throws: NVMeError.self) { try controller.namespace(1).read(lba: 1 << 20, blocks: 1, into: buffer.whole) }
        let before = try controller.errorLog(count: 1).first
        device.raiseAsynchronousEvent(type: 0, info: 0x02, logPage: 0x01)
        let events = try nextEvents(controller)
        #expect(events.map(\.kind) == [.error(before)])
    }

    @Test func resetReArmsTheRequestsAndRestoresTheConfiguration() throws {
        let (device, controller) = try rig()
        try controller.enableAsynchronousEvents()
        try controller.reset()
        #expect(controller.outstandingEventRequests == Int(controller.identity.asyncEventRequestLimit) + 1)
        device.setNamespaceAttached(2, true)
        #expect(try nextEvents(controller).map(\.kind) == [.namespacesChanged(NamespaceChanges(added: [2]))])
    }

    @Test func anInflatedAERLCostsOneFailedRequestEachAndNoResubmission() throws {
        let device = try EmulatedNVMeController(configuration: EmulatedNVMeConfiguration(mode: .stepped))
        let first = try Controller(device: device)
        var identity = first.identity
        try first.close()
        identity.asyncEventRequestLimit = 255  // the device claims 256; it holds 4
        var bytes = [UInt8](repeating: 0, count: 4096)
        try bytes.withUnsafeMutableBytes { try identity.encode(into: $0) }
        device.setIdentifyData(cns: .controller, bytes)
        let controller = try Controller(device: device)
        try controller.enableAsynchronousEvents()
        var failed = 0
        for _ in 0..<100 {
            for event in try controller.pollAsynchronousEvents() {
                if case .requestFailed(let status) = event.kind, status.matches(.asynchronousEventRequestLimitExceeded) { failed += 1 }
            }
        }
        #expect(failed == 12)  // the cap of 16 submitted, 4 held
        #expect(controller.outstandingEventRequests == 4)
        #expect(try controller.pollAsynchronousEvents().isEmpty)
    }

    @Test func eventsArriveThroughTheAsyncSequence() async throws {
        let (device, controller) = try rig()
        try controller.enableAsynchronousEvents()
        device.setNamespaceAttached(2, true)
        var received: [ControllerEvent] = []
        for try await event in controller.asynchronousEvents(pollInterval: .milliseconds(1)) {
            received.append(event)
            break
        }
        #expect(received.map(\.kind) == [.namespacesChanged(NamespaceChanges(added: [2]))])
    }
}
