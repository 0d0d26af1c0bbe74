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
import Testing

/// PRP construction against NVMe base 1.4, 4.3, with a fake list page in ordinary memory.
@Suite struct PRPTests {
    let listIOVA: UInt64 = 0x7700_0000

    func build(_ iova: UInt64, _ length: Int) throws -> (PRPBuilder.Pointers, [UInt64]) {
        let page = UnsafeMutablePointer<UInt64>.allocate(capacity: 512)
        defer { page.deallocate() }
        page.initialize(repeating: 0xDEAD, count: 512)
        let p = try PRPBuilder.build(iova: iova, length: length, listPage: page, listIOVA: listIOVA)
        return (p, (0..<p.listEntries).map { UInt64(littleEndian: page[$0]) })
    }

    @Test func bufferWithinOnePageUsesOnlyPRP1() throws {
        let (p, list) = try build(0x10_0200, 512)
        #expect(p.prp1 == 0x10_0200 && p.prp2 == 0 && list.isEmpty)
        let (full, _) = try build(0x10_0000, 4096)
        #expect(full.prp1 == 0x10_0000 && full.prp2 == 0)
    }

    @Test func bufferOverTwoPagesUsesPRP2AsTheSecondPage() throws {
        let (p, list) = try build(0x10_0000, 8192)
        #expect(p.prp1 == 0x10_0000 && p.prp2 == 0x10_1000 && list.isEmpty)
    }

    @Test func midPageBufferCrossingOneBoundaryUsesPRP2() throws {
        // 3 KiB from offset 2 KiB: 2 KiB in the first page, 1 KiB in the next.
        let (p, list) = try build(0x10_0800, 3072)
        #expect(p.prp1 == 0x10_0800 && p.prp2 == 0x10_1000 && list.isEmpty)
    }

    @Test func prpListSpansThreePagesFromMidPage() throws {
        // 12 KiB from offset 0x204: pages 0x101000, 0x102000, 0x103000 follow the first.
        let (p, list) = try build(0x10_0204, 12288)
        #expect(p.prp1 == 0x10_0204)
        #expect(p.prp2 == listIOVA)
        #expect(list == [0x10_1000, 0x10_2000, 0x10_3000])
        #expect(PRPBuilder.pageCount(iova: 0x10_0204, length: 12288) == 4)
    }

    @Test func maximumTransferFromMidPageFillsExactlyOneListPage() throws {
        let (p, list) = try build(0x20_0010, PRPBuilder.maximumTransferBytes)
        #expect(p.listEntries == 512)
        #expect(list.first == 0x20_1000)
        // Not `#expect(list.last == 0x20_1000 + 511 * 4096)`: with an optional left side and an
        // arithmetic right side, Swift 6.3.1's thunk for the failure message reads 9 bytes from an
        // 8-byte stack slot (AddressSanitizer: stack-buffer-overflow in _convertToAnyHashable).
        let last = try #require(list.last)
        #expect(last == 0x20_1000 + 511 * 4096)
        // Every entry page aligned and consecutive (4.3: entries after PRP1 have offset 0).
        #expect(zip(list, list.dropFirst()).allSatisfy { $1 == $0 + 4096 && $0 & 0xFFF == 0 })
    }

    @Test func misalignedOrOversizedBuffersAreRejected() throws {
        #expect(throws: NVMeError.misalignedBuffer(iova: 0x10_0002)) { _ = try build(0x10_0002, 512) }
        #expect(throws: NVMeError.transferTooLarge(bytes: PRPBuilder.maximumTransferBytes + 4, maximum: PRPBuilder.maximumTransferBytes)) {
            _ = try build(0x10_0000, PRPBuilder.maximumTransferBytes + 4)
        }
    }
}
