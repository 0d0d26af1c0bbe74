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

/// Namespace Attachment, the Changed Namespace List and Namespace Attribute Changed events
/// (NVMe base 1.4, 5.23, 5.14.1.4, 5.2), as the emulated controller implements them.
@Suite struct NamespaceAttachmentTests {
    func host() throws -> TestHost {
        let host = try TestHost(EmulatedNVMeConfiguration(namespaces: [
            EmulatedNamespace(blockSize: 512, capacityInBlocks: 4096),
            EmulatedNamespace(blockSize: 4096, capacityInBlocks: 1024),
        ]))
        try host.enable()
        return host
    }

    /// Runs Namespace Attachment with a Controller List naming `controllers`.
    func attachment(_ host: TestHost, _ select: NamespaceAttachmentSelect, nsid: UInt32, controllers: [UInt16] = [1]) throws -> CompletionQueueEntry {
        let data = try host.controller.dma.allocate(length: 4096)
        try data.withUnsafeMutableBytes { try ControllerList(controllerIDs: controllers).encode(into: $0) }
        var sqe = SubmissionQueueEntry.namespaceAttachment(select, namespaceID: nsid)
        sqe.prp1 = data.iova.rawValue
        return host.admin.execute(sqe)
    }

    func readOne(_ nsid: UInt32, lba: UInt64, into buffer: borrowing DMABuffer) -> SubmissionQueueEntry {
        var sqe = SubmissionQueueEntry.read(namespaceID: nsid, lba: lba, blocks: 1)
        sqe.prp1 = buffer.iova.rawValue
        return sqe
    }

    func activeList(_ host: TestHost) throws -> [UInt32] {
        let data = try host.controller.dma.allocate(length: 4096)
        var sqe = SubmissionQueueEntry.identify(cns: .activeNamespaceList)
        sqe.prp1 = data.iova.rawValue
        #expect(host.admin.execute(sqe).status == .success)
        return try ActiveNamespaceList(bytes: UnsafeRawBufferPointer(data.bytes)).namespaceIDs
    }

    func changedList(_ host: TestHost, retain: Bool) throws -> ChangedNamespaceList {
        let data = try host.controller.dma.allocate(length: 4096)
        var sqe = SubmissionQueueEntry.getLogPage(.changedNamespaceList, dwords: 1024)
        if retain { sqe.cdw10 |= 1 << 15 }
        sqe.prp1 = data.iova.rawValue
        #expect(host.admin.execute(sqe).status == .success)
        return try ChangedNamespaceList(bytes: UnsafeRawBufferPointer(data.bytes))
    }

    @Test func detachRemovesTheNamespaceFromTheActiveListAndAttachBringsItBack() throws {
        let host = try host()
        #expect(try activeList(host) == [1, 2])
        #expect(try attachment(host, .detach, nsid: 2).status == .success)
        #expect(try activeList(host) == [1])
        #expect(try attachment(host, .attach, nsid: 2).status == .success)
        #expect(try activeList(host) == [1, 2])
    }

    @Test func attachmentRefusesWhatTheSpecRefuses() throws {
        let host = try host()
        #expect(try attachment(host, .attach, nsid: 1).status.matches(.namespaceAlreadyAttached))
        #expect(try attachment(host, .detach, nsid: 1).status == .success)
        #expect(try attachment(host, .detach, nsid: 1).status.matches(.namespaceNotAttached))
        #expect(try attachment(host, .attach, nsid: 1, controllers: [7]).status.matches(.controllerListInvalid))
        #expect(try attachment(host, .attach, nsid: 1, controllers: []).status.matches(.controllerListInvalid))
        #expect(try attachment(host, .attach, nsid: 3).status.matches(.invalidFieldInCommand))
        var bad = SubmissionQueueEntry.namespaceAttachment(.attach, namespaceID: 1)
        bad.cdw10 = 5
        #expect(host.admin.execute(bad).status.matches(.invalidFieldInCommand))
    }

    @Test func ioToADetachedNamespaceIsInvalidFieldAndIdentifyReadsZeroes() throws {
        let (host, queue) = try TestHost.ready(EmulatedNVMeConfiguration(namespaces: [
            EmulatedNamespace(blockSize: 512, capacityInBlocks: 4096), EmulatedNamespace(blockSize: 512, capacityInBlocks: 4096),
        ]))
        #expect(host.controller.setNamespaceAttached(2, false, notify: false))
        let buffer = try host.controller.dma.allocate(length: 4096)
        let read = queue.execute(readOne(2, lba: 0, into: buffer))
        #expect(read.status.matches(.invalidFieldInCommand))
        let beyond = queue.execute(readOne(3, lba: 0, into: buffer))
        #expect(beyond.status.matches(.invalidNamespaceOrFormat))
        buffer.fill([0xAA, 0xAA, 0xAA, 0xAA])
        var identify = SubmissionQueueEntry.identify(cns: .namespace, namespaceID: 2)
        identify.prp1 = buffer.iova.rawValue
        #expect(host.admin.execute(identify).status == .success)
        #expect(buffer.read(16) == [UInt8](repeating: 0, count: 16))
    }

    @Test func namespaceChangeRaisesOneNoticeUntilTheListIsReadWithRAEClear() throws {
        let host = try host()
        #expect(host.admin.execute(.setFeatures(.asynchronousEventConfiguration, cdw11: 0x100)).status == .success)
        host.admin.submit(.asynchronousEventRequest())
        host.admin.submit(.asynchronousEventRequest())
        #expect(try attachment(host, .detach, nsid: 2).status == .success)
        let first = host.admin.reap(1)
        #expect(first.first?.commandSpecific == 0x04_00_02)  // notice, Namespace Attribute Changed, log 04h
        #expect(host.controller.resizeNamespace(1, blocks: 2048))
        #expect(host.admin.drain().isEmpty)  // the list is not read yet: no second notice
        let retained = try changedList(host, retain: true)
        #expect(retained == ChangedNamespaceList(namespaceIDs: [2, 1]))
        #expect(try changedList(host, retain: false) == ChangedNamespaceList(namespaceIDs: [2, 1]))
        #expect(try changedList(host, retain: false) == ChangedNamespaceList(namespaceIDs: []))
        #expect(host.controller.resizeNamespace(1, blocks: 1024))
        #expect(host.admin.reap(1).first?.commandSpecific == 0x04_00_02)
    }

    @Test func resizeChangesNSZEAndTheLBARange() throws {
        let (host, queue) = try TestHost.ready()
        #expect(!host.controller.resizeNamespace(1, blocks: 0))
        #expect(!host.controller.resizeNamespace(1, blocks: 1 << 40))
        #expect(host.controller.resizeNamespace(1, blocks: 100))
        let buffer = try host.controller.dma.allocate(length: 4096)
        var identify = SubmissionQueueEntry.identify(cns: .namespace, namespaceID: 1)
        identify.prp1 = buffer.iova.rawValue
        #expect(host.admin.execute(identify).status == .success)
        #expect(try IdentifyNamespace(bytes: UnsafeRawBufferPointer(buffer.bytes)).size == 100)
        #expect(queue.execute(readOne(1, lba: 99, into: buffer)).status == .success)
        #expect(queue.execute(readOne(1, lba: 100, into: buffer)).status.matches(.lbaOutOfRange))
    }

    @Test func criticalWarningShowsInTheHealthLogAndRaisesASMARTEvent() throws {
        let host = try host()
        #expect(host.admin.execute(.setFeatures(.asynchronousEventConfiguration, cdw11: 0xFF)).status == .success)
        host.admin.submit(.asynchronousEventRequest())
        host.controller.setCriticalWarning(.availableSpareBelowThreshold)
        #expect(host.admin.reap(1).first?.commandSpecific == 0x02_02_01)  // SMART, spare below threshold, log 02h
        let buffer = try host.controller.dma.allocate(length: 4096)
        var log = SubmissionQueueEntry.getLogPage(.smartHealth, dwords: 128)
        log.prp1 = buffer.iova.rawValue
        #expect(host.admin.execute(log).status == .success)
        #expect(try SMARTHealthLog(bytes: UnsafeRawBufferPointer(buffer.bytes)).criticalWarning == .availableSpareBelowThreshold)
    }

    @Test func changedNamespaceListDecodingRejectsRepeatsAndStrayOverflowMarkers() throws {
        var bytes = [UInt8](repeating: 0, count: 4096)
        bytes[0] = 2; bytes[4] = 2
        #expect(throws: NVMeDataStructureError.self) { _ = try bytes.withUnsafeBytes { try ChangedNamespaceList(bytes: $0) } }
        bytes[4] = 0xFF; bytes[5] = 0xFF; bytes[6] = 0xFF; bytes[7] = 0xFF
        #expect(throws: NVMeDataStructureError.self) { _ = try bytes.withUnsafeBytes { try ChangedNamespaceList(bytes: $0) } }
        bytes[0...3] = [0xFF, 0xFF, 0xFF, 0xFF]
        #expect(try bytes.withUnsafeBytes { try ChangedNamespaceList(bytes: $0) } == ChangedNamespaceList(namespaceIDs: [], overflowed: true))
    }
}

extension NamespaceAttachmentTests {
    @Test func allocatedNamespaceListKeepsDetachedNamespacesAndDropsDeletedOnes() throws {
        let host = try host()
        #expect(try attachment(host, .detach, nsid: 2).status == .success)
        let data = try host.controller.dma.allocate(length: 4096)
        var sqe = SubmissionQueueEntry.identify(cns: .allocatedNamespaceList)
        sqe.prp1 = data.iova.rawValue
        #expect(host.admin.execute(sqe).status == .success)
        #expect(try ActiveNamespaceList(bytes: UnsafeRawBufferPointer(data.bytes)).namespaceIDs == [1, 2])
        #expect(host.admin.execute(.namespaceManagement(.delete, namespaceID: 1)).status == .success)
        #expect(host.admin.execute(sqe).status == .success)
        #expect(try ActiveNamespaceList(bytes: UnsafeRawBufferPointer(data.bytes)).namespaceIDs == [2])
        #expect(try activeList(host) == [])
    }
}
