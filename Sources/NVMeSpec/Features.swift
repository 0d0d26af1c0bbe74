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

/// Feature identifiers for Get/Set Features (NVMe base 1.4, 5.21.1).
public enum FeatureIdentifier: UInt8, Sendable, CaseIterable {
    case arbitration = 0x01
    case powerManagement = 0x02
    case temperatureThreshold = 0x04
    case errorRecovery = 0x05
    case volatileWriteCache = 0x06
    case numberOfQueues = 0x07
    case interruptCoalescing = 0x08
    case interruptVectorConfiguration = 0x09
    case writeAtomicityNormal = 0x0A
    case asynchronousEventConfiguration = 0x0B
}

/// Number of Queues, FID 07h (NVMe base 1.4, 5.21.1.7). The same layout serves the Set Features
/// CDW11 request (NSQR/NCQR) and the completion DW0 answer (NSQA/NCQA): bits 15:00 submission
/// queues, bits 31:16 completion queues, both zero-based and excluding the admin queues.
@frozen
public struct NumberOfQueues: Hashable, Sendable {
    /// I/O submission queues, one-based (1...65536; the spec forbids requesting 65536).
    public var submissionQueues: Int
    /// I/O completion queues, one-based.
    public var completionQueues: Int

    @inlinable
    public init(submissionQueues: Int, completionQueues: Int) {
        precondition((1...65536).contains(submissionQueues) && (1...65536).contains(completionQueues),
                     "queue counts are 1...65536")
        self.submissionQueues = submissionQueues
        self.completionQueues = completionQueues
    }

    /// Decodes CDW11 or CQE DW0; every 32-bit value is valid (1...65536 each).
    @inlinable
    public init(dword: UInt32) {
        submissionQueues = Int(dword & 0xFFFF) + 1
        completionQueues = Int(dword >> 16) + 1
    }

    @inlinable
    public var dword: UInt32 { UInt32(submissionQueues - 1) & 0xFFFF | (UInt32(completionQueues - 1) & 0xFFFF) << 16 }
}

/// Interrupt Coalescing, FID 08h (NVMe base 1.4, 5.21.1.8): THR bits 7:0 (zero-based entries),
/// TIME bits 15:8 (100 microsecond units). Applies to completion queues with coalescing enabled.
@frozen
public struct InterruptCoalescing: Hashable, Sendable {
    /// Completions to aggregate before an interrupt, one-based (1...256).
    public var aggregationThreshold: Int
    /// Maximum aggregation delay in 100 µs units (0 = no delay).
    public var aggregationTime: UInt8

    @inlinable
    public init(aggregationThreshold: Int, aggregationTime: UInt8) {
        precondition((1...256).contains(aggregationThreshold), "THR allows 1...256 entries")
        self.aggregationThreshold = aggregationThreshold
        self.aggregationTime = aggregationTime
    }

    @inlinable
    public init(dword: UInt32) {
        aggregationThreshold = Int(dword & 0xFF) + 1
        aggregationTime = UInt8(truncatingIfNeeded: dword >> 8)
    }

    @inlinable
    public var dword: UInt32 { UInt32(aggregationThreshold - 1) & 0xFF | UInt32(aggregationTime) << 8 }
    /// TIME in microseconds.
    @inlinable public var aggregationTimeMicroseconds: Int { Int(aggregationTime) * 100 }
}

/// Arbitration, FID 01h (NVMe base 1.4, 5.21.1.1).
@frozen
public struct Arbitration: Hashable, Sendable {
    /// AB, bits 2:0: arbitration burst, 2^AB commands; 7 means no limit.
    public var burst: UInt8
    /// LPW, bits 15:8: low priority weight, zero-based.
    public var lowPriorityWeight: UInt8
    /// MPW, bits 23:16: medium priority weight, zero-based.
    public var mediumPriorityWeight: UInt8
    /// HPW, bits 31:24: high priority weight, zero-based.
    public var highPriorityWeight: UInt8

    @inlinable
    public init(burst: UInt8, lowPriorityWeight: UInt8 = 0, mediumPriorityWeight: UInt8 = 0, highPriorityWeight: UInt8 = 0) {
        self.burst = burst & 0x7
        self.lowPriorityWeight = lowPriorityWeight
        self.mediumPriorityWeight = mediumPriorityWeight
        self.highPriorityWeight = highPriorityWeight
    }

    @inlinable
    public init(dword: UInt32) {
        self.init(
            burst: UInt8(truncatingIfNeeded: dword & 0x7), lowPriorityWeight: UInt8(truncatingIfNeeded: dword >> 8),
            mediumPriorityWeight: UInt8(truncatingIfNeeded: dword >> 16), highPriorityWeight: UInt8(truncatingIfNeeded: dword >> 24))
    }

    @inlinable
    public var dword: UInt32 {
        UInt32(burst & 0x7) | UInt32(lowPriorityWeight) << 8 | UInt32(mediumPriorityWeight) << 16 | UInt32(highPriorityWeight) << 24
    }
}

/// Volatile Write Cache, FID 06h (NVMe base 1.4, 5.21.1.6): WCE bit 0.
@frozen
public struct VolatileWriteCache: Hashable, Sendable {
    public var enabled: Bool

    @inlinable public init(enabled: Bool) { self.enabled = enabled }
    @inlinable public init(dword: UInt32) { enabled = dword & 1 != 0 }
    @inlinable public var dword: UInt32 { enabled ? 1 : 0 }
}
