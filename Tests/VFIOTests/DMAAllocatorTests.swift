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

import Testing
@testable import VFIO

@Suite struct DMAAllocatorTests {
    let policy = DMAMemoryPolicy(hugepages: .never)

    @Test func allocationMapsOnceAndReleaseUnmapsTheSameRange() throws {
        let mapper = FakeMapper()
        let allocator = DMAAllocator(mapper: mapper, policy: policy)
        var mapped: FakeMapper.Mapping?
        do {
            let buffer = try allocator.allocate(length: 4096)
            #expect(mapper.mapCount == 1 && mapper.unmapCount == 0)
            mapped = mapper.log.withLock { $0.maps.first }
            #expect(mapped == FakeMapper.Mapping(address: UInt(bitPattern: buffer.address), length: 4096, iova: buffer.iova.rawValue))
            #expect(allocator.liveMappings == 1 && allocator.mappedBytes == 4096)
        }
        #expect(mapper.unmapCount == 1)
        #expect(mapper.log.withLock { $0.unmaps.first } == mapped)
        #expect(allocator.liveMappings == 0 && allocator.mappedBytes == 0)
        #expect(mapper.live.isEmpty)
    }

    @Test func lengthRoundsUpToWholePages() throws {
        let allocator = DMAAllocator(mapper: FakeMapper(), policy: policy)
        let buffer = try allocator.allocate(length: 5000)
        #expect(buffer.length == 8192)
    }

    @Test func iovaHonoursTheRequestedAlignment() throws {
        let allocator = DMAAllocator(mapper: FakeMapper(ranges: [0x1000..<0x100_0000]), policy: policy)
        let small = try allocator.allocate(length: 4096)
        let aligned = try allocator.allocate(length: 4096, alignment: 64 << 10)
        #expect(small.iova.rawValue % 4096 == 0)
        #expect(aligned.iova.rawValue % (64 << 10) == 0)
        #expect(aligned.iova != small.iova)
    }

    @Test func memoryIsZeroedAndWritable() throws {
        let allocator = DMAAllocator(mapper: FakeMapper(), policy: policy)
        let buffer = try allocator.allocate(length: 3 * 4096)
        #expect(buffer.bytes.allSatisfy { $0 == 0 })
        buffer.withUnsafeMutableBytes { _ = $0.initializeMemory(as: UInt8.self, repeating: 0x5a) }
        #expect(buffer.bytes.allSatisfy { $0 == 0x5a })
    }

    @Test func failedMapGivesTheIOVABackAndThrows() throws {
        let mapper = FakeMapper()
        let allocator = DMAAllocator(mapper: mapper, policy: policy)
        mapper.log.withLock { $0.failNextMap = true }
        #expect(throws: VFIOError.system(operation: "fake map", errno: 12)) { _ = try allocator.allocate(length: 4096) }
        #expect(allocator.liveMappings == 0 && allocator.mappedBytes == 0)
        // The IOVA it would have used is free again: the next allocation gets it.
        let buffer = try allocator.allocate(length: 4096)
        #expect(buffer.iova.rawValue == mapper.iovaRanges[0].lowerBound)
    }

    @Test func exhaustedIOVASpaceThrowsUntilABufferIsReleased() throws {
        let allocator = DMAAllocator(mapper: FakeMapper(ranges: [0x1000..<0x3000]), policy: policy)
        let first = try allocator.allocate(length: 4096)
        let freed: IOVA
        do {
            let second = try allocator.allocate(length: 4096)
            freed = second.iova
            #expect(throws: VFIOError.iovaExhausted(requested: 4096)) { _ = try allocator.allocate(length: 4096) }
        }
        let third = try allocator.allocate(length: 4096)
        #expect(third.iova == freed)
        #expect(first.iova != third.iova)
    }

    @Test func mapperMappingLimitIsHonoured() throws {
        let allocator = DMAAllocator(mapper: FakeMapper(mappingLimit: 2), policy: policy)
        let a = try allocator.allocate(length: 4096)
        let b = try allocator.allocate(length: 4096)
        #expect(throws: VFIOError.self) { _ = try allocator.allocate(length: 4096) }
        #expect(a.iova != b.iova)
    }

    @Test func slicesOffsetAddressAndIOVATogether() throws {
        let allocator = DMAAllocator(mapper: FakeMapper(), policy: policy)
        let buffer = try allocator.allocate(length: 8192)
        let slice = buffer.slice(offset: 4096, length: 512)
        #expect(slice.address == buffer.address + 4096)
        #expect(slice.iova == buffer.iova + 4096)
        let inner = slice.slice(offset: 256, length: 256)
        #expect(inner.iova == buffer.iova + 4352)
    }

    @Test(.enabled(if: freeHugepages() == 0, "this host has free 2 MiB hugepages"))
    func requiredHugepagesWithoutAnyReservedThrowsNoHugepages() {
        let allocator = DMAAllocator(mapper: FakeMapper(), policy: DMAMemoryPolicy(hugepages: .required))
        #expect(throws: VFIOError.noHugepages) { _ = try allocator.allocate(length: 2 << 20) }
        #expect(allocator.liveMappings == 0)
    }

    @Test(.enabled(if: freeHugepages() == 0, "this host has free 2 MiB hugepages"))
    func preferredHugepagesFallBackToSmallPages() throws {
        let allocator = DMAAllocator(mapper: FakeMapper(), policy: DMAMemoryPolicy(hugepages: .preferred))
        let buffer = try allocator.allocate(length: 2 << 20)
        #expect(buffer.length == 2 << 20)
    }
}

@Suite struct DMASlabTests {
    let policy = DMAMemoryPolicy(hugepages: .never)

    @Test func slabIsOneMappingOfAlignedChunks() throws {
        let mapper = FakeMapper()
        let allocator = DMAAllocator(mapper: mapper, policy: policy)
        let slab = try DMASlab(allocator: allocator, chunkSize: 3000, count: 8)
        #expect(mapper.mapCount == 1)
        #expect(slab.chunkSize == 4096, "chunk size rounds up to a power of two")
        var iovas = Set<UInt64>()
        for i in 0..<8 {
            let chunk = slab.chunk(i)
            #expect(chunk.iova.rawValue % 4096 == 0)
            #expect(chunk.slice.length == 4096)
            iovas.insert(chunk.iova.rawValue)
        }
        #expect(iovas.count == 8)
        #expect(slab.chunk(7).address == slab.chunk(0).address + 7 * 4096)
    }

    @Test func smallChunksAreAlignedToTheirSize() throws {
        let allocator = DMAAllocator(mapper: FakeMapper(), policy: policy)
        var slab = try DMASlab(allocator: allocator, chunkSize: 512, count: 16)
        while let chunk = slab.allocate() {
            #expect(chunk.iova.rawValue % 512 == 0)
            #expect(UInt(bitPattern: chunk.address) % 512 == 0)
        }
    }

    @Test func exhaustedSlabReturnsNilAndFreedChunkIsReused() throws {
        let allocator = DMAAllocator(mapper: FakeMapper(), policy: policy)
        var slab = try DMASlab(allocator: allocator, chunkSize: 4096, count: 4)
        var taken: [DMAChunk] = []
        while let chunk = slab.allocate() { taken.append(chunk) }
        #expect(taken.count == 4)
        #expect(slab.available == 0)
        #expect(slab.allocate() == nil)
        #expect(Set(taken.map(\.index)) == [0, 1, 2, 3])
        slab.free(taken[2])
        #expect(slab.available == 1)
        let again = slab.allocate()
        #expect(again?.index == taken[2].index)
        #expect(again?.iova == taken[2].iova)
    }

    @Test func slabReleaseUnmapsItsBuffer() throws {
        let mapper = FakeMapper()
        let allocator = DMAAllocator(mapper: mapper, policy: policy)
        do {
            var slab = try DMASlab(allocator: allocator, chunkSize: 4096, count: 4)
            _ = slab.allocate()
        }
        #expect(mapper.unmapCount == 1)
        #expect(allocator.liveMappings == 0)
    }

    @Test func freeingMoreThanWasTakenTraps() async {
        await #expect(processExitsWith: .failure) {
            let allocator = DMAAllocator(mapper: FakeMapper(), policy: DMAMemoryPolicy(hugepages: .never))
            var slab = try DMASlab(allocator: allocator, chunkSize: 4096, count: 2)
            slab.free(slab.chunk(0))
        }
    }
}

func freeHugepages() -> Int {
    Int(Sysfs.readText("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages") ?? "") ?? 0
}
