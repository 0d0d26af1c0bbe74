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

/// RXDCTL[n] and TXDCTL[n], descriptor queue control (82574 datasheet 10.2.5.11, 10.2.6.11):
/// prefetch, host and write-back thresholds. Write-back threshold 0 with GRAN set writes each
/// descriptor back as soon as it is done, the latency-friendly choice for a polling driver.
@frozen
public struct DescriptorQueueControl: RegisterValue, Hashable {
    public var rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// PTHRESH (bits 5:0): prefetch threshold.
    @inlinable public var prefetchThreshold: UInt8 {
        get { UInt8(truncatingIfNeeded: rawValue.bits(0..<6)) }
        set { rawValue.setBits(0..<6, to: UInt32(newValue)) }
    }
    /// HTHRESH (bits 13:8): host threshold.
    @inlinable public var hostThreshold: UInt8 {
        get { UInt8(truncatingIfNeeded: rawValue.bits(8..<14)) }
        set { rawValue.setBits(8..<14, to: UInt32(newValue)) }
    }
    /// WTHRESH (bits 21:16): write-back threshold.
    @inlinable public var writeBackThreshold: UInt8 {
        get { UInt8(truncatingIfNeeded: rawValue.bits(16..<22)) }
        set { rawValue.setBits(16..<22, to: UInt32(newValue)) }
    }
    /// GRAN: thresholds count descriptors (1) rather than cache lines (0).
    @inlinable public var descriptorGranularity: Bool { get { rawValue.bit(24) } set { rawValue.setBit(24, newValue) } }
    /// TXDCTL.LWTHRESH (bits 31:25): TXD_LOW threshold, in units of 8 descriptors.
    @inlinable public var lowThreshold: UInt8 {
        get { UInt8(truncatingIfNeeded: rawValue.bits(25..<32)) }
        set { rawValue.setBits(25..<32, to: UInt32(newValue)) }
    }
}
