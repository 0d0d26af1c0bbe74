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

/// What a submission and a completion ring both are (NVMe base 1.4, 4.1): a run of fixed-size
/// entries in memory, how many, and the doorbell through which the host tells the controller how
/// far it got. A non-owning view: the memory belongs to the queue pair (or the admin queue).
@frozen @usableFromInline
struct RingSlots {
    /// The first entry: DMA memory, or for a submission queue in the Controller Memory Buffer
    /// the BAR mapping.
    @usableFromInline let base: UnsafeMutableRawPointer
    /// Entries in the ring (2...65536, the same for the two rings of a pair).
    @usableFromInline let size: UInt32
    /// The SQ tail or CQ head doorbell.
    @usableFromInline let doorbell: Doorbell

    @inlinable
    init(base: UnsafeMutableRawPointer, size: Int, doorbell: Doorbell) {
        self.base = base
        self.size = UInt32(size)
        self.doorbell = doorbell
    }

    /// The same entries behind another doorbell.
    @inlinable
    func with(doorbell: Doorbell) -> RingSlots { RingSlots(base: base, size: Int(size), doorbell: doorbell) }
}
