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

import VFIO

/// IVAR, interrupt vector allocation (82574 datasheet 10.2.4.9; QEMU `E1000_IVAR_*`): five 4-bit
/// entries, each a 3-bit MSI-X vector and a valid bit, for RxQ0, RxQ1, TxQ0, TxQ1 and Other.
/// A cause whose entry is not valid raises no MSI-X message.
@frozen
public struct InterruptVectorAllocation: RegisterValue, Hashable {
    /// The five interrupt sources IVAR routes, in register order.
    public enum Source: Int, Sendable, CaseIterable {
        case receiveQueue0 = 0
        case receiveQueue1 = 1
        case transmitQueue0 = 2
        case transmitQueue1 = 3
        case other = 4
    }

    /// MSI-X vectors the 82574 has (one per IVAR source).
    @inlinable public static var vectorCount: Int { 5 }

    public var rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// The vector `source` is routed to, or nil when its entry is not valid.
    @inlinable public func vector(for source: Source) -> Int? {
        let entry = rawValue.bits(source.rawValue * 4 ..< source.rawValue * 4 + 4)
        return entry & 0x8 != 0 ? Int(entry & 0x7) : nil
    }

    /// Routes `source` to `vector` (0...4), or invalidates the entry with nil.
    @inlinable public mutating func setVector(_ vector: Int?, for source: Source) {
        let range = source.rawValue * 4 ..< source.rawValue * 4 + 4
        if let vector {
            precondition(vector >= 0 && vector < 8, "IVAR vectors are 3 bits")
            rawValue.setBits(range, to: 0x8 | UInt32(vector))
        } else {
            rawValue.setBits(range, to: 0)
        }
    }

    /// IVAR bit 31: raise a TX interrupt on every descriptor write-back, not only with RS
    /// (Linux `E1000_IVAR_INT_ALLOC_VALID`-style setups leave it clear).
    @inlinable public var transmitInterruptEveryWriteBack: Bool {
        get { rawValue.bit(31) } set { rawValue.setBit(31, newValue) }
    }
}
