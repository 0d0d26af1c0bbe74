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

/// ITR and EITR[n], interrupt throttling (82574 datasheet 10.2.4.2, 10.2.4.10): the minimum gap
/// between interrupts in 256 ns units (0 disables throttling). ITR applies to INTx/MSI, EITR[n] to
/// MSI-X vector n. Throttling is how interrupt coalescing is done: causes gathered during the gap
/// are reported by one message. QEMU 7.2 resets them to 500 (128 us) and raises any smaller value
/// written to 500 (`E1000E_MIN_XITR`, "no more than 7813 interrupts per second").
@frozen
public struct InterruptThrottle: RegisterValue, Hashable {
    public var rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Throttling with a gap of `intervalNanoseconds`, rounded down to 256 ns units and capped
    /// at the 16-bit field.
    @inlinable public init(intervalNanoseconds: Int) {
        rawValue = UInt32(min(max(intervalNanoseconds / 256, 0), 0xFFFF))
    }

    /// INTERVAL (bits 15:0), in 256 ns units.
    @inlinable public var interval: UInt16 {
        get { UInt16(truncatingIfNeeded: rawValue.bits(0..<16)) }
        set { rawValue.setBits(0..<16, to: UInt32(newValue)) }
    }
    /// The gap in nanoseconds.
    @inlinable public var intervalNanoseconds: Int { Int(interval) * 256 }
}
