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

/// What the emulated NIC did, counted on the device side (the registers' statistics are the
/// driver's view; these are the test's).
public struct NICEmulatorStatistics: Sendable, Hashable {
    /// Frames written into a receive ring.
    public var framesReceived = 0
    /// Frames sent on the wire (to the peer, the loopback or the outbox).
    public var framesTransmitted = 0
    /// Frames that found no free receive descriptor (counted in MPC too).
    public var framesDroppedNoDescriptor = 0
    /// Frames the address filter refused (RAL/RAH, MTA, RCTL.UPE/MPE/BAM).
    public var framesDroppedByFilter = 0
    /// Frames that arrived with the receiver off: RCTL.EN clear, link down or bus master off.
    public var framesDroppedReceiverOff = 0
    /// Frames longer than RCTL.LPE allows (counted in ROC too).
    public var framesDroppedOversize = 0
    /// Frames that arrived while the inbox was full.
    public var framesDroppedAtInbox = 0
    /// Frames lost because a DMA access was refused (an unmapped IOVA, bus master off, the fault plan).
    public var framesDroppedDMAError = 0
    /// Transmit packets dropped: more than 64 fragments, or a buffer the IOMMU refused.
    public var transmitPacketsDropped = 0
    /// Interrupt messages sent (MSI-X eventfd or INTx eventfd signals).
    public var interruptsSignalled = 0
    /// Messages held because their vector (or the function) was masked; sent at unmask.
    public var interruptsHeldMasked = 0
    /// Messages delayed by ITR/EITR throttling.
    public var interruptsThrottled = 0
    /// Causes for which no vector could be signalled (IVAR entry not valid, vector not enabled).
    public var interruptsUnrouted = 0
    /// Register accesses the driver made (each one trapped and emulated).
    public var registerAccesses = 0
    /// Faults the fault plan injected.
    public var faultsInjected = 0

    public init() {}
}

/// A frame the device put on the wire while no cable led anywhere, as a test takes it.
public struct TransmittedFrame: Sendable, Hashable {
    /// The bytes sent: destination address first, no FCS.
    public var bytes: [UInt8]
    /// The transmit queue it came from.
    public var queue: Int

    public init(bytes: [UInt8], queue: Int) {
        self.bytes = bytes
        self.queue = queue
    }
}
