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
#if canImport(Glibc)
import Glibc
#endif

/// NVM I/O commands, PRP rules (NVMe base 1.4, 4.3), MDTS, LBA range, block sizes.
@Suite struct IOCommandTests {
    /// Writes `data` at `lba` through PRPs built by `buildPRPs`, reads it back into a fresh buffer
    /// at `readOffset`, and returns what came back.
    func roundTrip(_ host: TestHost, _ queue: TestQueue, nsid: UInt32 = 1, lba: UInt64, blocks: Int, blockSize: Int,
                   writeOffset: Int = 0, readOffset: Int = 0, listOffset: Int = 0, seed: UInt64 = 7) throws -> ([UInt8], [UInt8]) {
        let length = blocks * blockSize
        let data = pattern(length, seed: seed)
        let source = try host.controller.dma.allocate(length: length + writeOffset + 4096)
        let sink = try host.controller.dma.allocate(length: length + readOffset + 4096)
        let lists = try host.controller.dma.allocate(length: 4 * 4096)
        source.fill(data, at: writeOffset)
        var write = SubmissionQueueEntry.write(namespaceID: nsid, lba: lba, blocks: blocks)
        (write.prp1, write.prp2) = buildPRPs(buffer: source, offset: writeOffset, length: length, list: lists, listOffset: listOffset)
        let w = queue.execute(write)
        #expect(w.status == .success, "write: \(w.status)")
        var read = SubmissionQueueEntry.read(namespaceID: nsid, lba: lba, blocks: blocks)
        (read.prp1, read.prp2) = buildPRPs(buffer: sink, offset: readOffset, length: length, list: lists, listOffset: listOffset + 2048)
        let r = queue.execute(read)
        #expect(r.status == .success, "read: \(r.status)")
        return (data, sink.read(length, at: readOffset))
    }

    @Test func prp1OnlyTransfer() throws {
        let (host, queue) = try TestHost.ready()
        let (written, read) = try roundTrip(host, queue, lba: 3, blocks: 8, blockSize: 512)
        #expect(written == read)
    }

    @Test func prp1AndPRP2Transfer() throws {
        let (host, queue) = try TestHost.ready()
        let (written, read) = try roundTrip(host, queue, lba: 100, blocks: 16, blockSize: 512)
        #expect(written == read)
    }

    @Test func offsetInTheFirstPage() throws {
        let (host, queue) = try TestHost.ready()
        // 4 KiB starting 512 bytes into a page spans two pages: PRP1 with offset, PRP2 the next page.
        let (written, read) = try roundTrip(host, queue, lba: 9, blocks: 8, blockSize: 512, writeOffset: 512, readOffset: 1028)
        #expect(written == read)
        // 12 KiB starting mid-page needs a PRP list.
        let (w2, r2) = try roundTrip(host, queue, lba: 50, blocks: 24, blockSize: 512, writeOffset: 2048, readOffset: 4)
        #expect(w2 == r2)
    }

    @Test func prpListSpansManyPages() throws {
        let (host, queue) = try TestHost.ready()
        let (written, read) = try roundTrip(host, queue, lba: 1000, blocks: 256, blockSize: 512)  // 128 KiB = MDTS
        #expect(written == read)
    }

    @Test func chainedPRPLists() throws {
        let (host, queue) = try TestHost.ready()
        // The first list starts 24 bytes before its page ends: two data entries and a chain pointer.
        let (written, read) = try roundTrip(host, queue, lba: 7, blocks: 64, blockSize: 512, listOffset: 4096 - 24)
        #expect(written == read)
    }

    @Test func fourKiBNamespace() throws {
        let configuration = EmulatedNVMeConfiguration(namespaces: [EmulatedNamespace(blockSize: 4096, capacityInBlocks: 256)])
        let (host, queue) = try TestHost.ready(configuration)
        let (written, read) = try roundTrip(host, queue, lba: 250, blocks: 6, blockSize: 4096, writeOffset: 256)
        #expect(written == read)
        let out = queue.execute(.read(namespaceID: 1, lba: 250, blocks: 7))
        #expect(out.status.matches(.lbaOutOfRange))
    }

    @Test func namespacesAreIndependent() throws {
        let configuration = EmulatedNVMeConfiguration(namespaces: [
            EmulatedNamespace(blockSize: 512, capacityInBlocks: 1024),
            EmulatedNamespace(blockSize: 4096, capacityInBlocks: 128),
        ])
        let (host, queue) = try TestHost.ready(configuration)
        let (w1, r1) = try roundTrip(host, queue, nsid: 1, lba: 0, blocks: 8, blockSize: 512, seed: 1)
        let (w2, r2) = try roundTrip(host, queue, nsid: 2, lba: 0, blocks: 1, blockSize: 4096, seed: 2)
        #expect(w1 == r1 && w2 == r2)
        // Namespace 1 still holds its own data.
        let sink = try host.controller.dma.allocate(length: 4096)
        var read = SubmissionQueueEntry.read(namespaceID: 1, lba: 0, blocks: 8)
        read.prp1 = sink.iova.rawValue
        #expect(queue.execute(read).status == .success)
        #expect(sink.read(4096) == w1)
    }

    @Test func mdtsExceededIsInvalidField() throws {
        let (host, queue) = try TestHost.ready()
        let buffer = try host.controller.dma.allocate(length: 4096)
        var read = SubmissionQueueEntry.read(namespaceID: 1, lba: 0, blocks: 257)  // 128.5 KiB > 2^5 * 4 KiB
        read.prp1 = buffer.iova.rawValue
        let cqe = queue.execute(read)
        #expect(cqe.status.matches(.invalidFieldInCommand))
        #expect(cqe.status.doNotRetry)
    }

    @Test func lbaOutOfRange() throws {
        let (_, queue) = try TestHost.ready()
        #expect(queue.execute(.read(namespaceID: 1, lba: 131072, blocks: 1)).status.matches(.lbaOutOfRange))
        #expect(queue.execute(.write(namespaceID: 1, lba: 131071, blocks: 2)).status.matches(.lbaOutOfRange))
        // SLBA near 2^64 must not wrap around into range.
        #expect(queue.execute(.read(namespaceID: 1, lba: UInt64.max, blocks: 2)).status.matches(.lbaOutOfRange))
        #expect(queue.execute(.writeZeroes(namespaceID: 1, lba: 131000, blocks: 100)).status.matches(.lbaOutOfRange))
    }

    @Test func invalidNamespaceAndOpcode() throws {
        let (_, queue) = try TestHost.ready()
        #expect(queue.execute(.read(namespaceID: 0, lba: 0, blocks: 1)).status.matches(.invalidNamespaceOrFormat))
        #expect(queue.execute(.read(namespaceID: 2, lba: 0, blocks: 1)).status.matches(.invalidNamespaceOrFormat))
        #expect(queue.execute(.flush(namespaceID: 5)).status.matches(.invalidNamespaceOrFormat))
        #expect(queue.execute(SubmissionQueueEntry(opcode: 0x7E, namespaceID: 1)).status.matches(.invalidCommandOpcode))
        #expect(queue.execute(SubmissionQueueEntry(opcode: IOOpcode.verify.rawValue, namespaceID: 1)).status.matches(.invalidCommandOpcode))
        var sgl = SubmissionQueueEntry.read(namespaceID: 1, lba: 0, blocks: 1)
        sgl.dataPointerType = 1
        #expect(queue.execute(sgl).status.matches(.invalidFieldInCommand))
    }

    @Test func prpOffsetRulesAreEnforced() throws {
        let (host, queue) = try TestHost.ready()
        let buffer = try host.controller.dma.allocate(length: 4 * 4096)
        let list = try host.controller.dma.allocate(length: 4096)
        // PRP1 not dword aligned.
        var a = SubmissionQueueEntry.read(namespaceID: 1, lba: 0, blocks: 1)
        a.prp1 = buffer.iova.rawValue + 2
        #expect(queue.execute(a).status.matches(.prpOffsetInvalid))
        // PRP2 (second page) with an offset.
        var b = SubmissionQueueEntry.read(namespaceID: 1, lba: 0, blocks: 16)
        b.prp1 = buffer.iova.rawValue
        b.prp2 = buffer.iova.rawValue + 4096 + 512
        #expect(queue.execute(b).status.matches(.prpOffsetInvalid))
        // A list entry with an offset.
        list.address.storeBytes(of: buffer.iova.rawValue + 4096, toByteOffset: 0, as: UInt64.self)
        list.address.storeBytes(of: buffer.iova.rawValue + 8192 + 8, toByteOffset: 8, as: UInt64.self)
        var c = SubmissionQueueEntry.read(namespaceID: 1, lba: 0, blocks: 24)
        c.prp1 = buffer.iova.rawValue
        c.prp2 = list.iova.rawValue
        #expect(queue.execute(c).status.matches(.prpOffsetInvalid))
    }

    @Test func compareSucceedsAndFails() throws {
        let (host, queue) = try TestHost.ready()
        let (written, _) = try roundTrip(host, queue, lba: 40, blocks: 8, blockSize: 512, seed: 3)
        let buffer = try host.controller.dma.allocate(length: 4096)
        buffer.fill(written)
        var compare = SubmissionQueueEntry.compare(namespaceID: 1, lba: 40, blocks: 8)
        compare.prp1 = buffer.iova.rawValue
        #expect(queue.execute(compare).status == .success)
        buffer.fill([written[4000] ^ 0xFF], at: 4000)
        let failure = queue.execute(compare)
        #expect(failure.status.matches(.compareFailure))
        #expect(failure.status.codeType == .mediaAndDataIntegrity)
    }

    @Test func datasetManagementDeallocateThenReadZeroes() throws {
        let (host, queue) = try TestHost.ready()
        _ = try roundTrip(host, queue, lba: 0, blocks: 128, blockSize: 512, seed: 4)
        let ranges = try host.controller.dma.allocate(length: 4096)
        let deallocate = [DatasetManagementRange(lengthInBlocks: 16, startingLBA: 8), DatasetManagementRange(lengthInBlocks: 8, startingLBA: 100)]
        for (i, r) in deallocate.enumerated() {
            try r.encode(into: UnsafeMutableRawBufferPointer(start: ranges.address + 16 * i, count: 16))
        }
        var dsm = SubmissionQueueEntry.datasetManagement(namespaceID: 1, ranges: 2)
        dsm.prp1 = ranges.iova.rawValue
        #expect(queue.execute(dsm).status == .success)
        let sink = try host.controller.dma.allocate(length: 65536)
        let lists = try host.controller.dma.allocate(length: 4096)
        var read = SubmissionQueueEntry.read(namespaceID: 1, lba: 0, blocks: 128)
        (read.prp1, read.prp2) = buildPRPs(buffer: sink, offset: 0, length: 65536, list: lists)
        #expect(queue.execute(read).status == .success)
        let back = sink.read(65536)
        let original = pattern(65536, seed: 4)
        for block in 0..<128 {
            let slice = Array(back[block * 512..<(block + 1) * 512])
            let zeroed = (8..<24).contains(block) || (100..<108).contains(block)
            #expect(slice == (zeroed ? [UInt8](repeating: 0, count: 512) : Array(original[block * 512..<(block + 1) * 512])), "block \(block)")
        }
        // A range past the end changes nothing and fails.
        try DatasetManagementRange(lengthInBlocks: 8, startingLBA: 131070).encode(into: UnsafeMutableRawBufferPointer(start: ranges.address, count: 16))
        var bad = SubmissionQueueEntry.datasetManagement(namespaceID: 1, ranges: 1)
        bad.prp1 = ranges.iova.rawValue
        #expect(queue.execute(bad).status.matches(.lbaOutOfRange))
    }

    @Test func writeZeroesClearsBlocks() throws {
        let (host, queue) = try TestHost.ready()
        let (written, _) = try roundTrip(host, queue, lba: 200, blocks: 8, blockSize: 512, seed: 5)
        #expect(queue.execute(.writeZeroes(namespaceID: 1, lba: 202, blocks: 2)).status == .success)
        let sink = try host.controller.dma.allocate(length: 4096)
        var read = SubmissionQueueEntry.read(namespaceID: 1, lba: 200, blocks: 8)
        read.prp1 = sink.iova.rawValue
        #expect(queue.execute(read).status == .success)
        var expected = written
        expected.replaceSubrange(1024..<2048, with: [UInt8](repeating: 0, count: 1024))
        #expect(sink.read(4096) == expected)
        // No data transfer, so MDTS does not limit it.
        #expect(queue.execute(.writeZeroes(namespaceID: 1, lba: 0, blocks: 65536)).status == .success)
    }

    @Test func flushOneAndAllNamespaces() throws {
        let (_, queue) = try TestHost.ready()
        #expect(queue.execute(.flush(namespaceID: 1)).status == .success)
        #expect(queue.execute(.flush(namespaceID: 0xFFFF_FFFF)).status == .success)
    }

    @Test func sparseFileBackingRoundTripsAndPunchesHoles() throws {
        let path = "/tmp/emu-test-\(UInt32.random(in: 0...UInt32.max)).img"
        defer { _ = path.withCString { unlink($0) } }
        let configuration = EmulatedNVMeConfiguration(namespaces: [
            EmulatedNamespace(blockSize: 4096, capacityInBlocks: 1 << 18, backing: .sparseFile(path: path)),  // 1 GiB
        ])
        let (host, queue) = try TestHost.ready(configuration)
        #expect((host.controller.allocatedBytes(namespace: 1) ?? .max) < 65536)
        let (written, read) = try roundTrip(host, queue, lba: 1000, blocks: 16, blockSize: 4096)
        #expect(written == read)
        let used = host.controller.allocatedBytes(namespace: 1) ?? 0
        #expect(used >= 65536)
        #expect(queue.execute(.writeZeroes(namespaceID: 1, lba: 1000, blocks: 16, deallocate: true)).status == .success)
        #expect((host.controller.allocatedBytes(namespace: 1) ?? .max) < used)
    }

    @Test func eightKiBHostPages() throws {
        let host = try TestHost(EmulatedNVMeConfiguration(memoryPageSizeMinimum: 0, memoryPageSizeMaximum: 1))
        try host.enable(pageSizeExponent: 1)
        #expect(host.configuration.memoryPageSizeBytes == 8192)
        _ = host.setNumberOfQueues(1)
        let queue = try host.createQueuePair(id: 1, entries: 16)
        let source = try host.controller.dma.allocate(length: 64 * 1024, alignment: 8192)
        let lists = try host.controller.dma.allocate(length: 8192, alignment: 8192)
        let data = pattern(40 * 1024, seed: 21)
        source.fill(data, at: 4096)
        // 40 KiB from 4 KiB into an 8 KiB page: PRP1 covers 4 KiB, then a list of 8 KiB pages.
        var write = SubmissionQueueEntry.write(namespaceID: 1, lba: 0, blocks: 80)
        (write.prp1, write.prp2) = buildPRPs(buffer: source, offset: 4096, length: data.count, list: lists, pageSize: 8192)
        #expect(queue.execute(write).status == .success)
        let sink = try host.controller.dma.allocate(length: 64 * 1024, alignment: 8192)
        var read = SubmissionQueueEntry.read(namespaceID: 1, lba: 0, blocks: 80)
        (read.prp1, read.prp2) = buildPRPs(buffer: sink, offset: 0, length: data.count, list: lists, pageSize: 8192)
        #expect(queue.execute(read).status == .success)
        #expect(sink.read(data.count) == data)
        // A 4 KiB-aligned second page is not 8 KiB aligned: PRP Offset Invalid.
        var bad = SubmissionQueueEntry.read(namespaceID: 1, lba: 0, blocks: 32)
        bad.prp1 = sink.iova.rawValue
        bad.prp2 = sink.iova.rawValue + 8192 + 4096
        #expect(queue.execute(bad).status.matches(.prpOffsetInvalid))
    }
}
