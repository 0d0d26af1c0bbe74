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

/// Admin commands and each of their error statuses (NVMe base 1.4, 5).
@Suite struct AdminCommandTests {
    func twoNamespaces() -> EmulatedNVMeConfiguration {
        EmulatedNVMeConfiguration(namespaces: [
            EmulatedNamespace(blockSize: 512, capacityInBlocks: 4096),
            EmulatedNamespace(blockSize: 4096, capacityInBlocks: 1024),
        ])
    }

    func identify(_ host: TestHost, cns: UInt8, nsid: UInt32 = 0) throws -> (CompletionQueueEntry, [UInt8]) {
        let data = try host.controller.dma.allocate(length: 4096)
        let sqe = SubmissionQueueEntry(opcode: AdminOpcode.identify.rawValue, namespaceID: nsid, prp1: data.iova.rawValue, cdw10: UInt32(cns))
        let cqe = host.adminCommand(sqe)
        return (cqe, data.read(4096))
    }

    // MARK: Identify

    @Test func identifyNamespaceReportsSizeAndBlockSize() throws {
        let host = try TestHost(twoNamespaces())
        try host.enable()
        let (c1, d1) = try identify(host, cns: 0, nsid: 1)
        #expect(c1.status == .success)
        let ns1 = try IdentifyNamespace(bytes: d1)
        #expect(ns1.size == 4096 && ns1.capacity == 4096 && ns1.blockSize == 512)
        #expect(d1[33] & 0x7 == 1)  // DLFEAT: deallocated blocks read as zeroes
        let (c2, d2) = try identify(host, cns: 0, nsid: 2)
        #expect(c2.status == .success)
        let ns2 = try IdentifyNamespace(bytes: d2)
        #expect(ns2.size == 1024 && ns2.blockSize == 4096)
        #expect(ns1.nguid != ns2.nguid)
    }

    @Test func identifyInvalidNamespaceIsRejected() throws {
        let host = try TestHost(twoNamespaces())
        try host.enable()
        for nsid: UInt32 in [0, 3, 0xFFFF_FFFF] {
            let (cqe, _) = try identify(host, cns: 0, nsid: nsid)
            #expect(cqe.status.matches(.invalidNamespaceOrFormat), "NSID \(nsid)")
        }
    }

    @Test func activeNamespaceListListsIDsAboveTheGivenOne() throws {
        let host = try TestHost(twoNamespaces())
        try host.enable()
        let (all, d0) = try identify(host, cns: 2, nsid: 0)
        #expect(all.status == .success)
        #expect(try ActiveNamespaceList(bytes: d0).namespaceIDs == [1, 2])
        let (_, d1) = try identify(host, cns: 2, nsid: 1)
        #expect(try ActiveNamespaceList(bytes: d1).namespaceIDs == [2])
        let (bad, _) = try identify(host, cns: 2, nsid: 0xFFFF_FFFF)
        #expect(bad.status.matches(.invalidNamespaceOrFormat))
    }

    @Test func namespaceDescriptorsCarryEUI64NGUIDAndUUID() throws {
        let host = try TestHost(twoNamespaces())
        try host.enable()
        let (cqe, data) = try identify(host, cns: 3, nsid: 2)
        #expect(cqe.status == .success)
        let list = try NamespaceIdentificationDescriptorList(bytes: data)
        #expect(list.eui64?.count == 8 && list.nguid?.count == 16 && list.uuid?.count == 16)
        let (_, nsData) = try identify(host, cns: 0, nsid: 2)
        #expect(list.nguid == (try IdentifyNamespace(bytes: nsData)).nguid)
    }

    @Test func identifyWithUnknownCNSIsInvalidField() throws {
        let host = try TestHost()
        try host.enable()
        let (cqe, _) = try identify(host, cns: 0x11)  // 10h is the allocated namespace list (NamespaceAttachmentTests)
        #expect(cqe.status.matches(.invalidFieldInCommand))
    }

    @Test func unknownAdminOpcodeIsInvalidOpcode() throws {
        let host = try TestHost()
        try host.enable()
        #expect(host.adminCommand(SubmissionQueueEntry(opcode: 0xC3)).status.matches(.invalidCommandOpcode))
        #expect(host.adminCommand(SubmissionQueueEntry(opcode: AdminOpcode.formatNVM.rawValue)).status.matches(.invalidCommandOpcode))
    }

    @Test func fusedOrSGLAdminCommandIsInvalidField() throws {
        let host = try TestHost()
        try host.enable()
        var sqe = SubmissionQueueEntry.identify(cns: .controller)
        sqe.dataPointerType = 1
        #expect(host.adminCommand(sqe).status.matches(.invalidFieldInCommand))
    }

    // MARK: Features

    @Test func numberOfQueuesGrantsAtMostTheMaximum() throws {
        let host = try TestHost(EmulatedNVMeConfiguration(maxIOQueuePairs: 4))
        try host.enable()
        let cqe = host.setNumberOfQueues(64)
        #expect(cqe.status == .success)
        let granted = NumberOfQueues(dword: cqe.commandSpecific)
        #expect(granted.submissionQueues == 4 && granted.completionQueues == 4)
        let get = host.adminCommand(.getFeatures(.numberOfQueues))
        #expect(NumberOfQueues(dword: get.commandSpecific) == granted)
        #expect(host.adminCommand(.setFeatures(.numberOfQueues, cdw11: 0xFFFF_FFFF)).status.matches(.invalidFieldInCommand))
    }

    @Test func numberOfQueuesAfterQueueCreationIsASequenceError() throws {
        let (host, _) = try TestHost.ready()
        #expect(host.setNumberOfQueues(2).status.matches(.commandSequenceError))
    }

    @Test func featuresRoundTrip() throws {
        let host = try TestHost()
        try host.enable()
        let values: [(FeatureIdentifier, UInt32)] = [
            (.arbitration, Arbitration(burst: 3, lowPriorityWeight: 1).dword),
            (.volatileWriteCache, 0),
            (.interruptCoalescing, InterruptCoalescing(aggregationThreshold: 8, aggregationTime: 2).dword),
            (.asynchronousEventConfiguration, 0x1FF),
        ]
        for (fid, value) in values {
            #expect(host.adminCommand(.setFeatures(fid, cdw11: value)).status == .success, "\(fid)")
            #expect(host.adminCommand(.getFeatures(fid)).commandSpecific == value, "\(fid)")
            // Default select gives the power-on value, not the current one.
            let defaultValue = host.adminCommand(.getFeatures(fid, select: .default)).commandSpecific
            let expectedDefault: UInt32 = fid == .volatileWriteCache ? 1 : fid == .arbitration ? 7 : 0
            #expect(defaultValue == expectedDefault, "\(fid)")
        }
        #expect(host.adminCommand(.setFeatures(.interruptVectorConfiguration, cdw11: 3 | 1 << 16)).status == .success)
        #expect(host.adminCommand(.getFeatures(.interruptVectorConfiguration, cdw11: 3)).commandSpecific == 3 | 1 << 16)
        #expect(host.adminCommand(.getFeatures(.arbitration, select: .supportedCapabilities)).commandSpecific == 0b100)
    }

    @Test func featureErrors() throws {
        let host = try TestHost(EmulatedNVMeConfiguration(msixVectors: 4, volatileWriteCache: false))
        try host.enable()
        #expect(host.adminCommand(.setFeatures(.volatileWriteCache, cdw11: 1)).status.matches(.invalidFieldInCommand))
        #expect(host.adminCommand(.setFeatures(.arbitration, cdw11: 0, save: true)).status.matches(.featureIdentifierNotSaveable))
        #expect(host.adminCommand(.setFeatures(.temperatureThreshold, cdw11: 0)).status.matches(.invalidFieldInCommand))
        #expect(host.adminCommand(SubmissionQueueEntry(opcode: AdminOpcode.getFeatures.rawValue, cdw10: 0x7F)).status.matches(.invalidFieldInCommand))
        #expect(host.adminCommand(.setFeatures(.interruptVectorConfiguration, cdw11: 4)).status.matches(.invalidFieldInCommand))
        #expect(host.adminCommand(.setFeatures(.interruptVectorConfiguration, cdw11: 1 << 16)).status.matches(.invalidFieldInCommand))
        #expect(host.adminCommand(.setFeatures(.powerManagement, cdw11: 1)).status.matches(.invalidFieldInCommand))
    }

    // MARK: Queue creation and deletion

    @Test func createCompletionQueueErrors() throws {
        let host = try TestHost(EmulatedNVMeConfiguration(maxQueueEntries: 63, maxIOQueuePairs: 8, msixVectors: 4))
        try host.enable()
        #expect(host.setNumberOfQueues(2).status == .success)
        let memory = try host.controller.dma.allocate(length: 4096)
        let iova = memory.iova.rawValue
        func create(_ id: UInt16, size: Int = 16, base: UInt64? = nil, contiguous: Bool = true, vector: UInt16 = 1) -> NVMeStatus {
            host.adminCommand(.createIOCompletionQueue(id: id, size: size, baseIOVA: base ?? iova, physicallyContiguous: contiguous,
                                                       interruptsEnabled: true, vector: vector)).status
        }
        #expect(create(0).matches(.invalidQueueIdentifier))
        #expect(create(3).matches(.invalidQueueIdentifier))  // only 2 granted
        #expect(create(1, size: 65).matches(.invalidQueueSize))  // MQES 63 → 64 entries
        var sizeOne = SubmissionQueueEntry.createIOCompletionQueue(id: 1, size: 2, baseIOVA: iova, interruptsEnabled: false)
        sizeOne.cdw10 &= 0xFFFF  // QSIZE 0: one entry
        #expect(host.adminCommand(sizeOne).status.matches(.invalidQueueSize))
        #expect(create(1, base: iova + 512).matches(.prpOffsetInvalid))
        #expect(create(1, contiguous: false).matches(.invalidFieldInCommand))
        #expect(create(1, vector: 4).matches(.invalidInterruptVector))
        #expect(create(1, size: 64) == .success)
        #expect(create(1).matches(.invalidQueueIdentifier))  // exists
        #expect(create(1).doNotRetry)
    }

    @Test func createSubmissionQueueErrors() throws {
        let host = try TestHost(EmulatedNVMeConfiguration(maxQueueEntries: 63))
        try host.enable()
        #expect(host.setNumberOfQueues(2).status == .success)
        let memory = try host.controller.dma.allocate(length: 8192)
        let iova = memory.iova.rawValue
        #expect(host.adminCommand(.createIOCompletionQueue(id: 1, size: 16, baseIOVA: iova, interruptsEnabled: false)).status == .success)
        func create(_ id: UInt16, cq: UInt16 = 1, size: Int = 16, base: UInt64? = nil) -> NVMeStatus {
            host.adminCommand(.createIOSubmissionQueue(id: id, size: size, baseIOVA: base ?? iova + 4096, completionQueue: cq)).status
        }
        #expect(create(0).matches(.invalidQueueIdentifier))
        #expect(create(3).matches(.invalidQueueIdentifier))
        #expect(create(1, cq: 0).matches(.completionQueueInvalid))
        #expect(create(1, cq: 2).matches(.completionQueueInvalid))
        #expect(create(1, size: 100).matches(.invalidQueueSize))
        #expect(create(1, base: iova + 4096 + 64).matches(.prpOffsetInvalid))
        #expect(create(1) == .success)
        #expect(create(1).matches(.invalidQueueIdentifier))
        // Two SQs may share a CQ.
        #expect(create(2) == .success)
    }

    @Test func deleteQueuesInTheRightOrder() throws {
        let (host, _) = try TestHost.ready()
        #expect(host.adminCommand(.deleteIOCompletionQueue(id: 1)).status.matches(.invalidQueueDeletion))
        #expect(host.adminCommand(.deleteIOSubmissionQueue(id: 0)).status.matches(.invalidQueueIdentifier))
        #expect(host.adminCommand(.deleteIOSubmissionQueue(id: 2)).status.matches(.invalidQueueIdentifier))
        #expect(host.adminCommand(.deleteIOSubmissionQueue(id: 1)).status == .success)
        #expect(host.adminCommand(.deleteIOSubmissionQueue(id: 1)).status.matches(.invalidQueueIdentifier))
        #expect(host.adminCommand(.deleteIOCompletionQueue(id: 1)).status == .success)
        #expect(host.adminCommand(.deleteIOCompletionQueue(id: 1)).status.matches(.invalidQueueIdentifier))
        #expect(host.adminCommand(.deleteIOCompletionQueue(id: 0)).status.matches(.invalidQueueIdentifier))
        // The ids are free again.
        try host.createQueuePair(id: 1, entries: 16)
    }

    @Test func deletingAnSQAbortsItsOwedCompletions() throws {
        var configuration = EmulatedNVMeConfiguration()
        configuration.faultPlan = FaultPlan(rules: [.io(.flush, .always, .delayCompletion(nanoseconds: 60_000_000_000))])
        let (host, queue) = try TestHost.ready(configuration)
        let cid = queue.submit(.flush(namespaceID: 1))
        #expect(queue.drain().isEmpty)
        #expect(host.controller.owedCompletions == 1)
        #expect(host.adminCommand(.deleteIOSubmissionQueue(id: 1)).status == .success)
        // Posted before the Delete completed (NVMe base 1.4, 5.6), so it is already in the CQ.
        var entries: [CompletionQueueEntry] = []
        while let e = queue.poll() { entries.append(e) }
        #expect(entries.count == 1)
        #expect(entries.first?.commandID == cid)
        #expect(entries.first?.status.matches(.abortedSQDeletion) == true)
    }

    // MARK: Abort

    @Test func abortOfAnUnknownCommandReportsNotAborted() throws {
        let (host, _) = try TestHost.ready()
        let cqe = host.adminCommand(.abort(submissionQueue: 1, commandID: 77))
        #expect(cqe.status == .success)
        #expect(cqe.commandSpecific & 1 == 1)
        #expect(host.adminCommand(.abort(submissionQueue: 9, commandID: 1)).commandSpecific & 1 == 1)
    }

    @Test func abortCompletesACommandWhoseCompletionWasDropped() throws {
        var configuration = EmulatedNVMeConfiguration()
        configuration.faultPlan = FaultPlan(rules: [.io(.flush, .nth(1), .dropCompletion)])
        let (host, queue) = try TestHost.ready(configuration)
        let cid = queue.submit(.flush(namespaceID: 1))
        #expect(queue.drain().isEmpty)
        let abort = host.adminCommand(.abort(submissionQueue: 1, commandID: cid))
        #expect(abort.status == .success && abort.commandSpecific & 1 == 0)
        let done = queue.reap(1)
        #expect(done.first?.commandID == cid)
        #expect(done.first?.status.matches(.abortRequested) == true)
    }

    // MARK: Log pages

    @Test func errorLogRecordsFailedCommandsNewestFirst() throws {
        let (host, queue) = try TestHost.ready()
        let bad1 = queue.execute(.read(namespaceID: 9, lba: 0, blocks: 1))
        let bad2 = queue.execute(.read(namespaceID: 1, lba: 1 << 40, blocks: 1))
        #expect(bad1.status.matches(.invalidNamespaceOrFormat) && bad2.status.matches(.lbaOutOfRange))
        let data = try host.controller.dma.allocate(length: 4096)
        var sqe = SubmissionQueueEntry.getLogPage(.errorInformation, dwords: 1024)
        sqe.prp1 = data.iova.rawValue
        #expect(host.adminCommand(sqe).status == .success)
        let entries = try ErrorInformationEntry.decodeAll(bytes: UnsafeRawBufferPointer(data.bytes)).filter { $0.errorCount != 0 }
        #expect(entries.count == 2)
        #expect(entries[0].errorCount == 2 && entries[0].status.matches(.lbaOutOfRange) && entries[0].lba == 1 << 40)
        #expect(entries[1].commandID == bad1.commandID && entries[1].submissionQueueID == 1)
    }

    @Test func smartLogCountsHostCommands() throws {
        let (host, queue) = try TestHost.ready()
        let buffer = try host.controller.dma.allocate(length: 4096)
        for i in 0..<3 {
            var w = SubmissionQueueEntry.write(namespaceID: 1, lba: UInt64(i * 8), blocks: 8)
            w.prp1 = buffer.iova.rawValue
            #expect(queue.execute(w).status == .success)
        }
        var r = SubmissionQueueEntry.read(namespaceID: 1, lba: 0, blocks: 8)
        r.prp1 = buffer.iova.rawValue
        #expect(queue.execute(r).status == .success)
        var sqe = SubmissionQueueEntry.getLogPage(.smartHealth, dwords: 128)
        sqe.prp1 = buffer.iova.rawValue
        #expect(host.adminCommand(sqe).status == .success)
        let log = try SMARTHealthLog(bytes: UnsafeRawBufferPointer(start: buffer.address, count: 512))
        #expect(log.hostWriteCommands.low == 3 && log.hostReadCommands.low == 1)
        #expect(log.dataUnitsWritten.low == 1 && log.dataUnitsRead.low == 1)
        #expect(log.availableSpare == 100 && log.compositeTemperature > 273)
    }

    @Test func logPageErrors() throws {
        let host = try TestHost()
        try host.enable()
        let buffer = try host.controller.dma.allocate(length: 4096)
        var unknown = SubmissionQueueEntry(opcode: AdminOpcode.getLogPage.rawValue, namespaceID: 0xFFFF_FFFF, cdw10: 0x7F | 127 << 16)
        unknown.prp1 = buffer.iova.rawValue
        #expect(host.adminCommand(unknown).status.matches(.invalidLogPage))
        var pastEnd = SubmissionQueueEntry.getLogPage(.smartHealth, dwords: 16, offset: 512)
        pastEnd.prp1 = buffer.iova.rawValue
        #expect(host.adminCommand(pastEnd).status.matches(.invalidFieldInCommand))
        var misaligned = SubmissionQueueEntry.getLogPage(.smartHealth, dwords: 16)
        misaligned.cdw12 = 2
        misaligned.prp1 = buffer.iova.rawValue
        #expect(host.adminCommand(misaligned).status.matches(.invalidFieldInCommand))
        var firmware = SubmissionQueueEntry.getLogPage(.firmwareSlot, dwords: 128)
        firmware.prp1 = buffer.iova.rawValue
        #expect(host.adminCommand(firmware).status == .success)
        #expect(buffer.read(1) == [1])
    }

    // MARK: Asynchronous events

    @Test func asynchronousEventRequestCompletesWhenAnEventArrives() throws {
        let host = try TestHost()
        try host.enable()
        let cid = host.admin.submit(.asynchronousEventRequest())
        #expect(host.admin.drain().isEmpty)
        host.controller.raiseAsynchronousEvent(type: 0, info: 0x05, logPage: 0x01)
        let done = host.admin.reap(1)
        #expect(done.first?.commandID == cid)
        #expect(done.first?.commandSpecific == 0x01_05_00)
    }

    @Test func asynchronousEventRequestLimitIsFour() throws {
        let host = try TestHost()
        try host.enable()
        for _ in 0..<4 { host.admin.submit(.asynchronousEventRequest()) }
        #expect(host.admin.drain().isEmpty)
        let fifth = host.admin.execute(.asynchronousEventRequest())
        #expect(fifth.status.matches(.asynchronousEventRequestLimitExceeded))
    }

    @Test func invalidDoorbellWriteRaisesAnErrorEventMaskedUntilTheLogIsRead() throws {
        let (host, queue) = try TestHost.ready(entries: 16)
        host.admin.submit(.asynchronousEventRequest())
        host.admin.submit(.asynchronousEventRequest())
        #expect(host.admin.drain().isEmpty)
        host.bar.doorbell(at: queue.sqDoorbell).ring(999)  // beyond the queue
        let first = host.admin.reap(1)
        #expect(first.first?.commandSpecific == 0x01_01_00)  // error, invalid doorbell value, log 01h
        // A second error event waits until the error log is read (NVMe base 1.4, 5.2).
        host.bar.store32(5, at: 0x1000 + 2 * 7 * host.stride)  // doorbell of a queue that does not exist
        #expect(host.admin.drain().isEmpty)
        #expect(host.controller.statistics.invalidDoorbellWrites == 2)
        let buffer = try host.controller.dma.allocate(length: 4096)
        var log = SubmissionQueueEntry.getLogPage(.errorInformation, dwords: 16)
        log.prp1 = buffer.iova.rawValue
        let cid = host.admin.submit(log)
        let done = host.admin.reap(2)
        #expect(done.contains { $0.commandID == cid && $0.status == .success })
        #expect(done.contains { $0.commandSpecific == 0x01_00_00 })  // write to invalid doorbell register
    }

    @Test func smartEventsNeedTheirConfigurationBit() throws {
        let host = try TestHost()
        try host.enable()
        host.admin.submit(.asynchronousEventRequest())
        host.controller.raiseAsynchronousEvent(type: 1, info: 0, logPage: 2)
        #expect(host.admin.drain().isEmpty)
        let set = host.admin.execute(.setFeatures(.asynchronousEventConfiguration, cdw11: 0xFF))
        #expect(set.status == .success)
        let done = host.admin.reap(1)
        #expect(done.first?.commandSpecific == 0x02_00_01)
    }
}
