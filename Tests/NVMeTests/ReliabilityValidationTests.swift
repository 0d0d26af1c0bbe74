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

/// A hostile device: completions with every field forged, Identify data replaced by garbage. The
/// driver must never complete a command twice or early from a bad entry, never touch memory
/// outside its own, and refuse sizing data that does not add up, with a message saying what.
@Suite struct ReliabilityValidationTests {
    /// A pair with `count` one-block reads submitted and fetched, their real completions dropped.
    static func pairWithReads(_ rig: Rig, count: Int, into buffer: borrowing DMABuffer) throws -> QueuePair<EmulatedNVMeController> {
        var pair = try rig.controller.makeQueuePair(entries: 8)
        rig.device.setFaultPlan(FaultPlan(rules: [.io(.read, .always, .dropCompletion)]))
        for i in 0..<count {
            try pair.submitRead(namespace: rig.namespace, lba: UInt64(i), blocks: 1, into: buffer.slice(offset: i * 512, length: 512), token: UInt64(100 + i))
        }
        pair.ringSubmissionDoorbell()
        rig.device.service()
        return pair
    }

    static func forged(_ rig: Rig, pair: borrowing QueuePair<EmulatedNVMeController>, cid: UInt16, head: UInt16, sqid: UInt16? = nil, phase: EmulatedNVMeController.ForgedPhase = .current) {
        let entry = CompletionQueueEntry(submissionQueueHead: head, submissionQueueID: sqid ?? pair.id, commandID: cid, statusAndPhase: 0)
        #expect(rig.device.postForgedCompletion(queue: pair.id, entry, phase: phase))
    }

    @Test func forgedCompletionsFailingAnyCheckCompleteNothing() throws {
        let rig = try Rig()
        let buffer = try rig.device.dma.allocate(length: 4096)
        var pair = try Self.pairWithReads(rig, count: 3, into: buffer)
        #expect(pair.outstanding == 3)
        // Command id out of range, not outstanding, wrong SQ id, SQ head beyond the tail (3), and
        // an SQ head out of the ring: each consumed and rejected.
        Self.forged(rig, pair: pair, cid: 0xFFFF, head: 3)
        Self.forged(rig, pair: pair, cid: 5, head: 3)
        Self.forged(rig, pair: pair, cid: 0, head: 3, sqid: pair.id &+ 1)
        Self.forged(rig, pair: pair, cid: 0, head: 5)
        Self.forged(rig, pair: pair, cid: 0, head: 200)
        var tokens: [UInt64] = []
        #expect(pair.reap { tokens.append($0.token) } == 0)
        #expect(tokens.isEmpty && pair.outstanding == 3)
        #expect(pair.statistics.invalidCompletions == 5)
        // A stale phase tag is not an entry at all.
        Self.forged(rig, pair: pair, cid: 0, head: 3, phase: .stale)
        #expect(pair.reap { tokens.append($0.token) } == 0)
        #expect(pair.statistics.invalidCompletions == 5)
    }

    @Test func aCommandCompletesOnceWhateverTheDeviceRepeats() throws {
        let rig = try Rig()
        let buffer = try rig.device.dma.allocate(length: 4096)
        var pair = try Self.pairWithReads(rig, count: 2, into: buffer)
        Self.forged(rig, pair: pair, cid: 1, head: 2)
        Self.forged(rig, pair: pair, cid: 1, head: 2)
        Self.forged(rig, pair: pair, cid: 1, head: 2)
        var tokens: [UInt64] = []
        #expect(pair.reap { tokens.append($0.token) } == 1)
        #expect(tokens == [101])
        #expect(pair.statistics.invalidCompletions == 2)
        #expect(pair.outstanding == 1 && pair.isOutstanding(commandID: 0))
    }

    @Test func reapLooksAtMostOneRingOfGarbagePerCall() throws {
        let rig = try Rig()
        let buffer = try rig.device.dma.allocate(length: 4096)
        var pair = try Self.pairWithReads(rig, count: 1, into: buffer)
        // The CQ holds 8 entries (7 usable); fill it with garbage, then reap: one call, then the
        // device may post again into the space the reaper gave back.
        for _ in 0..<7 { Self.forged(rig, pair: pair, cid: 6, head: 1) }
        #expect(!rig.device.postForgedCompletion(queue: pair.id, CompletionQueueEntry(submissionQueueHead: 1, submissionQueueID: pair.id, commandID: 0, statusAndPhase: 0)))
        #expect(pair.reap { _ in } == 0)
        #expect(pair.statistics.invalidCompletions == 7)
        rig.device.service()
        Self.forged(rig, pair: pair, cid: 0, head: 1)
        var tokens: [UInt64] = []
        #expect(pair.reap { tokens.append($0.token) } == 1)
        #expect(tokens == [100] && pair.outstanding == 0)
    }

    // MARK: Identify data from a hostile device

    static func bringUp(_ device: EmulatedNVMeController) throws(NVMeError) -> Controller<EmulatedNVMeController> {
        try Controller(device: device, options: ControllerOptions(adminTimeoutMilliseconds: 500))
    }

    static func controllerData(_ change: (inout IdentifyController) -> Void) throws -> [UInt8] {
        var id = IdentifyController()
        id.sqes = 0x66
        id.cqes = 0x44
        id.numberOfNamespaces = 1
        id.mdts = 5
        change(&id)
        return try id.encoded()
    }

    @Test func identifyControllerThatForbids64ByteEntriesIsRefused() throws {
        let device = try EmulatedNVMeController()
        device.setIdentifyData(cns: .controller, try Self.controllerData { $0.sqes = 0x77 })
        #expect {
            _ = try Self.bringUp(device)
        } throws: { error in
            guard case .unsupported(let what) = error as? NVMeError else { return false }
            return what.contains("SQES")
        }
        #expect(device.dma.liveMappings == 0)
    }

    @Test func namespaceIDsAboveNNAreIgnored() throws {
        let device = try EmulatedNVMeController(configuration: EmulatedNVMeConfiguration(namespaces: [
            EmulatedNamespace(capacityInBlocks: 2048), EmulatedNamespace(capacityInBlocks: 2048),
        ]))
        // The controller says NN = 1 while its active list names 1 and 2.
        device.setIdentifyData(cns: .controller, try Self.controllerData { $0.numberOfNamespaces = 1 })
        let controller = try Self.bringUp(device)
        #expect(controller.namespaces.map(\.id) == [1])
        try controller.close()
    }

    @Test func activeNamespaceListThatRepeatsItselfIsRefusedNotLoopedOn() throws {
        let device = try EmulatedNVMeController()
        device.setIdentifyData(cns: .controller, try Self.controllerData { $0.numberOfNamespaces = 0xFFFF_FFF0 })
        // A full page, returned whatever NSID the list is asked to start after: the second request
        // (after 1024) gets 1...1024 again. A loop that trusted it would not end.
        device.setIdentifyData(cns: .activeNamespaceList, try ActiveNamespaceList(namespaceIDs: Array(1...1024)).encoded())
        #expect {
            _ = try Self.bringUp(device)
        } throws: { error in
            guard case .deviceMisbehaved(let what) = error as? NVMeError else { return false }
            return what.contains("after NSID 1024 lists 1") && what.contains("must increase")
        }
        #expect(device.statistics.admin(AdminOpcode.identify.rawValue).commands == 3)
    }

    @Test func namespaceWithUnusableGeometryIsListedWithTheReason() throws {
        let device = try EmulatedNVMeController()
        var ns = IdentifyNamespace()
        ns.size = 100
        ns.capacity = 100
        ns.numberOfLBAFormats = 0
        ns.lbaFormats = [LBAFormat(metadataSize: 4, lbaDataSize: 9)]
        ns.formattedLBASize = 0x10  // extended LBA: metadata interleaved with the data
        ns.dataProtectionSettings = 1  // type 1 protection, whose 8-byte tuple does not fit in 4 bytes
        device.setIdentifyData(cns: .namespace, try ns.encoded())
        let controller = try Self.bringUp(device)
        #expect(controller.namespaces.isEmpty)
        #expect(controller.unusableNamespaces[1]?.contains("needs 8 bytes of metadata per block, the format has 4") == true)
        #expect(throws: NVMeError.namespaceUnusable(1, reason: controller.unusableNamespaces[1]!)) { _ = try controller.namespace(1) }
        try controller.close()
    }

    @Test func namespaceCapacityAboveItsSizeIsListedUnusable() throws {
        let device = try EmulatedNVMeController()
        var ns = IdentifyNamespace()
        ns.size = 100
        ns.capacity = 101
        ns.lbaFormats = [LBAFormat(lbaDataSize: 9)]
        device.setIdentifyData(cns: .namespace, try ns.encoded())
        let controller = try Self.bringUp(device)
        #expect(controller.namespaces.isEmpty)
        #expect(controller.unusableNamespaces[1]?.contains("NCAP 101 exceeds NSZE 100") == true)
        try controller.close()
    }

    @Test func garbageIdentifyNamespaceIsListedUnusableAsMalformedData() throws {
        let device = try EmulatedNVMeController()
        // FLBAS names format 9 while NLBAF says there is one.
        var bytes = [UInt8](repeating: 0, count: 4096)
        bytes[0] = 100
        bytes[25] = 0
        bytes[26] = 9
        device.setIdentifyData(cns: .namespace, bytes)
        do {
            let controller = try Self.bringUp(device)
            let reason = controller.unusableNamespaces[1] ?? ""
            #expect(reason.contains("malformed data") && reason.contains("Identify Namespace 1") && reason.contains("FLBAS"), "\(reason)")
            #expect(throws: NVMeError.namespaceUnusable(1, reason: reason)) { _ = try controller.namespace(1) }
            try controller.close()
        }
        #expect(device.dma.liveMappings == 0)
    }
}
