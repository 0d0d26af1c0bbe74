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
import VFIO

@Suite struct IOVAAllocatorTests {
    /// Three apertures with holes between them, like the x86 MSI window at 0xfee00000.
    static let apertures: [Range<UInt64>] = [0..<0x40_0000, 0x50_0000..<0x80_0000, 0x100_0000..<0x140_0000]

    struct Live { var start: UInt64; var length: UInt64; var alignment: UInt64 }

    /// Random allocate/free sequences; after every step the invariants hold, and every failed
    /// allocation was really impossible (no free range could hold it).
    @Test(arguments: [1, 42, 0xdead_beef] as [UInt64])
    func randomSequencesKeepEveryInvariant(seed: UInt64) throws {
        var random = SeededGenerator(seed: seed)
        var allocator = IOVAAllocator(ranges: Self.apertures)
        let total = Self.apertures.reduce(0) { $0 + $1.count } - 0x1000  // page 0 is never handed out
        var live: [Live] = []
        var failures = 0
        for _ in 0..<400 {
            if live.isEmpty || random.next() % 10 < 6 {
                let length = random.next() % 4 == 0
                    ? Int(random.next() % 300_000) + 1
                    : Int(random.next() % 64 + 1) * 4096
                let alignment = [4096, 8192, 65536, 2 << 20][Int(random.next() % 4)]
                do {
                    let iova = try allocator.allocate(length: length, alignment: alignment)
                    live.append(Live(start: iova.rawValue, length: UInt64(length), alignment: UInt64(alignment)))
                } catch {
                    #expect(error == .iovaExhausted(requested: length))
                    // First fit must not miss a hole that fits.
                    let fits = allocator.free.contains { r in
                        let start = (r.lowerBound + UInt64(alignment) - 1) / UInt64(alignment) * UInt64(alignment)
                        return start < r.upperBound && r.upperBound - start >= UInt64(length)
                    }
                    #expect(!fits, "allocation of \(length) aligned \(alignment) failed although a free range fits")
                    #expect(allocator.quarantine.isEmpty, "an allocation failed while quarantined ranges were left")
                    failures += 1
                }
            } else {
                let victim = live.remove(at: Int(random.next() % UInt64(live.count)))
                allocator.release(IOVA(victim.start), length: Int(victim.length))
            }
            try checkInvariants(allocator, live, total: UInt64(total))
        }
        for entry in live { allocator.release(IOVA(entry.start), length: Int(entry.length)) }
        #expect(Self.coalesced(allocator.free + allocator.quarantine) == [0x1000..<0x40_0000, 0x50_0000..<0x80_0000, 0x100_0000..<0x140_0000])
        #expect(allocator.bytesInUse == 0 && allocator.liveCount == 0)
        #expect(failures > 0, "the sequence never exhausted the space; the test would not prove exhaustion")
    }

    private func checkInvariants(_ allocator: IOVAAllocator, _ live: [Live], total: UInt64) throws {
        for entry in live {
            #expect(entry.start % entry.alignment == 0, "IOVA 0x\(String(entry.start, radix: 16)) not aligned to \(entry.alignment)")
            #expect(entry.start >= 0x1000, "page 0 handed out")
            // Inside one aperture: never across a hole.
            #expect(Self.apertures.contains { $0.lowerBound <= entry.start && entry.start + entry.length <= $0.upperBound },
                    "0x\(String(entry.start, radix: 16)) + \(entry.length) crosses a hole")
        }
        let sorted = live.sorted { $0.start < $1.start }
        for (a, b) in zip(sorted, sorted.dropFirst()) {
            #expect(a.start + a.length <= b.start, "allocations overlap")
        }
        let free = allocator.free
        for (a, b) in zip(free, free.dropFirst()) {
            #expect(a.upperBound < b.lowerBound, "free list not sorted, disjoint and coalesced")
        }
        #expect(allocator.quarantine.count <= allocator.quarantineLimit)
        for entry in live {
            #expect(!(free + allocator.quarantine).contains { $0.overlaps(entry.start..<(entry.start + entry.length)) },
                    "a live allocation is also free or quarantined")
        }
        for q in allocator.quarantine {
            #expect(!free.contains { $0.overlaps(q) }, "a quarantined range is also free")
        }
        let inUse = live.reduce(0) { $0 + $1.length }
        #expect(allocator.bytesInUse == inUse)
        #expect(allocator.liveCount == live.count)
        #expect(free.reduce(0) { $0 + UInt64($1.count) } + allocator.quarantinedBytes + inUse == total, "bytes lost or invented")
    }

    /// Sorted, adjacent ranges merged.
    static func coalesced(_ ranges: [Range<UInt64>]) -> [Range<UInt64>] {
        var merged: [Range<UInt64>] = []
        for r in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = merged.last, last.upperBound == r.lowerBound {
                merged[merged.count - 1] = last.lowerBound..<r.upperBound
            } else {
                merged.append(r)
            }
        }
        return merged
    }

    /// A device's own address window (an NVMe CMB) never becomes an IOVA, neither from the free
    /// space nor when a range that overlapped it comes back from the quarantine.
    @Test func excludedRangeIsNeverHandedOut() throws {
        var allocator = IOVAAllocator(ranges: [0..<0x10_0000], quarantineLimit: 1)
        let first = try allocator.allocate(length: 0x4000)
        #expect(first.rawValue == 0x1000)
        // A live allocation inside the window: refused, nothing changed.
        let overLive = allocator.exclude(0x2000..<0x3000)
        #expect(!overLive)
        allocator.release(first, length: 0x4000)
        let window = allocator.exclude(0x2000..<0x8000)
        #expect(window)
        var handed: [IOVA] = []
        while let iova = try? allocator.allocate(length: 0x1000) { handed.append(iova) }
        #expect(!handed.isEmpty)
        #expect(handed.allSatisfy { !(0x2000..<0x8000).contains($0.rawValue) })
        #expect(handed.count == (0x10_0000 - 0x1000 - 0x6000) / 0x1000)
    }

    @Test func releasedRangesWaitInQuarantineBeforeTheyAreReused() throws {
        var allocator = IOVAAllocator(ranges: [0x1000..<0x10_0000], quarantineLimit: 2)
        let a = try allocator.allocate(length: 4096)
        let b = try allocator.allocate(length: 4096)
        let c = try allocator.allocate(length: 4096)
        allocator.release(a, length: 4096)
        // First fit alone would hand `a` straight back.
        let d = try allocator.allocate(length: 4096)
        #expect(d != a && d.rawValue > c.rawValue)
        allocator.release(b, length: 4096)
        #expect(allocator.quarantine == [a.rawValue..<(a.rawValue + 4096), b.rawValue..<(b.rawValue + 4096)])
        // A third release pushes the oldest (a) out of the quarantine: free again.
        allocator.release(c, length: 4096)
        #expect(allocator.quarantine.count == 2)
        #expect(try allocator.allocate(length: 4096) == a)
    }

    @Test func quarantineGivesWayOldestFirstWhenNothingElseFits() throws {
        var allocator = IOVAAllocator(ranges: [0x1000..<0x4000])
        let iovas = try (0..<3).map { _ in try allocator.allocate(length: 4096) }
        allocator.release(iovas[1], length: 4096)
        allocator.release(iovas[0], length: 4096)
        #expect(try allocator.allocate(length: 4096) == iovas[1])
        #expect(try allocator.allocate(length: 4096) == iovas[0])
        #expect(throws: VFIOError.iovaExhausted(requested: 4096)) { try allocator.allocate(length: 4096) }
    }

    @Test func aNeverMappedRangeSkipsTheQuarantine() throws {
        var allocator = IOVAAllocator(ranges: [0x1000..<0x10_0000])
        let a = try allocator.allocate(length: 4096)
        allocator.release(a, length: 4096, quarantined: false)
        #expect(allocator.quarantine.isEmpty)
        #expect(try allocator.allocate(length: 4096) == a)
    }

    @Test func exhaustionThrowsAndFreeingMakesRoomAgain() throws {
        var allocator = IOVAAllocator(ranges: [0x1000..<0x5000])
        let iovas = try (0..<4).map { _ in try allocator.allocate(length: 4096) }
        #expect(throws: VFIOError.iovaExhausted(requested: 4096)) { try allocator.allocate(length: 4096) }
        allocator.release(iovas[2], length: 4096)
        #expect(try allocator.allocate(length: 4096) == iovas[2])
    }

    @Test func freedRangeIsReusedAndCoalesced() throws {
        var allocator = IOVAAllocator(ranges: [0x1000..<0x10_0000], quarantineLimit: 0)
        let a = try allocator.allocate(length: 0x4000)
        let b = try allocator.allocate(length: 0x4000)
        allocator.release(a, length: 0x4000)
        allocator.release(b, length: 0x4000)
        #expect(allocator.free == [0x1000..<0x10_0000])
        // A request larger than either piece fits only because they coalesced.
        #expect(try allocator.allocate(length: 0x8000) == a)
    }

    @Test func alignmentSkipsToTheNextAlignedAddress() throws {
        var allocator = IOVAAllocator(ranges: [0x1000..<0x100_0000])
        _ = try allocator.allocate(length: 4096)
        let aligned = try allocator.allocate(length: 4096, alignment: 2 << 20)
        #expect(aligned.rawValue == 2 << 20)
        // The gap before it stays free.
        #expect(try allocator.allocate(length: 4096).rawValue == 0x2000)
    }

    @Test func holesBetweenRangesAreNeverHandedOut() throws {
        // The MSI window: 0xfee00000-0xfeefffff.
        var allocator = IOVAAllocator(ranges: [0xfed0_0000..<0xfee0_0000, 0xfef0_0000..<0xff00_0000])
        let first = try allocator.allocate(length: 0x10_0000)
        let second = try allocator.allocate(length: 0x10_0000)
        #expect(first.rawValue == 0xfed0_0000)
        #expect(second.rawValue == 0xfef0_0000)
        #expect(throws: VFIOError.self) { try allocator.allocate(length: 4096) }
    }

    @Test func allocationLargerThanAnyApertureFailsEvenWhenTheTotalWouldFit() {
        var allocator = IOVAAllocator(ranges: [0x1000..<0x3000, 0x4000..<0x6000])
        #expect(throws: VFIOError.iovaExhausted(requested: 0x3000)) { try allocator.allocate(length: 0x3000) }
    }

    @Test func mappingLimitCapsLiveAllocations() throws {
        var allocator = IOVAAllocator(ranges: [0x1000..<0x100_0000], mappingLimit: 3)
        let iovas = try (0..<3).map { _ in try allocator.allocate(length: 4096) }
        #expect(allocator.mappingsAvailable == 0)
        #expect(throws: VFIOError.iovaExhausted(requested: 4096)) { try allocator.allocate(length: 4096) }
        allocator.release(iovas[0], length: 4096)
        #expect(allocator.mappingsAvailable == 1)
        _ = try allocator.allocate(length: 4096)
    }

    @Test func pageZeroIsNeverHandedOut() throws {
        var allocator = IOVAAllocator(ranges: [0..<0x2000])
        #expect(try allocator.allocate(length: 4096).rawValue == 0x1000)
        #expect(throws: VFIOError.self) { try allocator.allocate(length: 4096) }
    }

    @Test func overlappingAndUnsortedInputRangesAreMerged() {
        let allocator = IOVAAllocator(ranges: [0x8000..<0x10000, 0x1000..<0x4000, 0x3000..<0x9000, 0x20000..<0x20000])
        #expect(allocator.free == [0x1000..<0x10000])
    }

    @Test func releasingWhatWasNeverAllocatedTraps() async {
        await #expect(processExitsWith: .failure) {
            var allocator = IOVAAllocator(ranges: [0x1000..<0x10_0000])
            _ = try? allocator.allocate(length: 4096)
            allocator.release(IOVA(0x1000), length: 8192)
        }
    }
}
