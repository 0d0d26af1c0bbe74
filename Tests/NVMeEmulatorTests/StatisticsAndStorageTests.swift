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

@Suite struct StatisticsAndStorageTests {
    @Test func statisticsCountCommandsFailuresAndBytes() throws {
        let (host, queue) = try TestHost.ready()
        let buffer = try host.controller.dma.allocate(length: 8192)
        var w = SubmissionQueueEntry.write(namespaceID: 1, lba: 0, blocks: 16)
        w.prp1 = buffer.iova.rawValue
        w.prp2 = buffer.iova.rawValue + 4096
        #expect(queue.execute(w).status == .success)
        #expect(queue.execute(.read(namespaceID: 1, lba: 1 << 30, blocks: 1)).status.matches(.lbaOutOfRange))
        let stats = host.controller.statistics
        #expect(stats.io(IOOpcode.write.rawValue) == { var s = OpcodeStatistics(); s.commands = 1; s.bytesTransferred = 8192; return s }())
        #expect(stats.io(IOOpcode.read.rawValue).commands == 1 && stats.io(IOOpcode.read.rawValue).failures == 1)
        #expect(stats.admin(AdminOpcode.createIOSubmissionQueue.rawValue).commands == 1)
        #expect(stats.admin(AdminOpcode.setFeatures.rawValue).commands == 1)
        #expect(stats.completionsPosted == 5)  // 3 admin + 2 I/O
        #expect(stats.doorbellWrites >= 5)
    }

    /// NVMe namespaces can be huge and mostly empty; the emulator must only pay for what is written.
    @Test func oneTebibyteNamespaceWrittenSparselyStaysSmall() throws {
        let configuration = EmulatedNVMeConfiguration(namespaces: [EmulatedNamespace(blockSize: 4096, capacityInBlocks: 1 << 28)])  // 1 TiB
        let (host, queue) = try TestHost.ready(configuration)
        let buffer = try host.controller.dma.allocate(length: 4096)
        var generator = SeededGenerator(seed: 99)
        var written: [UInt64] = []
        for i in 0..<200 {
            let lba = generator.next() % (1 << 28)
            buffer.fill(pattern(4096, seed: UInt64(i)))
            var w = SubmissionQueueEntry.write(namespaceID: 1, lba: lba, blocks: 1)
            w.prp1 = buffer.iova.rawValue
            #expect(queue.execute(w).status == .success)
            written.append(lba)
        }
        let used = try #require(host.controller.allocatedBytes(namespace: 1))
        #expect(used <= 200 * 65536)
        // The last block reads back; a never-written block reads as zeroes.
        var r = SubmissionQueueEntry.read(namespaceID: 1, lba: written.last!, blocks: 1)
        r.prp1 = buffer.iova.rawValue
        #expect(queue.execute(r).status == .success)
        #expect(buffer.read(4096) == pattern(4096, seed: 199))
        r.cdw10 = UInt32(truncatingIfNeeded: (written.last! + 1) % (1 << 28))
        // Deallocating everything written gives the memory back.
        for lba in written {
            #expect(queue.execute(.writeZeroes(namespaceID: 1, lba: lba & ~15, blocks: 16, deallocate: true)).status == .success)
        }
        #expect(host.controller.allocatedBytes(namespace: 1) == 0)
    }

    @Test func identifyNamespaceUtilizationFollowsWrites() throws {
        let (host, queue) = try TestHost.ready()
        let buffer = try host.controller.dma.allocate(length: 4096)
        var w = SubmissionQueueEntry.write(namespaceID: 1, lba: 0, blocks: 8)
        w.prp1 = buffer.iova.rawValue
        #expect(queue.execute(w).status == .success)
        var id = SubmissionQueueEntry.identify(cns: .namespace, namespaceID: 1)
        id.prp1 = buffer.iova.rawValue
        #expect(host.adminCommand(id).status == .success)
        let ns = try IdentifyNamespace(bytes: UnsafeRawBufferPointer(buffer.bytes))
        #expect(ns.thinProvisioning)
        #expect(ns.utilization == 128)  // one 64 KiB chunk of 512-byte blocks
    }
}
