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

/// Counters of one NIC queue, receive or transmit, updated with plain adds by its one thread.
///
/// One type for both directions: they count the same things on the same kind of ring
/// (`DescriptorRing`); the counters only one direction has say which.
@frozen
public struct NICQueueStatistics: Sendable, Equatable {
    /// Frames handed to the caller (receive) or to the device (transmit).
    public var packets: UInt64 = 0
    /// Their bytes.
    public var bytes: UInt64 = 0
    /// Tail stores (RDT, TDT): one per batch, far fewer than `packets` under load.
    public var tailWrites: UInt64 = 0
    /// Done bits on slots never posted, and (receive) descriptors written back with impossible
    /// values (length, missing EOP): consumed, never used.
    public var invalidDescriptors: UInt64 = 0
    /// Receive: frames the device flagged with a receive error (CRC, symbol, sequence, data),
    /// dropped.
    public var errorFrames: UInt64 = 0
    /// Transmit: descriptors the device finished (DD seen) whose buffers went back to the pool.
    public var reclaimed: UInt64 = 0
    /// Transmit: `send` calls that found the ring or the pool full and queued less than asked.
    public var backpressure: UInt64 = 0
    /// Waits on the queue's interrupt.
    public var interrupts = InterruptStatistics()

    public init() {}
}

/// A receive queue's counters.
public typealias ReceiveQueueStatistics = NICQueueStatistics
/// A transmit queue's counters.
public typealias TransmitQueueStatistics = NICQueueStatistics
