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

/// Namespace Attachment and Namespace Management through the driver (NVMe base 1.4, 5.23, 5.22):
/// each rescans, so the namespace list follows without waiting for an event.
@Suite struct NamespaceManagementTests {
    func rig() throws -> (EmulatedNVMeController, Controller<EmulatedNVMeController>) {
        let device = try EmulatedNVMeController(configuration: EmulatedNVMeConfiguration(
            namespaces: [EmulatedNamespace(blockSize: 512, capacityInBlocks: 4096), EmulatedNamespace(blockSize: 4096, capacityInBlocks: 512)],
            mode: .stepped))
        device.setNamespaceAttached(2, false, notify: false)
        return (device, try Controller(device: device))
    }

    @Test func attachThenDetachMovesTheNamespaceInAndOutWithVerifiedIO() throws {
        let (device, controller) = try rig()
        #expect(try controller.attachNamespace(2) == NamespaceChanges(added: [2]))
        #expect(device.attachedNamespaces == [1, 2])
        let ns = try controller.namespace(2)
        let data = try patternBuffer(device.dma, bytes: 8192, seed: 11)
        let back = try device.dma.allocate(length: 8192)
        try ns.write(lba: 10, blocks: 2, from: data.whole)
        try ns.read(lba: 10, blocks: 2, into: back.whole)
        #expect(equalBytes(data.whole, back.whole))
        #expect(try controller.detachNamespace(2) == NamespaceChanges(removed: [2]))
        #expect(device.attachedNamespaces == [1])
        #expect(throws: NVMeError.namespaceNotAttached(2)) { try ns.read(lba: 10, blocks: 2, into: back.whole) }
    }

    @Test func refusalsComeBackWithTheirStatus() throws {
        let (_, controller) = try rig()
        #expect(throws: NVMeError.commandFailed(command: "Namespace Attachment (attach namespace 1)", status: .namespaceAlreadyAttached.withDoNotRetry())) {
            try controller.attachNamespace(1)
        }
        #expect(throws: NVMeError.commandFailed(command: "Namespace Attachment (detach namespace 2)", status: .namespaceNotAttached.withDoNotRetry())) {
            try controller.detachNamespace(2)
        }
        #expect(throws: NVMeError.commandFailed(command: "Namespace Attachment (attach namespace 2)", status: .controllerListInvalid.withDoNotRetry())) {
            try controller.attachNamespace(2, controllers: [9])
        }
        #expect(throws: NVMeError.invalidArgument("namespace 3: this controller's NSIDs are 1...2 (Identify Controller NN)")) {
            try controller.attachNamespace(3)
        }
    }

    @Test func deleteThenCreateReusesTheNSIDWithItsBlocksErased() throws {
        let (device, controller) = try rig()
        let ns = try controller.namespace(1)
        let data = try patternBuffer(device.dma, bytes: 4096, seed: 5)
        try ns.write(lba: 0, blocks: 8, from: data.whole)
        #expect(try controller.deleteNamespace(1) == NamespaceChanges(removed: [1]))
        #expect(throws: NVMeError.namespaceNotAttached(1)) { _ = try controller.namespace(1) }
        #expect(throws: NVMeError.commandFailed(command: "Namespace Management (create)", status: .namespaceInsufficientCapacity.withDoNotRetry())) {
            _ = try controller.createNamespace(blocks: 4097)
        }
        let id = try controller.createNamespace(blocks: 1000)
        #expect(id == 1)
        #expect(controller.namespaces.map(\.id) == [])  // created detached
        #expect(try controller.attachNamespace(1) == NamespaceChanges(added: [1]))
        let created = try controller.namespace(1)
        #expect(created.blockCount == 1000 && created.blockSize == 512)
        let back = try device.dma.allocate(length: 4096)
        back.bytes.initializeMemory(as: UInt8.self, repeating: 0xEE)
        try created.read(lba: 0, blocks: 8, into: back.whole)
        #expect(back.bytes.allSatisfy { $0 == 0 })
        #expect(throws: NVMeError.commandFailed(command: "Namespace Management (create)", status: .namespaceIdentifierUnavailable.withDoNotRetry())) {
            _ = try controller.createNamespace(blocks: 10)
        }
        #expect(throws: NVMeError.commandFailed(command: "Namespace Management (create)", status: .thinProvisioningNotSupported.withDoNotRetry())) {
            _ = try controller.createNamespace(blocks: 10, capacityBlocks: 5)
        }
    }

    @Test func aControllerWithoutOACSBit3IsRefusedBeforeAnyCommand() throws {
        let device = try EmulatedNVMeController(configuration: EmulatedNVMeConfiguration(mode: .stepped))
        let first = try Controller(device: device)
        var identity = first.identity
        try first.close()
        identity.oacs.remove(.namespaceManagement)
        var bytes = [UInt8](repeating: 0, count: 4096)
        try bytes.withUnsafeMutableBytes { try identity.encode(into: $0) }
        device.setIdentifyData(cns: .controller, bytes)
        let controller = try Controller(device: device)
        #expect(throws: NVMeError.optionalCommandUnsupported(command: "Namespace Management (create)", reason: "Identify Controller OACS bit 3 is clear")) {
            _ = try controller.createNamespace(blocks: 8)
        }
        #expect(throws: NVMeError.optionalCommandUnsupported(command: "Namespace Attachment (detach namespace 1)", reason: "Identify Controller OACS bit 3 is clear")) {
            try controller.detachNamespace(1)
        }
        #expect(device.attachedNamespaces == [1])
    }

    @Test func anOpcodeTheControllerRefusesDespiteOACSIsUnsupportedNotAFailure() throws {
        let (device, controller) = try rig()
        device.setFaultPlan(FaultPlan(rules: [.admin(.namespaceManagement, .always, .completeWithStatus(.invalidCommandOpcode))]))
        #expect(throws: NVMeError.optionalCommandUnsupported(
            command: "Namespace Management (delete) of namespace 1",
            reason: "the controller refused its opcode (Invalid Command Opcode) although OACS bit 3 is set")) {
            try controller.deleteNamespace(1)
        }
    }

    @Test func theAttachmentsOwnEventChangesNothingMoreAndIsReArmed() throws {
        let (_, controller) = try rig()
        try controller.enableAsynchronousEvents()
        try controller.attachNamespace(2)
        var events: [ControllerEvent] = []
        for _ in 0..<100 where events.isEmpty { events = try controller.pollAsynchronousEvents() }
        #expect(events.map(\.kind) == [.namespacesChanged(NamespaceChanges())])
        #expect(controller.outstandingEventRequests == Int(controller.identity.asyncEventRequestLimit) + 1)
        #expect(controller.namespaces.map(\.id) == [1, 2])
    }
}
