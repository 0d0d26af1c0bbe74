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

/// Namespace Attachment and Namespace Management (NVMe base 1.4, 5.23 and 5.22), both covered
/// by Identify Controller OACS bit 3. After each, the driver rescans its namespaces itself, so
/// the result does not depend on the Namespace Attribute Changed event (which a controller sends
/// to the controllers a namespace is attached to, and which may be disabled).
extension Controller {
    /// NSIDs allocated in the controller's NVM subsystem, attached or not (Identify CNS 10h, the
    /// first page: up to 1024 ids above `after`); a controller that is alone in its subsystem
    /// lists its active namespaces.
    public func allocatedNamespaceIDs(after: UInt32 = 0) throws(NVMeError) -> [UInt32] {
        let list: ActiveNamespaceList = try decode(
            adminCommand(.identify(cns: .allocatedNamespaceList, namespaceID: after), returning: 4096, name: "Identify Allocated Namespace List"),
            "Identify Allocated Namespace List")
        return list.namespaceIDs
    }

    /// Attaches namespace `id` to `controllers` (default: this controller, its CNTLID) and
    /// rescans. A namespace attached to this controller appears in `namespaces`.
    @discardableResult
    public func attachNamespace(_ id: UInt32, controllers: [UInt16]? = nil) throws(NVMeError) -> NamespaceChanges {
        try namespaceAttachment(.attach, id, controllers: controllers)
    }

    /// Detaches namespace `id` from `controllers` (default: this controller) and rescans: its
    /// I/O then fails with `.namespaceNotAttached`.
    @discardableResult
    public func detachNamespace(_ id: UInt32, controllers: [UInt16]? = nil) throws(NVMeError) -> NamespaceChanges {
        try namespaceAttachment(.detach, id, controllers: controllers)
    }

    /// Creates a namespace of `blocks` blocks (NSZE; NCAP `capacityBlocks`, default all of it) in
    /// LBA format `formatIndex` and returns its NSID. A created namespace is attached to no
    /// controller until `attachNamespace`.
    public func createNamespace(blocks: UInt64, capacityBlocks: UInt64? = nil, formatIndex: Int = 0, shared: Bool = false) throws(NVMeError) -> UInt32 {
        try requireNamespaceManagement("Namespace Management (create)")
        let capacity = capacityBlocks ?? blocks
        guard blocks > 0, capacity > 0, capacity <= blocks else {
            throw .invalidArgument("a namespace of \(blocks) blocks with capacity \(capacity): both must be above 0 and the capacity at most the size")
        }
        guard (0...15).contains(formatIndex) else { throw .invalidArgument("LBA format \(formatIndex): the index is 0...15") }
        var data = IdentifyNamespace()
        data.size = blocks
        data.capacity = capacity
        data.formattedLBASize = UInt8(formatIndex)
        data.multipathCapabilities = shared ? 1 : 0  // NMIC bit 0: may be attached to several controllers
        let buffer = try device.dma.allocateForNVMe(length: IdentifyNamespace.encodedSize)
        do {
            try data.encode(into: buffer.bytes)
        } catch {
            throw .invalidArgument("the namespace's Identify Namespace data does not encode: \(error)")
        }
        let cqe = try namespaceManagementCommand(
            .namespaceManagement(.create), data: buffer.slice(offset: 0, length: IdentifyNamespace.encodedSize), name: "Namespace Management (create)")
        // Device data: the new NSID must be a valid one (1...NN, not broadcast).
        let id = cqe.commandSpecific
        guard id >= 1, id != 0xFFFF_FFFF, id <= identity.numberOfNamespaces else {
            throw .deviceMisbehaved("Namespace Management (create) returned NSID \(id), outside 1...NN \(identity.numberOfNamespaces)")
        }
        return id
    }

    /// Deletes namespace `id` (from every controller it is attached to) and rescans.
    @discardableResult
    public func deleteNamespace(_ id: UInt32) throws(NVMeError) -> NamespaceChanges {
        try requireNamespaceManagement("Namespace Management (delete)")
        try checkNamespaceID(id)
        try namespaceManagementCommand(.namespaceManagement(.delete, namespaceID: id), data: nil, name: "Namespace Management (delete) of namespace \(id)")
        return try rescanNamespaces(changed: [id])
    }

    private func namespaceAttachment(_ select: NamespaceAttachmentSelect, _ id: UInt32, controllers: [UInt16]?) throws(NVMeError) -> NamespaceChanges {
        let name = "Namespace Attachment (\(select == .attach ? "attach" : "detach") namespace \(id))"
        try requireNamespaceManagement(name)
        try checkNamespaceID(id)
        let list = controllers ?? [identity.controllerID]
        guard !list.isEmpty, list.count <= ControllerList.capacity else {
            throw .invalidArgument("a controller list of \(list.count) entries: give 1...\(ControllerList.capacity) controller ids")
        }
        let buffer = try device.dma.allocateForNVMe(length: ControllerList.encodedSize)
        do {
            try ControllerList(controllerIDs: list).encode(into: buffer.bytes)
        } catch {
            throw .invalidArgument("the controller list does not encode: \(error)")
        }
        try namespaceManagementCommand(
            .namespaceAttachment(select, namespaceID: id), data: buffer.slice(offset: 0, length: ControllerList.encodedSize), name: name)
        return try rescanNamespaces(changed: [id])
    }

    /// NSIDs are 1...NN; broadcast and 0 name no single namespace.
    private func checkNamespaceID(_ id: UInt32) throws(NVMeError) {
        guard id >= 1, id <= identity.numberOfNamespaces else {
            throw .invalidArgument("namespace \(id): this controller's NSIDs are 1...\(identity.numberOfNamespaces) (Identify Controller NN)")
        }
    }

    /// OACS bit 3 clear: the controller has neither command.
    private func requireNamespaceManagement(_ command: String) throws(NVMeError) {
        guard identity.oacs.contains(.namespaceManagement) else {
            throw .optionalCommandUnsupported(command: command, reason: "Identify Controller OACS bit 3 is clear")
        }
    }

    /// The command, with Invalid Command Opcode (a controller whose OACS promises more than it
    /// implements, as QEMU 7.2 for Namespace Management) turned into `.optionalCommandUnsupported`.
    @discardableResult
    private func namespaceManagementCommand(_ command: SubmissionQueueEntry, data: DMASlice?, name: String) throws(NVMeError) -> CompletionQueueEntry {
        do {
            return try adminCommand(command, data: data, name: name)
        } catch {
            if case .commandFailed(_, let status) = error, status.matches(.invalidCommandOpcode) {
                throw .optionalCommandUnsupported(command: name, reason: "the controller refused its opcode (Invalid Command Opcode) although OACS bit 3 is set")
            }
            throw error
        }
    }
}
