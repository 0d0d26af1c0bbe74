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

import Logging
import NVMe
import NVMeEmulator
import Synchronization
import Testing
import VFIO
#if canImport(Glibc)
import Glibc
#endif

/// Issue 16 items 5-9 and 11: bounded admin drain, no eventfd use after close, command id
/// generations, one bad namespace does not fail bring-up, no trap on device or caller arithmetic,
/// a failed unmap is never recycled.
@Suite struct LifecycleHardeningTests {
    // MARK: Item 5

    @Test func adminCompletionFloodCannotHoldAnAdminCommandPastItsTimeout() throws {
        // Threaded: the device writes ring after ring while the driver drains.
        let rig = try QuiesceRig(mode: .threaded)
        rig.device.setFaultPlan(FaultPlan(rules: [.admin(.getFeatures, .nth(1), .floodAdminCompletions)]))
        var thrown: NVMeError?
        let ms = millisecondsTaken {
            do { _ = try rig.controller.feature(.numberOfQueues) } catch { thrown = error as? NVMeError }
        }
        guard case .timedOut = thrown else {
            Issue.record("expected a timeout, got \(String(describing: thrown))")
            return
        }
        #expect(ms < timeBound(2000), "took \(ms) ms (admin timeout 200 ms)")
        // The quiesce (CC.EN = 0) stopped the flood; close does not hang either.
        #expect(rig.controller.status.ready == false)
        let closeMs = millisecondsTaken { try? rig.controller.close() }
        #expect(closeMs < timeBound(2000))
    }

    // MARK: Item 6

    @Test func queuePairUsedAfterCloseSeesClosedAndNeverTouchesAReusedDescriptor() throws {
        let rig = try QuiesceRig()
        var pair = try rig.controller.makeQueuePair(interrupts: true)
        let buffer = try rig.device.dma.allocate(length: 4096)
        rig.device.setFaultPlan(FaultPlan(rules: [.io(.read, .nth(1), .dropCompletion)]))
        try pair.submitRead(namespace: rig.controller.namespaces[0], lba: 0, blocks: 8, into: buffer.whole, token: 1)
        pair.ringSubmissionDoorbell()
        let vectorFD = rig.device.interruptEventFD(vector: Int(pair.id))
        try? rig.controller.close()
        // The pair still holds the vector: its eventfd is not closed under it, so a file the
        // process opens now cannot get that number.
        #expect(rig.device.interruptEventFD(vector: Int(pair.id)) == vectorFD)
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        #expect(!fds.contains(vectorFD ?? -1))
        var byte: UInt64 = 7
        #expect(write(fds[1], &byte, 8) == 8)
        #expect(throws: NVMeError.closed) {
            _ = try pair.waitForCompletions(atLeast: 1, mode: .interrupt, timeoutMilliseconds: 500) { _ in }
        }
        // The pipe's bytes were not drained as if they were interrupts.
        var readable = pollfd(fd: fds[0], events: Int16(POLLIN), revents: 0)
        #expect(poll(&readable, 1, 0) == 1)
        // The last pair going releases the vectors.
        _ = consume pair
        #expect(rig.device.interruptEventFD(vector: 1) == nil)
    }

    // MARK: Item 7

    @Test func staleCompletionAfterCommandIDReuseIsRejected() throws {
        let rig = try QuiesceRig()
        var pair = try rig.controller.makeQueuePair(interrupts: false)
        let info = rig.controller.namespaces[0]
        let data = try patternBuffer(rig.device.dma, bytes: 4096, seed: 16)
        try rig.controller.namespace(1).write(lba: 0, blocks: 8, from: data.whole)
        // The first Read fails with a status of its own, and its completion comes again once the
        // next command is fetched from the queue.
        rig.device.setFaultPlan(FaultPlan(rules: [
            .io(.read, .nth(1), .completeWithStatus(.unrecoveredReadError)), .io(.read, .nth(1), .staleCompletionOnReuse),
        ]))
        let back = try rig.device.dma.allocate(length: 4096)
        var statuses: [UInt64: NVMeStatus] = [:]
        let first = try pair.submitRead(namespace: info, lba: 0, blocks: 8, into: back.whole, token: 1)
        pair.ringSubmissionDoorbell()
        _ = try pair.waitForCompletions(atLeast: 1, timeoutMilliseconds: 1000) { statuses[$0.token] = $0.status }
        let second = try pair.submitRead(namespace: info, lba: 0, blocks: 8, into: back.whole, token: 2)
        pair.ringSubmissionDoorbell()
        _ = try pair.waitForCompletions(atLeast: 1, timeoutMilliseconds: 1000) { statuses[$0.token] = $0.status }
        #expect(statuses[1] == .unrecoveredReadError)
        // The slot was reused, the id was not: the stale entry names the old generation.
        #expect(first & 0xF == second & 0xF && first != second)
        #expect(statuses[2] == .success)
        #expect(pair.statistics.invalidCompletions == 1)
        #expect(equalBytes(data.whole, back.whole))
    }

    // MARK: Item 8

    @Test func namespaceWhoseIdentifyFailsIsListedUnusableAndTheOthersWork() throws {
        var configuration = EmulatedNVMeConfiguration(namespaces: [
            EmulatedNamespace(blockSize: 512, capacityInBlocks: 4096), EmulatedNamespace(blockSize: 512, capacityInBlocks: 4096),
        ])
        // Identify 1: controller, 2: active namespace list, 3: namespace 1, 4: namespace 2.
        configuration.faultPlan = FaultPlan(rules: [.admin(.identify, .nth(4), .completeWithStatus(.internalError))])
        let device = try EmulatedNVMeController(configuration: configuration)
        let controller = try Controller(device: device)
        #expect(controller.namespaces.map(\.id) == [1])
        #expect(controller.unusableNamespaces[2]?.contains("Identify Namespace 2") == true)
        let buffer = try patternBuffer(device.dma, bytes: 4096, seed: 3)
        try controller.namespace(1).write(lba: 0, blocks: 8, from: buffer.whole)
        #expect(throws: NVMeError.namespaceUnusable(2, reason: controller.unusableNamespaces[2]!)) { _ = try controller.namespace(2) }
        try controller.close()
    }

    @Test func controllerWithoutActiveNamespaceListSkipsInactiveNamespaceIDs() throws {
        var configuration = EmulatedNVMeConfiguration(namespaces: [
            EmulatedNamespace(blockSize: 512, capacityInBlocks: 4096), EmulatedNamespace(blockSize: 512, capacityInBlocks: 4096),
        ])
        // CNS 02h refused (a 1.0 controller), then NSID 2 answers as inactive.
        configuration.faultPlan = FaultPlan(rules: [
            .admin(.identify, .nth(2), .completeWithStatus(.invalidFieldInCommand)),
            .admin(.identify, .nth(4), .completeWithStatus(.invalidNamespaceOrFormat)),
        ])
        let device = try EmulatedNVMeController(configuration: configuration)
        let controller = try Controller(device: device)
        #expect(controller.namespaces.map(\.id) == [1])
        #expect(controller.unusableNamespaces.isEmpty)
        try controller.close()
    }

    // MARK: Item 9

    /// A namespace that reports 2^47 blocks of 64 KiB in Identify: 2^63 bytes, which fits the
    /// namespace size (UInt64) but not an Int. Nothing is transferred; the checks come first.
    static func hugeNamespaceRig() throws -> (EmulatedNVMeController, Controller<EmulatedNVMeController>) {
        let device = try EmulatedNVMeController(configuration: EmulatedNVMeConfiguration(maxDataTransferSize: 5))
        var ns = IdentifyNamespace()
        ns.size = 1 << 47
        ns.capacity = 1 << 47
        ns.lbaFormats = [LBAFormat(lbaDataSize: 16)]
        device.setIdentifyData(cns: .namespace, try ns.encoded())
        return (device, try Controller(device: device))
    }

    @Test func blockingTransferOfMoreBytesThanAnIntHoldsIsAnErrorNotATrap() throws {
        let (device, controller) = try Self.hugeNamespaceRig()
        let ns = try controller.namespace(1)
        let buffer = try device.dma.allocate(length: 65536)
        #expect(throws: NVMeError.bufferTooSmall(needed: .max, actual: 65536)) {
            try ns.read(lba: 0, blocks: 1 << 47, into: buffer.whole)
        }
    }

    @Test func asyncTransferWhoseByteCountWrapsIsAnErrorNotATrap() async throws {
        let (device, controller) = try Self.hugeNamespaceRig()
        let ns = try controller.namespace(1)
        let buffer = try device.dma.allocate(length: 65536)
        await #expect(throws: NVMeError.bufferTooSmall(needed: .max, actual: 65536)) {
            try await ns.read(lba: 0, blocks: 1 << 47, into: buffer.whole)
        }
        try controller.close()
    }

    // MARK: Item 11

    /// A mapper whose unmaps fail (the IOMMU refused, or the mapping is in an unknown state).
    final class RefusingMapper: DMAMapper {
        let iovaRanges: [Range<UInt64>] = [0x10_0000..<0x1000_0000]
        let mappingLimit: Int? = nil
        let pinsMemory = false
        let refuse = Atomic<Bool>(false)
        func map(address: UnsafeMutableRawPointer, length: Int, iova: IOVA) throws(VFIOError) {}
        func unmap(iova: IOVA, length: Int) throws(VFIOError) {
            if refuse.load(ordering: .relaxed) { throw .system(operation: "VFIO_IOMMU_UNMAP_DMA", errno: EINVAL) }
        }
    }

    @Test func failedUnmapIsNeverRecycledAndIsLoggedAtWarning() throws {
        let log = LogCapture()
        let mapper = RefusingMapper()
        let allocator = DMAAllocator(mapper: mapper, policy: DMAMemoryPolicy(hugepages: .never), logger: log.logger)
        let iova: IOVA
        do {
            let buffer = try allocator.allocate(length: 4096)
            iova = buffer.iova
            mapper.refuse.store(true, ordering: .relaxed)
        }
        #expect(allocator.unmapFailures == 1 && allocator.keptMappings == 1 && allocator.keptBytes == 4096)
        #expect(log.contains(.warning, "DMA unmap of 4096 bytes at IOVA \(iova) failed"))
        // The IOVA is still taken: the next buffer gets another one.
        mapper.refuse.store(false, ordering: .relaxed)
        let next = try allocator.allocate(length: 4096)
        #expect(next.iova != iova)
    }
}
