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
import VFIO
import Testing

@Suite struct TransferSplitTests {
    func pieces(_ s: TransferSplit) -> [[Int]] { s.map { [$0.offset, $0.blocks] } }

    @Test func splitsAtTheTransferLimit() {
        // 64 KiB of 512-byte blocks with MDTS 16 KiB: four commands of 32 blocks.
        #expect(pieces(TransferSplit(lba: 0, blocks: 128, maximumBlocks: 32)) == [[0, 32], [32, 32], [64, 32], [96, 32]])
        #expect(pieces(TransferSplit(lba: 7, blocks: 70, maximumBlocks: 32)) == [[0, 32], [32, 32], [64, 6]])
    }

    @Test func piecesDoNotCrossTheOptimalIOBoundary() {
        // NOIOB 48 blocks, starting at LBA 40: 8 up to the boundary, then 32 (the limit), 16, ...
        #expect(pieces(TransferSplit(lba: 40, blocks: 100, maximumBlocks: 32, boundary: 48)) == [[0, 8], [8, 32], [40, 16], [56, 32], [88, 12]])
    }

    @Test func emptyAndDegenerateInputsMakeNoEndlessLoop() {
        #expect(pieces(TransferSplit(lba: 0, blocks: 0, maximumBlocks: 32)).isEmpty)
        #expect(pieces(TransferSplit(lba: 0, blocks: -5, maximumBlocks: 32)).isEmpty)
        #expect(pieces(TransferSplit(lba: 0, blocks: 3, maximumBlocks: 0)) == [[0, 1], [1, 1], [2, 1]])
        #expect(pieces(TransferSplit(lba: UInt64.max - 1, blocks: 2, maximumBlocks: 8, boundary: 4)).map { $0[1] }.reduce(0, +) == 2)
    }

    @Test func writePiecesEndOnThePreferredGranularityWhereTheyCan() {
        // NPWG 8, limit 20: pieces end at LBA 16 and 32; the last (18, within the limit) takes the rest.
        #expect(pieces(TransferSplit(lba: 0, blocks: 50, maximumBlocks: 20, granularity: 8)) == [[0, 16], [16, 16], [32, 18]])
        // A granularity above the limit cannot be met: the limit wins.
        #expect(pieces(TransferSplit(lba: 1, blocks: 40, maximumBlocks: 16, granularity: 64)) == [[0, 16], [16, 16], [32, 8]])
    }

    @Test func seededSplitsCoverTheRequestWithinEveryLimit() {
        var generator = SeededGenerator(seed: 18)
        for _ in 0..<2000 {
            let lba = generator.next() % 100_000
            let blocks = Int(generator.next() % 600)
            let limit = 1 + Int(generator.next() % 64)
            let boundary = generator.next() % 3 == 0 ? 0 : 1 + Int(generator.next() % 100)
            let granularity = generator.next() % 3 == 0 ? 0 : 1 + Int(generator.next() % 16)
            let split = TransferSplit(lba: lba, blocks: blocks, maximumBlocks: limit, boundary: boundary, granularity: granularity)
            var next = 0
            for (offset, count) in split {
                #expect(offset == next && count >= 1 && count <= limit)
                let start = lba + UInt64(offset)
                if boundary > 0 {
                    let first: UInt64 = start / UInt64(boundary)
                    let last: UInt64 = (start + UInt64(count) - 1) / UInt64(boundary)
                    #expect(first == last)
                }
                #expect(split.blocks(at: offset) == count)
                next += count
            }
            #expect(next == blocks)
            #expect(split.count <= TransferSplit.mostPieces(blocks: blocks, maximumBlocks: limit, boundary: boundary, granularity: granularity))
        }
    }
}
