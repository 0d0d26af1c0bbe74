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

/// A 16-byte completion queue entry (NVMe base 1.4, 4.6 "Completion Queue Entry").
///
/// Stored in spec order so the in-memory layout is the wire layout on little-endian hosts (the
/// tests pin size 16). The driver reads `statusAndPhase` first and compares the phase tag before
/// trusting the other fields, with a read barrier in between (Linux `nvme_cqe_pending`, then
/// `dma_rmb()`); `commandID` and `submissionQueueHead` are device values and must be range-checked.
@frozen
public struct CompletionQueueEntry: Hashable, Sendable {
    /// DW0: command specific result (e.g. the Get Features value, Set Features Number of Queues result).
    public var commandSpecific: UInt32
    /// DW1: reserved.
    public var reserved: UInt32
    /// DW2.SQHD: the controller's current head of the submission queue.
    public var submissionQueueHead: UInt16
    /// DW2.SQID: the submission queue the command came from.
    public var submissionQueueID: UInt16
    /// DW3.CID: the command identifier from the SQE.
    public var commandID: UInt16
    /// DW3 bits 31:16: phase tag in bit 0, status field in bits 15:1.
    public var statusAndPhase: UInt16

    /// Raw fields, as read from a queue.
    @inlinable
    public init(
        commandSpecific: UInt32 = 0, reserved: UInt32 = 0, submissionQueueHead: UInt16,
        submissionQueueID: UInt16, commandID: UInt16, statusAndPhase: UInt16
    ) {
        self.commandSpecific = commandSpecific
        self.reserved = reserved
        self.submissionQueueHead = submissionQueueHead
        self.submissionQueueID = submissionQueueID
        self.commandID = commandID
        self.statusAndPhase = statusAndPhase
    }

    /// Builds a completion as a controller posts it (the emulator's constructor).
    @inlinable
    public init(
        commandSpecific: UInt32 = 0, submissionQueueHead: UInt16, submissionQueueID: UInt16,
        commandID: UInt16, status: NVMeStatus = .success, phase: Bool
    ) {
        self.init(
            commandSpecific: commandSpecific, reserved: 0, submissionQueueHead: submissionQueueHead,
            submissionQueueID: submissionQueueID, commandID: commandID, statusAndPhase: status.withPhase(phase))
    }

    /// P: the phase tag; an entry is new when it differs from the previous pass over the queue.
    @inlinable public var phase: Bool {
        get { statusAndPhase & 1 != 0 }
        set { statusAndPhase = statusAndPhase & ~1 | (newValue ? 1 : 0) }
    }

    /// The status field (SCT, SC, CRD, More, DNR).
    @inlinable public var status: NVMeStatus {
        get { NVMeStatus(statusAndPhase: statusAndPhase) }
        set { statusAndPhase = newValue.withPhase(phase) }
    }
}

extension CompletionQueueEntry: NVMeDataStructure {
    public static let encodedSize = 16

    public init(bytes: UnsafeRawBufferPointer) throws(NVMeDataStructureError) {
        let r = ByteReader(bytes, structure: "CompletionQueueEntry")
        try r.require(16)
        self.init(
            commandSpecific: try r.load(at: 0), reserved: try r.load(at: 4),
            submissionQueueHead: try r.load(at: 8), submissionQueueID: try r.load(at: 10),
            commandID: try r.load(at: 12), statusAndPhase: try r.load(at: 14))
    }

    public func encode(into buffer: UnsafeMutableRawBufferPointer) throws(NVMeDataStructureError) {
        let w = ByteWriter(buffer, structure: "CompletionQueueEntry")
        try w.prepare(16)
        try w.store(commandSpecific, at: 0)
        try w.store(reserved, at: 4)
        try w.store(submissionQueueHead, at: 8)
        try w.store(submissionQueueID, at: 10)
        try w.store(commandID, at: 12)
        try w.store(statusAndPhase, at: 14)
    }
}
