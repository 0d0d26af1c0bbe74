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

/// The faults a driver's lifecycle is tested with (issue 16): a command that hangs, data that
/// reaches the host after the completion, an admin CQ flood, a stale CQE after its id is reused,
/// a function reset that fails, and a bus master bit that will not clear.
@Suite struct LifecycleFaultTests {
    func ready(_ rules: [FaultRule]) throws -> (TestHost, TestQueue) {
        var configuration = EmulatedNVMeConfiguration()
        configuration.faultPlan = FaultPlan(rules: rules)
        return try TestHost.ready(configuration)
    }

    @Test func hungDeleteLeavesTheQueueAliveUntilTheControllerIsDisabled() throws {
        let (host, queue) = try ready([.admin(.deleteIOSubmissionQueue, .nth(1), .hang)])
        host.admin.submit(.deleteIOSubmissionQueue(id: 1))
        #expect(host.admin.drain().isEmpty)
        // The SQ still takes commands.
        #expect(queue.execute(.flush(namespaceID: 1)).status == .success)
        #expect(host.controller.faultCounters[.hang] == 1)
        host.configuration = ControllerConfiguration(enable: false)
        #expect(host.wait("disable") { !host.status.ready })
        queue.submit(.flush(namespaceID: 1))
        #expect(queue.drain().isEmpty)
    }

    @Test func lateDataLandsAfterTheCompletionUnlessTheControllerIsDisabledFirst() throws {
        let (host, queue) = try ready([.io(.read, .every(1), .lateData(nanoseconds: 100_000_000))])
        /// Eight blocks at LBA 0 to or from `buffer`.
        func transfer(_ entry: SubmissionQueueEntry, _ buffer: borrowing DMABuffer) -> NVMeStatus {
            var entry = entry
            entry.prp1 = buffer.iova.rawValue
            return queue.execute(entry).status
        }
        let data = try host.controller.dma.allocate(length: 4096)
        data.fill([UInt8](repeating: 0x5A, count: 4096))
        #expect(transfer(.write(namespaceID: 1, lba: 0, blocks: 8), data) == .success)
        let back = try host.controller.dma.allocate(length: 4096)
        #expect(transfer(.read(namespaceID: 1, lba: 0, blocks: 8), back) == .success)
        // Completed, and the buffer is still empty: the data comes 100 ms later.
        #expect(back.read(4096) == [UInt8](repeating: 0, count: 4096))
        #expect(host.wait("late data") { back.read(1) == [0x5A] })
        // The second time a disable comes first: the late write is dropped.
        let again = try host.controller.dma.allocate(length: 4096)
        #expect(transfer(.read(namespaceID: 1, lba: 0, blocks: 8), again) == .success)
        host.configuration = ControllerConfiguration(enable: false)
        #expect(host.wait("disable") { !host.status.ready })
        let end = host.now() + 200_000_000
        while host.now() < end { host.controller.service() }
        #expect(again.read(4096) == [UInt8](repeating: 0, count: 4096))
        #expect(host.controller.faultCounters[.lateData] == 2)
    }

    @Test func floodFillsTheAdminQueueIgnoringTheHeadDoorbellUntilDisabled() throws {
        let (host, _) = try ready([.admin(.getFeatures, .nth(1), .floodAdminCompletions)])
        let cid = host.admin.submit(.getFeatures(.arbitration))
        // One ring per step: what one step wrote, as the host sees it then.
        func step() -> [CompletionQueueEntry] {
            host.controller.service()
            var out: [CompletionQueueEntry] = []
            while let e = host.admin.poll() { out.append(e) }
            host.admin.acknowledge()
            return out
        }
        _ = step()
        let first = step()
        let second = step()
        // Entries again and again (the head doorbell written in between changes nothing), none
        // for the command itself.
        #expect(!first.isEmpty && !second.isEmpty)
        #expect((first + second).allSatisfy { $0.commandID == cid ^ 0x8000 && $0.submissionQueueID == 0 })
        #expect(host.controller.faultCounters[.floodAdminCompletions] == 1)
        host.configuration = ControllerConfiguration(enable: false)
        #expect(host.wait("disable") { !host.status.ready })
        #expect(host.admin.drain().isEmpty)
    }

    @Test func staleCompletionIsPostedAgainBeforeTheNextCommandsOwn() throws {
        let (host, queue) = try ready([.io(.flush, .nth(1), .staleCompletionOnReuse)])
        let first = queue.submit(.flush(namespaceID: 1))
        #expect(queue.reap(1).map(\.commandID) == [first])
        // The next command (a driver reusing ids at once would give it the same id).
        let second = queue.submit(.flush(namespaceID: 1))
        #expect(queue.reap(2).map(\.commandID) == [first, second])
        #expect(host.controller.faultCounters[.staleCompletionOnReuse] == 1)
    }

    @Test func failedFunctionResetChangesNothingAndStuckBusMasterStaysOn() throws {
        let (host, queue) = try ready([])
        host.controller.setResetFault(.fails(errno: 5))
        #expect(throws: VFIOError.self) { try host.controller.reset() }
        #expect(host.status.ready)
        #expect(queue.execute(.flush(namespaceID: 1)).status == .success)
        host.controller.setBusMasterStuck(true)
        let command = try host.controller.readConfig16(at: 4)
        try host.controller.writeConfig16(command & ~4, at: 4)
        #expect(try host.controller.readConfig16(at: 4) & 4 != 0)
        #expect(host.controller.busMasterEnabled)
        host.controller.setBusMasterStuck(false)
        try host.controller.writeConfig16(command & ~4, at: 4)
        #expect(!host.controller.busMasterEnabled)
    }
}
