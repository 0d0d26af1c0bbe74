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

/// The commands one large request becomes: pieces of at most `maximumBlocks` (MDTS and the 16-bit
/// NLB field, `NamespaceInfo.maximumBlocksPerCommand`) that, where the namespace reports an
/// optimal I/O boundary (Identify Namespace NOIOB, in blocks), do not cross it: a command that
/// crosses NOIOB may be slower on the device (NVMe base 1.4, 6.x "NOIOB"), which is why Linux
/// sets `chunk_sectors` from it and SPDK splits on `sectors_per_stripe`. For writes, a piece that
/// is not the last also ends on a multiple of the preferred write granularity (NPWG) where it can,
/// so that no cut leaves the device a read-modify-write of a partial unit.
///
/// A value, iterated without allocation; each piece is (offset in blocks from the request's
/// start, blocks). Pure arithmetic, so the token API, the async API, the blocking API and the
/// workload share it; `blocks(at:)` recomputes a piece from its offset, which is how a piece the
/// driver ended (Abort, reset) is submitted again with the same extent.
public struct TransferSplit: Sequence, Sendable, Equatable {
    public let lba: UInt64
    public let blocks: Int
    public let maximumBlocks: Int
    /// NOIOB in blocks, 0 for none.
    public let boundary: Int
    /// NPWG in blocks (1 or 0 for none): pieces end on its multiples where they can.
    public let granularity: Int

    /// `blocks` from `lba` in pieces of at most `maximumBlocks` (at least 1) not crossing
    /// multiples of `boundary` (0: no boundary), ending on multiples of `granularity` where a
    /// piece can (0 or 1: any block).
    public init(lba: UInt64, blocks: Int, maximumBlocks: Int, boundary: Int = 0, granularity: Int = 0) {
        self.lba = lba
        self.blocks = Swift.max(0, blocks)
        self.maximumBlocks = Swift.max(1, maximumBlocks)
        self.boundary = Swift.max(0, boundary)
        self.granularity = Swift.max(0, granularity)
    }

    /// Blocks of the piece that starts `offset` blocks into the request (0 at or past the end).
    @inlinable
    public func blocks(at offset: Int) -> Int {
        guard offset >= 0, offset < blocks else { return 0 }
        var count = Swift.min(maximumBlocks, blocks - offset)
        let position = lba &+ UInt64(offset)
        var endsOnBoundary = false
        if boundary > 0 {
            // Blocks left before the next multiple of NOIOB, counted from the LBA's own position.
            let room = boundary - Int(position % UInt64(boundary))
            if room <= count {
                count = room
                endsOnBoundary = true
            }
        }
        if granularity > 1 && granularity <= maximumBlocks && !endsOnBoundary && offset + count < blocks {
            // A piece MDTS cut: back to the last multiple of NPWG inside it (a granularity above
            // MDTS cannot be met, and a piece ending on NOIOB or at the request's end stays).
            count -= Int((position &+ UInt64(count)) % UInt64(granularity))
        }
        return count
    }

    /// How many commands the request becomes.
    public var count: Int {
        var pieces = 0
        for _ in self { pieces += 1 }
        return pieces
    }

    /// At most how many commands `blocks` become at any LBA: in each stretch between NOIOB
    /// multiples (at most blocks / NOIOB + 1 of them, or the whole request), pieces MDTS cut, each
    /// shorter by at most NPWG - 1 blocks, and one last piece.
    public static func mostPieces(blocks: Int, maximumBlocks: Int, boundary: Int = 0, granularity: Int = 0) -> Int {
        let blocks = Swift.max(0, blocks)
        let limit = Swift.max(1, maximumBlocks)
        let shortest = granularity > 1 && granularity <= limit ? limit - granularity + 1 : limit
        let stretches = boundary > 0 ? blocks / boundary + 2 : 1
        return blocks / shortest + stretches
    }

    public struct Iterator: IteratorProtocol {
        let split: TransferSplit
        var done = 0

        public mutating func next() -> (offset: Int, blocks: Int)? {
            let count = split.blocks(at: done)
            guard count > 0 else { return nil }
            defer { done += count }
            return (done, count)
        }
    }

    public func makeIterator() -> Iterator { Iterator(split: self) }
}

extension NamespaceInfo {
    /// How a data transfer of `blocks` at `lba` is cut into commands on this namespace: MDTS,
    /// NOIOB and, for writes, NPWG.
    @inlinable
    public func split(lba: UInt64, blocks: Int, writing: Bool) -> TransferSplit {
        TransferSplit(
            lba: lba, blocks: blocks, maximumBlocks: maximumBlocksPerCommand, boundary: optimalIOBoundary,
            granularity: writing ? preferredWriteGranularity : 0)
    }
}
