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

/// The device's statistics counters (82574 datasheet 10.2.7), accumulated by the driver: the
/// registers clear on read, so `E1000E.statistics()` adds each reading to running totals.
@frozen
public struct NICStatistics: Sendable, Equatable {
    /// GPRC.
    public var goodPacketsReceived: UInt64 = 0
    /// GPTC.
    public var goodPacketsTransmitted: UInt64 = 0
    /// GORCL/GORCH.
    public var goodOctetsReceived: UInt64 = 0
    /// GOTCL/GOTCH.
    public var goodOctetsTransmitted: UInt64 = 0
    /// TPR.
    public var totalPacketsReceived: UInt64 = 0
    /// TPT.
    public var totalPacketsTransmitted: UInt64 = 0
    /// BPRC.
    public var broadcastPacketsReceived: UInt64 = 0
    /// MPRC.
    public var multicastPacketsReceived: UInt64 = 0
    /// MPC: packets dropped for lack of a receive descriptor or FIFO space.
    public var missedPackets: UInt64 = 0
    /// RNBC: packets that found no free receive descriptor.
    public var receiveNoBuffers: UInt64 = 0
    /// CRCERRS.
    public var crcErrors: UInt64 = 0
    /// RXERRC.
    public var receiveErrors: UInt64 = 0
    /// IAC: interrupts asserted (INTx/MSI).
    public var interruptAssertions: UInt64 = 0

    public init() {}
}
