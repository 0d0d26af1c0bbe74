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

import NVMe
import VFIO

/// One exported NVM subsystem: its NQN, namespaces and identity, and the controllers hosts have
/// created in it (the dynamic controller model: each admin Connect creates one, NVMe over Fabrics
/// 1.1, 4.2). Shared by the target's threads; only the admin path and Connect take its lock.
public final class TargetSubsystem: Sendable {
    public let configuration: TargetConfiguration
    /// The exported namespaces, by NSID, in NSID order.
    public let namespaces: [NamespaceInfo]
    /// The backend's Identify Controller, whose identity (VID, SN, MN, FR, ONCS, VWC) the target
    /// reports as its own.
    public let backendIdentity: IdentifyController
    let registry = TSanVisibleMutex(ControllerRegistry())

    /// Asynchronous Event Requests a controller holds at once (Identify Controller AERL + 1).
    static let heldEventLimit = 4

    /// The largest controller id (NVMe base 1.4: FFF0h...FFFFh are reserved).
    static let maximumControllerID: UInt16 = 0xFFEF

    public init(configuration: TargetConfiguration, namespaces: [NamespaceInfo], backendIdentity: IdentifyController) {
        self.configuration = configuration
        self.namespaces = namespaces.sorted { $0.id < $1.id }
        self.backendIdentity = backendIdentity
    }

    /// The namespaces of `backend` that `configuration` exports: the listed NSIDs (each must be
    /// usable and without metadata, which the target does not carry), or all such when none are listed.
    public static func exportedNamespaces(of backend: [NamespaceInfo], configuration: TargetConfiguration) throws(TargetError) -> [NamespaceInfo] {
        let plain = backend.filter { $0.metadataSize == 0 && $0.protection == nil }
        guard !configuration.namespaceIDs.isEmpty else {
            guard !plain.isEmpty else { throw .noNamespaceToExport }
            return plain
        }
        return try configuration.namespaceIDs.map { (id) throws(TargetError) -> NamespaceInfo in
            guard let ns = plain.first(where: { $0.id == id }) else {
                throw .namespaceNotExportable(id, available: plain.map(\.id))
            }
            return ns
        }
    }

    public func namespace(_ id: UInt32) -> NamespaceInfo? { namespaces.first { $0.id == id } }

    /// Controllers that exist now (one per connected host association).
    public var controllerCount: Int { registry.withLock { $0.controllers.count } }

    /// The controller `id`, if it exists (a copy of its state).
    public func controller(_ id: UInt16) -> TargetControllerState? { registry.withLock { $0.controllers[id] } }

    /// Creates a controller for an admin queue Connect. Nil when every controller id is taken.
    func createController(kind: TargetControllerKind, hostNQN: String, hostID: [UInt8], keepAliveMilliseconds: UInt32, now: UInt64) -> UInt16? {
        registry.withLock { registry -> UInt16? in
            guard let id = registry.freeID() else { return nil }
            registry.controllers[id] = TargetControllerState(
                id: id, kind: kind, hostNQN: hostNQN, hostID: hostID,
                properties: TargetProperties(queueEntries: configuration.queueEntries),
                keepAliveMilliseconds: keepAliveMilliseconds, lastActivity: now,
                grantedIOQueues: configuration.maximumIOQueues)
            return id
        }
    }

    /// Removes the controller (its admin queue went away, or its keep-alive expired); its I/O
    /// queues find it gone at their next tick and close.
    func removeController(_ id: UInt16) { registry.withLock { _ = $0.controllers.removeValue(forKey: id) } }

    /// Runs `body` on the controller's state; nil when it does not exist.
    func withController<R>(_ id: UInt16, _ body: (inout TargetControllerState) -> R) -> R? {
        registry.withLock { registry -> R? in
            guard var state = registry.controllers[id] else { return nil }
            let result = body(&state)
            registry.controllers[id] = state
            return result
        }
    }

    /// Removes every controller whose keep-alive timer expired at `now` and returns their ids.
    func expireControllers(now: UInt64) -> [UInt16] {
        registry.withLock { registry -> [UInt16] in
            let expired = registry.controllers.values.filter { $0.keepAliveExpired(now: now) }.map(\.id)
            for id in expired { registry.controllers.removeValue(forKey: id) }
            return expired
        }
    }
}

/// The controllers of a subsystem by id, and the next id to try (ids are handed out round-robin,
/// so a host that reconnects at once does not get the id its old, possibly still closing, association had).
struct ControllerRegistry: Sendable {
    var controllers: [UInt16: TargetControllerState] = [:]
    var nextID: UInt16 = 1

    mutating func freeID() -> UInt16? {
        guard controllers.count < Int(TargetSubsystem.maximumControllerID) else { return nil }
        while controllers[nextID] != nil { advance() }
        let id = nextID
        advance()
        return id
    }

    private mutating func advance() { nextID = nextID >= TargetSubsystem.maximumControllerID ? 1 : nextID + 1 }
}

/// What a controller serves: the subsystem's namespaces, or the discovery log.
public enum TargetControllerKind: Sendable, Equatable {
    /// An I/O controller of the exported NVM subsystem (Connect to its NQN).
    case nvm
    /// A discovery controller (Connect to `discoveryNQN`): an admin queue only, which tells the
    /// host where the NVM subsystem is (NVMe base 2.0, 3.1.3.3). Its ids come from the same
    /// registry, so no two associations share one.
    case discovery
}

/// One controller of the subsystem: a host association, from its admin Connect to its end.
public struct TargetControllerState: Sendable, Equatable {
    public let id: UInt16
    public let kind: TargetControllerKind
    public let hostNQN: String
    public let hostID: [UInt8]
    public var properties: TargetProperties
    /// KATO in milliseconds; 0 disables the keep-alive timer.
    public var keepAliveMilliseconds: UInt32
    /// Monotonic nanoseconds of the last Keep Alive (or any command: the timer restarts on each).
    public var lastActivity: UInt64
    /// I/O queues the host may connect (Set Features Number of Queues lowers it).
    public var grantedIOQueues: Int
    /// I/O queue ids connected now.
    public var connectedIOQueues: Set<UInt16> = []
    /// Asynchronous Event Configuration (Set Features 0Bh), as the host set it.
    public var asynchronousEventConfiguration: UInt32 = 0

    /// Whether the host went silent for longer than twice KATO. A host may send Keep Alive only
    /// once per KATO, and the Linux initiator sends none between its admin Connect and the end of
    /// its queue setup, which a slow machine stretches: in the HIL boot tcp (TCG) its reconnecting
    /// associations ended on a strict KATO. Linux's own target allows the same (its keep-alive
    /// timer re-arms for another KATO when any command came), and the spec lets a controller
    /// detect expiry late (NVMe base 1.4, 7.12.1).
    public func keepAliveExpired(now: UInt64) -> Bool {
        keepAliveMilliseconds != 0 && now &- lastActivity > UInt64(keepAliveMilliseconds) * 2_000_000
    }
}
