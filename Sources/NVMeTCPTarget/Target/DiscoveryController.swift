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

/// The discovery controller (NVMe base 2.0, 3.1.3.3; NVMe over Fabrics 1.1, 5): what a host
/// reaches with `nvme discover`, connecting to `discoveryNQN` on the same port. Its admin queue
/// answers Identify Controller, Get Log Page 70h (one entry: the NVM subsystem on this port),
/// Keep Alive, the Keep Alive Timer and Asynchronous Event Configuration features and AERs; it has
/// no I/O queues and no namespaces (Linux `nvmet`'s discovery.c serves the same set).
extension TargetSubsystem {
    /// CNTRLTYPE (Identify Controller byte 111, NVMe base 2.0): 2 is a discovery controller.
    static var discoveryControllerType: UInt8 { 2 }
    /// LPA bit 2: Get Log Page takes NUMDU and an offset (the host reads the log in pieces).
    static var extendedLogPageData: UInt8 { 1 << 2 }

    /// The Discovery log: one entry, for the exported subsystem where the server listens. Its
    /// generation counter stays 1: the exported set is fixed for the target's life. A target
    /// listening on 0.0.0.0 names the address the host reached (`reachedAt`, the connection's
    /// local address), as Linux `nvmet-tcp` does: 0.0.0.0 is no address a host can connect to.
    public func discoveryLog(reachedAt local: ListenAddress? = nil) -> DiscoveryLogPage {
        var address = configuration.listenAddress
        if address.isAnyAddress, let local { address.address = local.address }
        return DiscoveryLogPage(generation: 1, entries: [
            DiscoveryLogEntry(
                portID: 1, adminQueueSize: UInt16(configuration.queueEntries), serviceID: String(address.port),
                subsystemNQN: configuration.subsystemNQN, address: address.dottedAddress)
        ])
    }

    /// Identify Controller (CNS 01h) of discovery controller `id`: CNTRLTYPE discovery, no
    /// namespaces, no I/O command set features, the discovery NQN (as `nvmet_execute_disc_identify`).
    public func identifyDiscoveryController(id: UInt16) -> [UInt8] {
        var identity = IdentifyController()
        identity.firmwareRevision = backendIdentity.firmwareRevision
        identity.controllerID = id
        identity.version = NVMeVersion(rawValue: 0x0001_0400)
        identity.mdts = configuration.mdts
        identity.asyncEventRequestLimit = UInt8(Self.heldEventLimit - 1)
        identity.lpa = Self.extendedLogPageData
        identity.maxcmd = UInt16(configuration.queueEntries)
        identity.sgls = 1 | 1 << 20
        identity.subsystemNQN = discoveryNQN
        var bytes = (try? identity.encoded()) ?? Array(repeating: 0, count: IdentifyController.encodedSize)
        bytes[IdentifyFieldOffset.controllerType] = Self.discoveryControllerType
        setFabricsIdentifyFields(&bytes)
        return bytes
    }
}

extension TargetEngine {
    /// An admin command on a discovery controller's queue; anything outside the discovery set is
    /// an invalid opcode, a log other than 70h or an Identify other than the controller an invalid field.
    mutating func executeDiscoveryAdmin(_ c: Int, slot s: Int, controllerID: UInt16) {
        let command = connections[c].slots[s].command
        switch AdminOpcode(rawValue: command.opcode) {
        case .identify:
            guard IdentifyCNS(rawValue: command.identifyCNS) == .controller else {
                complete(c, slot: s, status: .invalidFieldInCommand)
                return
            }
            returnData(c, slot: s, subsystem.identifyDiscoveryController(id: controllerID))
        case .getLogPage:
            guard command.logPageIdentifier == LogPageIdentifier.discovery.rawValue else {
                complete(c, slot: s, status: .invalidFieldInCommand)
                return
            }
            returnLogPart(c, slot: s, subsystem.discoveryLog(reachedAt: connections[c].localAddress).encoded())
        case .keepAlive:
            complete(c, slot: s, status: .success)
        case .setFeatures, .getFeatures:
            guard command.featureIdentifier == Self.keepAliveTimerFeature
                || command.featureIdentifier == FeatureIdentifier.asynchronousEventConfiguration.rawValue
            else {
                complete(c, slot: s, status: .invalidFieldInCommand)
                return
            }
            let (status, dword0) = features(command, controllerID: controllerID)
            complete(c, slot: s, status: status, dword0: dword0)
        case .asynchronousEventRequest:
            holdEvent(c, slot: s)
        default:
            complete(c, slot: s, status: .invalidCommandOpcode)
        }
    }

    /// Returns the part of `log` the command asks for: NUMD dwords from byte LPO (NVMe base 2.0,
    /// 5.16). An offset that is not a dword multiple or not inside the log is an invalid field (as
    /// the emulated controller's logs);
    /// bytes past the log's end read as zero; more dwords than the command's SGL holds is a
    /// length error. Nothing here traps on a host's values.
    mutating func returnLogPart(_ c: Int, slot s: Int, _ log: [UInt8]) {
        let command = connections[c].slots[s].command
        let offset = command.logPageOffset
        guard offset % 4 == 0, offset < UInt64(log.count) else {
            complete(c, slot: s, status: .invalidFieldInCommand)
            return
        }
        let count = command.logPageDwordCount * 4
        guard count <= connections[c].slots[s].length else {
            complete(c, slot: s, status: .dataSGLLengthInvalid)
            return
        }
        let start = Int(offset)
        returnData(c, slot: s, Array(log[start..<min(log.count, start + count)]), count: count)
    }
}
