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

/// What a namespace rescan found different from before (NSIDs, increasing).
public struct NamespaceChanges: Sendable, Equatable, CustomStringConvertible {
    /// Newly active (attached or created).
    public var added: [UInt32]
    /// No longer active (detached or deleted): their I/O fails with `.namespaceNotAttached`.
    public var removed: [UInt32]
    /// Still active with different geometry or usability (resized, reformatted).
    public var changed: [UInt32]

    public init(added: [UInt32] = [], removed: [UInt32] = [], changed: [UInt32] = []) {
        self.added = added
        self.removed = removed
        self.changed = changed
    }

    public var isEmpty: Bool { added.isEmpty && removed.isEmpty && changed.isEmpty }

    public var description: String {
        func list(_ ids: [UInt32]) -> String { ids.isEmpty ? "-" : ids.map(String.init).joined(separator: ",") }
        return "added \(list(added)), removed \(list(removed)), changed \(list(changed))"
    }
}

extension Controller {
    /// Reads the active namespace list again and identifies what is new or changed, so namespaces
    /// attached, detached or resized while the driver runs appear, disappear or change without a
    /// restart. Namespaces already held as `Namespace` values keep their old geometry; get them
    /// again with `namespace(_:)`.
    @discardableResult
    public func rescanNamespaces() throws(NVMeError) -> NamespaceChanges {
        try rescanNamespaces(changed: nil)
    }

    /// The rescan after a Changed Namespace List: `changed` (nil: all) are identified again,
    /// besides every NSID that became active. Runs under the admin lock, so it sees one consistent
    /// active list and no other admin command slips in between.
    func rescanNamespaces(changed: Set<UInt32>?) throws(NVMeError) -> NamespaceChanges {
        let device = self.device, registers = self.registers, timeout = options.adminTimeoutMilliseconds
        let identity = self.identity, maximum = maximumTransferBytes, logger = self.logger
        return try withAdminQueue(name: "namespace rescan") { (queue) throws(NVMeError) -> NamespaceChanges in
            let active = try Self.activeNamespaceIDs(
                admin: &queue, device: device, registers: registers, timeout: timeout, identity: identity, logger: logger)
            var table = namespaceTable.withLock { $0 }
            let known = table.activeIDs
            let now = Set(active)
            var changes = NamespaceChanges()
            for id in known.subtracting(now).sorted() {
                table.remove(id)
                changes.removed.append(id)
            }
            let again = active.filter { !known.contains($0) || changed == nil || changed!.contains($0) }
            let before = Dictionary(uniqueKeysWithValues: again.compactMap { id in table.state(of: id).map { (id, $0) } })
            try Self.scanNamespaces(
                again, into: &table, admin: &queue, device: device, registers: registers, timeout: timeout,
                maximumTransferBytes: maximum, identity: identity, logger: logger)
            for id in again {
                if let old = before[id] {
                    if table.state(of: id) != old { changes.changed.append(id) }
                } else {
                    changes.added.append(id)
                }
            }
            namespaceTable.withLock { $0 = table }
            if !changes.isEmpty { logger.notice("NVMe \(device.name): namespaces rescanned: \(changes)") }
            return changes
        }
    }

    /// Throws `.namespaceNotAttached` if namespace `id` was active and a rescan found it gone.
    /// The blocking API calls it before submitting, so I/O to a detached namespace fails with
    /// the reason instead of a device status.
    func checkNamespaceAttached(_ id: UInt32) throws(NVMeError) {
        if namespaceTable.withLock({ $0.removed.contains(id) }) { throw .namespaceNotAttached(id) }
    }

    /// Whether the device still lists `id` as active (Identify Active Namespace List from
    /// `id - 1`): asked after an I/O command failed in a way an inactive NSID explains.
    func deviceListsNamespace(_ id: UInt32) throws(NVMeError) -> Bool {
        guard id > 0 else { return false }
        return try activeNamespaceIDs(after: id - 1).first == id
    }

    /// `failure` of an I/O command to namespace `id`, or `.namespaceNotAttached` when the status
    /// is what an inactive NSID gets (Invalid Field in Command, NVMe base 1.4, 6.1.5; or Invalid
    /// Namespace or Format) and the device no longer lists the namespace, which the table then
    /// records. Runs only on that failure path.
    func explainNamespaceFailure(_ failure: NVMeError, namespace id: UInt32) -> NVMeError {
        guard case .commandFailed(_, let status) = failure,
            status.matches(.invalidFieldInCommand) || status.matches(.invalidNamespaceOrFormat),
            (try? deviceListsNamespace(id)) == false
        else { return failure }
        namespaceTable.withLock { $0.remove(id) }
        return .namespaceNotAttached(id)
    }

    /// Runs `body` with the admin queue under its lock, with `adminCommand`'s gates (closed,
    /// failed, quiesced) and its handling of a command that timed out or met a fatal controller.
    func withAdminQueue<R: Sendable>(name: String, _ body: (inout AdminQueue) throws(NVMeError) -> R) throws(NVMeError) -> R {
        if closedFlag.load(ordering: .acquiring) { throw .closed }
        if let failure = recoveryFailure { throw failure }
        try checkNotQuiesced()
        let generation = resetGeneration.load(ordering: .acquiring)
        do {
            return try admin.withLock { (queue) throws(NVMeError) -> R in try body(&queue) }
        } catch {
            quietAfterAdminFailure(error, name: name, generation: generation)
            throw error
        }
    }
}
