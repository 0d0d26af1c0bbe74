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

@Suite struct AdminAPITests {
    @Test func smartHealthLogCountsCommands() throws {
        let rig = try Rig()
        let ns = try rig.controller.namespace(1)
        let buffer = try patternBuffer(rig.device.dma, bytes: 4096, seed: 3)
        for i in 0..<3 { try ns.write(lba: UInt64(i * 8), blocks: 8, from: buffer.whole) }
        let log = try rig.controller.smartHealthLog()
        #expect(log.hostWriteCommands.low == 3)
    }

    @Test func errorLogRecordsAFailedCommand() throws {
        let rig = try Rig()
        var pair = try rig.controller.makeQueuePair()
        let buffer = try rig.device.dma.allocate(length: 4096)
        let cid = try pair.submitRead(namespace: rig.namespace, lba: rig.namespace.blockCount + 10, blocks: 1, into: buffer.whole, token: 0)
        pair.ringSubmissionDoorbell()
        _ = try pair.waitForCompletions(atLeast: 1, timeoutMilliseconds: 1000) { _ in }
        let entries = try rig.controller.errorLog()
        let entry = try #require(entries.first)
        #expect(entry.commandID == cid)
        #expect(entry.submissionQueueID == pair.id)
        #expect(NVMeStatus(statusAndPhase: entry.statusField).matches(.lbaOutOfRange))
    }

    @Test func featuresGetAndSet() throws {
        let rig = try Rig()
        let queues = NumberOfQueues(dword: try rig.controller.feature(.numberOfQueues))
        #expect(queues.submissionQueues >= rig.controller.grantedQueuePairs)
        try rig.controller.setVolatileWriteCache(enabled: false)
        #expect(try rig.controller.feature(.volatileWriteCache) & 1 == 0)
        try rig.controller.setVolatileWriteCache(enabled: true)
        #expect(try rig.controller.feature(.volatileWriteCache) & 1 == 1)
    }

    @Test func identifyAgainMatchesBringUp() throws {
        let rig = try Rig()
        #expect(try rig.controller.identifyController() == rig.controller.identity)
        #expect(try rig.controller.activeNamespaceIDs() == [1])
        #expect(try rig.controller.identifyNamespace(1) == rig.controller.identifyData(namespace: 1))
    }

    @Test func failedAdminCommandNamesCommandAndStatus() throws {
        let rig = try Rig()
        do {
            _ = try rig.controller.identifyNamespace(77)
            Issue.record("Identify of an inactive namespace succeeded")
        } catch {
            guard case .commandFailed(let command, let status) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(command == "Identify Namespace 77")
            #expect(status.name != nil)
            #expect(error.description.contains("Identify Namespace 77 failed with"))
        }
        #expect(throws: NVMeError.noSuchNamespace(5, available: [1])) { _ = try rig.controller.namespace(5) }
    }

    @Test func datasetManagementAndWriteZeroesClearData() throws {
        let rig = try Rig()
        let ns = try rig.controller.namespace(1)
        let data = try patternBuffer(rig.device.dma, bytes: 64 * 512, seed: 9)
        let back = try patternBuffer(rig.device.dma, bytes: 64 * 512, seed: 10)
        try ns.write(lba: 0, blocks: 64, from: data.whole)
        try ns.writeZeroes(lba: 0, blocks: 16)
        try ns.deallocate(lba: 32, blocks: 32)
        try ns.flush()
        try ns.read(lba: 0, blocks: 64, into: back.whole)
        let bytes = back.bytes
        #expect(bytes[0..<(16 * 512)].allSatisfy { $0 == 0 })
        #expect(bytes[(16 * 512)..<(32 * 512)].elementsEqual(data.bytes[(16 * 512)..<(32 * 512)]))
        // Deallocated blocks read as zeroes on this controller (DLFEAT reports it).
        #expect(bytes[(32 * 512)..<(64 * 512)].allSatisfy { $0 == 0 })
        #expect(rig.device.statistics.io(IOOpcode.datasetManagement.rawValue).commands == 1)
    }

    @Test func compareDetectsMismatch() throws {
        let rig = try Rig()
        let ns = try rig.controller.namespace(1)
        let data = try patternBuffer(rig.device.dma, bytes: 8 * 512, seed: 11)
        try ns.write(lba: 8, blocks: 8, from: data.whole)
        try ns.compare(lba: 8, blocks: 8, with: data.whole)
        // Through a local: `data.bytes[100] ^= 0xFF` (a compound assignment through the computed
        // buffer of a ~Copyable) crashes swift-frontend 6.3.1 with -sanitize=thread ("Invalid bitcast").
        let bytes = data.bytes
        bytes[100] ^= 0xFF
        #expect {
            try ns.compare(lba: 8, blocks: 8, with: data.whole)
        } throws: { error in
            guard case .commandFailed(_, let status) = error as? NVMeError else { return false }
            return status.matches(.compareFailure)
        }
    }
}
