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

import Logging
import VFIO

/// The controller's view of its active namespaces: filled at bring-up, replaced by each rescan
/// (a Namespace Attribute Changed event, or `Controller.rescanNamespaces`). A plain value behind
/// `Controller.namespaceTable`; the I/O path never reads it (a `Namespace` carries its own
/// `NamespaceInfo`).
struct NamespaceTable: Sendable {
    /// Usable namespaces, by increasing NSID.
    var usable: [NamespaceInfo] = []
    /// Active namespaces the driver cannot use, and why.
    var unusable: [UInt32: String] = [:]
    /// Identify Namespace data of every active namespace that returned it.
    var identify: [UInt32: IdentifyNamespace] = [:]
    /// NSIDs that were active and went away, so I/O to them fails with `.namespaceNotAttached`
    /// rather than "no such namespace". Cleared for an NSID that comes back.
    var removed: Set<UInt32> = []

    /// Every active NSID the table knows, usable or not.
    var activeIDs: Set<UInt32> { Set(usable.map(\.id)).union(unusable.keys) }

    /// What the table says about `id`, for comparing before and after a rescan.
    func state(of id: UInt32) -> NamespaceState? {
        if let info = usable.first(where: { $0.id == id }) { return .usable(info) }
        if let reason = unusable[id] { return .unusable(reason) }
        return nil
    }

    enum NamespaceState: Equatable {
        case usable(NamespaceInfo)
        case unusable(String)
    }

    mutating func remove(_ id: UInt32) {
        usable.removeAll { $0.id == id }
        unusable[id] = nil
        identify[id] = nil
        removed.insert(id)
    }

    mutating func set(_ id: UInt32, usable info: NamespaceInfo?, unusable reason: String?, identify data: IdentifyNamespace?) {
        usable.removeAll { $0.id == id }
        unusable[id] = nil
        removed.remove(id)
        identify[id] = data
        if let info {
            let at = usable.firstIndex { $0.id > id } ?? usable.endIndex
            usable.insert(info, at: at)
        }
        if let reason { unusable[id] = reason }
    }
}

extension Controller {
    /// Identifies each of `ids` and records it in `table` as usable or, with the reason, unusable.
    /// One bad namespace (its Identify refused or malformed, its geometry impossible) is listed as
    /// unusable; the others work. A controller that stops answering fails the scan.
    static func scanNamespaces(
        _ ids: [UInt32], into table: inout NamespaceTable, admin: inout AdminQueue, device: Device, registers: MMIORegion,
        timeout: Int, maximumTransferBytes: Int, identity: IdentifyController, logger: Logger
    ) throws(NVMeError) {
        for id in ids {
            var data: IdentifyNamespace?
            do throws(NVMeError) {
                let identify = try identifyNamespace(id, admin: &admin, device: device, registers: registers, timeout: timeout, logger: logger)
                data = identify
                let guardFormat = try guardFormat(
                    id, identify: identify, controller: identity, admin: &admin, device: device, registers: registers, timeout: timeout,
                    logger: logger)
                let info = try NamespaceInfo.validated(
                    id: id, identify: identify, guardFormat: guardFormat, maximumTransferBytes: maximumTransferBytes)
                table.set(id, usable: info, unusable: nil, identify: identify)
            } catch {
                switch error {
                case .namespaceUnusable(_, let reason):
                    table.set(id, usable: nil, unusable: reason, identify: data)
                case .commandFailed, .malformedData, .deviceMisbehaved:
                    table.set(id, usable: nil, unusable: "its Identify Namespace data could not be used (\(error))", identify: data)
                    logger.warning("NVMe \(device.name): namespace \(id) is unusable: \(error)")
                default:
                    throw error
                }
            }
        }
    }
}
