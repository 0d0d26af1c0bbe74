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

/// The bytes a verified workload writes to each block: a function of the LBA and the seed only,
/// so any read of a block written by this workload (or its prefill) knows what it must contain,
/// whatever order the writes completed in. Every 8-byte word differs, which catches misplaced
/// sectors, torn transfers and PRP mistakes (a wrong page shows the wrong LBA's words).
public enum DataPattern {
    @inlinable
    static func word(lba: UInt64, index: Int, seed: UInt64) -> UInt64 {
        var x = lba &* 0x9e37_79b9_7f4a_7c15 ^ UInt64(index) &* 0xbf58_476d_1ce4_e5b9 ^ seed
        x ^= x >> 31
        return x &* 0x94d0_49bb_1331_11eb
    }

    /// Fills `blocks` blocks starting at `lba`.
    @inlinable
    public static func fill(_ buffer: UnsafeMutableRawBufferPointer, lba: UInt64, blockSize: Int, blocks: Int, seed: UInt64) {
        let words = blockSize / 8
        for b in 0..<blocks {
            let base = buffer.baseAddress! + b * blockSize
            for i in 0..<words {
                base.storeBytes(of: word(lba: lba + UInt64(b), index: i, seed: seed), toByteOffset: i * 8, as: UInt64.self)
            }
        }
    }

    /// The first LBA whose contents differ, or nil when every byte matches.
    @inlinable
    public static func firstMismatch(_ buffer: UnsafeRawBufferPointer, lba: UInt64, blockSize: Int, blocks: Int, seed: UInt64) -> UInt64? {
        let words = blockSize / 8
        for b in 0..<blocks {
            let base = buffer.baseAddress! + b * blockSize
            for i in 0..<words where base.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self) != word(lba: lba + UInt64(b), index: i, seed: seed) {
                return lba + UInt64(b)
            }
        }
        return nil
    }
}
