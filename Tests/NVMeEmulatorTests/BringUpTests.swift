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

/// Controller registers: CAP from the configuration, the CC.EN/CSTS.RDY handshake, shutdown,
/// reset, and what an invalid enable does (NVMe base 1.4, 3.1 and 7.6).
@Suite struct BringUpTests {
    @Test func capabilitiesComeFromTheConfiguration() throws {
        let host = try TestHost(EmulatedNVMeConfiguration(
            maxQueueEntries: 255, doorbellStride: 3, memoryPageSizeMinimum: 0, memoryPageSizeMaximum: 2, timeout: 7))
        let cap = host.capabilities
        #expect(cap.maxQueueEntries == 255)
        #expect(cap.doorbellStride == 3)
        #expect(cap.memoryPageSizeMinimum == 0 && cap.memoryPageSizeMaximum == 2)
        #expect(cap.timeout == 7)
        #expect(cap.contiguousQueuesRequired)
        #expect(cap.supportsNVMCommandSet)
        #expect(NVMeVersion(rawValue: host.bar.load32(at: ControllerRegisterOffset.version.rawValue)) == .v1_4)
    }

    @Test func enableHandshakeSetsReady() throws {
        let host = try TestHost()
        #expect(!host.status.ready)
        try host.enable()
        #expect(host.status.ready)
        #expect(!host.status.controllerFatalStatus)
    }

    @Test func readyFollowsEnableAfterTheConfiguredDelay() throws {
        var configuration = EmulatedNVMeConfiguration()
        configuration.readyDelayNanoseconds = 20_000_000
        let host = try TestHost(configuration)
        let start = host.now()
        try host.enable()
        #expect(host.now() - start >= 20_000_000)
        #expect(host.status.ready)
    }

    @Test func disableResetsTheController() throws {
        let (host, _) = try TestHost.ready()
        host.configuration = ControllerConfiguration(enable: false)
        host.wait("CSTS.RDY = 0") { !host.status.ready }
        // The I/O queues are gone: after re-enabling, creating SQ 1 needs CQ 1 again.
        try host.enable()
        let sqMemory = try host.controller.dma.allocate(length: 4096)
        let cqe = host.adminCommand(.createIOSubmissionQueue(id: 1, size: 16, baseIOVA: sqMemory.iova.rawValue, completionQueue: 1))
        #expect(cqe.status.matches(.completionQueueInvalid))
    }

    @Test func normalShutdownReportsShutdownComplete() throws {
        let (host, _) = try TestHost.ready()
        var cc = host.configuration
        cc.shutdownNotification = .normal
        host.configuration = cc
        // One step in "occurring", then "complete" (NVMe base 1.4, 3.1.6 CSTS.SHST).
        host.controller.service()
        #expect(host.status.shutdownStatus == .occurring)
        host.wait("SHST complete") { host.status.shutdownStatus == .complete }
        // Disabling afterwards clears it.
        host.configuration = ControllerConfiguration(enable: false)
        host.wait("RDY 0") { !host.status.ready }
        #expect(host.status.shutdownStatus == .normal)
    }

    @Test func enableWithAPageSizeOutsideCAPSetsFatalStatus() throws {
        let host = try TestHost(EmulatedNVMeConfiguration(memoryPageSizeMinimum: 0, memoryPageSizeMaximum: 0))
        host.admin = nil
        let queue = try TestQueue(host: host, id: 0, entries: 8)
        host.bar.store32(AdminQueueAttributes(submissionQueueEntries: 8, completionQueueEntries: 8).rawValue,
                         at: ControllerRegisterOffset.adminQueueAttributes.rawValue)
        host.bar.store64(queue.submissionMemory.iova.rawValue, at: ControllerRegisterOffset.adminSubmissionQueueBase.rawValue)
        host.bar.store64(queue.completionMemory.iova.rawValue, at: ControllerRegisterOffset.adminCompletionQueueBase.rawValue)
        host.configuration = ControllerConfiguration(enable: true, memoryPageSize: 1)
        host.controller.service()
        #expect(!host.status.ready)
        #expect(host.status.controllerFatalStatus)
        #expect(host.controller.lastEnableError?.contains("MPS") == true)
        // A reset (CC.EN = 0) clears CFS.
        host.configuration = ControllerConfiguration(enable: false)
        host.controller.service()
        #expect(!host.status.controllerFatalStatus)
    }

    @Test func enableWithUnalignedAdminQueueSetsFatalStatus() throws {
        let host = try TestHost()
        host.bar.store32(AdminQueueAttributes(submissionQueueEntries: 8, completionQueueEntries: 8).rawValue,
                         at: ControllerRegisterOffset.adminQueueAttributes.rawValue)
        host.bar.store64(0x10_0800, at: ControllerRegisterOffset.adminSubmissionQueueBase.rawValue)
        host.bar.store64(0x20_0000, at: ControllerRegisterOffset.adminCompletionQueueBase.rawValue)
        host.configuration = ControllerConfiguration(enable: true)
        host.controller.service()
        #expect(host.status.controllerFatalStatus)
    }

    @Test func readOnlyRegistersIgnoreWrites() throws {
        let host = try TestHost()
        let cap = host.capabilities
        host.bar.store64(0, at: ControllerRegisterOffset.capabilities.rawValue)
        host.bar.store32(0xFFFF_FFFF, at: ControllerRegisterOffset.controllerStatus.rawValue)
        host.controller.service()
        #expect(host.capabilities == cap)
        #expect(host.status.rawValue == 0)
    }

    @Test func interruptMaskSetAndClear() throws {
        let host = try TestHost()
        host.bar.store32(0b101, at: ControllerRegisterOffset.interruptMaskSet.rawValue)
        host.controller.service()
        #expect(host.bar.load32(at: ControllerRegisterOffset.interruptMaskSet.rawValue) == 0b101)
        host.bar.store32(0b001, at: ControllerRegisterOffset.interruptMaskClear.rawValue)
        host.controller.service()
        #expect(host.bar.load32(at: ControllerRegisterOffset.interruptMaskSet.rawValue) == 0b100)
    }

    @Test func invalidConfigurationIsRefused() {
        var configuration = EmulatedNVMeConfiguration()
        configuration.namespaces = [EmulatedNamespace(blockSize: 1024, capacityInBlocks: 8)]
        #expect(throws: EmulatorError.self) { try EmulatedNVMeController(configuration: configuration) }
    }

    @Test func identifyControllerDescribesTheEmulator() throws {
        let host = try TestHost()
        try host.enable()
        let data = try host.controller.dma.allocate(length: 4096)
        var sqe = SubmissionQueueEntry.identify(cns: .controller)
        sqe.prp1 = data.iova.rawValue
        let cqe = host.adminCommand(sqe)
        #expect(cqe.status == .success)
        let id = try IdentifyController(bytes: UnsafeRawBufferPointer(data.bytes))
        #expect(id.vendorID == 0x1B36)
        #expect(id.numberOfNamespaces == 1)
        #expect(id.mdts == 5)
        #expect(id.sqes == 0x66 && id.cqes == 0x44)
        #expect(id.serialNumber == "EMU00000001")
        #expect(id.oncs.contains([.compare, .datasetManagement, .writeZeroes]))
        #expect(id.volatileWriteCachePresent)
        #expect(id.version == .v1_4)
    }

    @Test func writeThenReadRoundTrips() throws {
        let (host, queue) = try TestHost.ready()
        let buffer = try host.controller.dma.allocate(length: 8192)
        let data = pattern(8192, seed: 1)
        buffer.fill(data)
        var write = SubmissionQueueEntry.write(namespaceID: 1, lba: 10, blocks: 16)
        write.prp1 = buffer.iova.rawValue
        write.prp2 = buffer.iova.rawValue + 4096
        #expect(queue.execute(write).status == .success)
        let readBuffer = try host.controller.dma.allocate(length: 8192)
        var read = SubmissionQueueEntry.read(namespaceID: 1, lba: 10, blocks: 16)
        read.prp1 = readBuffer.iova.rawValue
        read.prp2 = readBuffer.iova.rawValue + 4096
        #expect(queue.execute(read).status == .success)
        #expect(readBuffer.read(8192) == data)
    }
}
