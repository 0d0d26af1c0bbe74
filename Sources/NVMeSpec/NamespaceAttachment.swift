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

/// Controller List (NVMe base 1.4, 4.9, Figure 112): the data of a Namespace Attachment command,
/// a count followed by up to 2047 controller identifiers, 4096 bytes.
@frozen
public struct ControllerList: Hashable, Sendable {
    public static let capacity = 2047

    /// CNTLIDs, as listed.
    public var controllerIDs: [UInt16]

    @inlinable public init(controllerIDs: [UInt16]) { self.controllerIDs = controllerIDs }
}

extension ControllerList: NVMeDataStructure {
    public static let encodedSize = 4096

    /// Rejects a count above 2047 (the list would run past the 4096 bytes).
    public init(bytes: UnsafeRawBufferPointer) throws(NVMeDataStructureError) {
        let r = ByteReader(bytes, structure: "ControllerList")
        try r.require(4096)
        let count: UInt16 = try r.load(at: 0)
        guard Int(count) <= Self.capacity else {
            throw .invalidField(structure: "ControllerList", field: "count", value: UInt64(count))
        }
        var ids: [UInt16] = []
        for i in 0..<Int(count) { ids.append(try r.load(at: 2 + 2 * i)) }
        controllerIDs = ids
    }

    public func encode(into buffer: UnsafeMutableRawBufferPointer) throws(NVMeDataStructureError) {
        let w = ByteWriter(buffer, structure: "ControllerList")
        guard controllerIDs.count <= Self.capacity else {
            throw .invalidField(structure: "ControllerList", field: "count", value: UInt64(controllerIDs.count))
        }
        try w.prepare(4096)
        try w.store(UInt16(controllerIDs.count), at: 0)
        for (i, id) in controllerIDs.enumerated() { try w.store(id, at: 2 + 2 * i) }
    }
}

/// Namespace Attachment SEL (NVMe base 1.4, 5.23, Figure 384): CDW10 bits 3:0.
public enum NamespaceAttachmentSelect: UInt8, Sendable {
    case attach = 0
    case detach = 1
}

/// Namespace Management SEL (NVMe base 1.4, 5.22, Figure 380): CDW10 bits 3:0.
public enum NamespaceManagementSelect: UInt8, Sendable {
    case create = 0
    case delete = 1
}

extension SubmissionQueueEntry {
    /// Namespace Attachment (5.23): attaches namespace `namespaceID` to, or detaches it from, the
    /// controllers in a `ControllerList` that PRP1/PRP2 point to (host to controller).
    @inlinable
    public static func namespaceAttachment(_ select: NamespaceAttachmentSelect, namespaceID: UInt32) -> SubmissionQueueEntry {
        SubmissionQueueEntry(opcode: AdminOpcode.namespaceAttachment.rawValue, namespaceID: namespaceID, cdw10: UInt32(select.rawValue))
    }

    /// Namespace Management (5.22): create (NSID 0; data: an Identify Namespace structure with
    /// NSZE, NCAP, FLBAS, DPS, NMIC; the new NSID comes back in CQE DW0) or delete `namespaceID`
    /// (no data).
    @inlinable
    public static func namespaceManagement(_ select: NamespaceManagementSelect, namespaceID: UInt32 = 0) -> SubmissionQueueEntry {
        SubmissionQueueEntry(opcode: AdminOpcode.namespaceManagement.rawValue, namespaceID: namespaceID, cdw10: UInt32(select.rawValue))
    }

    /// Namespace Attachment and Namespace Management SEL (CDW10 bits 3:0).
    @inlinable public var namespaceSelect: UInt8 { UInt8(truncatingIfNeeded: cdw10 & 0xF) }

    /// Get Log Page RAE (CDW10 bit 15): Retain Asynchronous Event. Clear, reading the page
    /// re-enables the event it reports (5.14.1).
    @inlinable public var retainAsynchronousEvent: Bool { cdw10 & (1 << 15) != 0 }
}

// Command specific statuses of Namespace Management and Namespace Attachment (Figures 381, 385),
// and Invalid Format (Format NVM and Namespace Management create).
extension NVMeStatus {
    public static let invalidFormat = commandSpecific(0x0A)
    public static let namespaceInsufficientCapacity = commandSpecific(0x15)
    public static let namespaceIdentifierUnavailable = commandSpecific(0x16)
    public static let namespaceAlreadyAttached = commandSpecific(0x18)
    public static let namespaceIsPrivate = commandSpecific(0x19)
    public static let namespaceNotAttached = commandSpecific(0x1A)
    public static let thinProvisioningNotSupported = commandSpecific(0x1B)
    public static let controllerListInvalid = commandSpecific(0x1C)
}
