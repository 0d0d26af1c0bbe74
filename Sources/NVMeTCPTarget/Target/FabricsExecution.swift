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

extension TargetEngine {
    /// Connect, Property Get/Set and Disconnect (NVMe over Fabrics 1.1, 3.3-3.5; Disconnect 3.6).
    mutating func executeFabrics(_ c: Int, slot s: Int) {
        let command = connections[c].slots[s].command
        switch FabricsCommandType(rawValue: command.fabricsCommandType) {
        case .connect:
            let (status, dword0) = connect(c, slot: s)
            complete(c, slot: s, status: status, dword0: dword0)
        case .propertyGet:
            guard connections[c].queueID == 0, let cntlid = connections[c].controllerID,
                let value = subsystem.withController(cntlid, { $0.properties.get(PropertyCommand(command)) }) ?? nil
            else {
                complete(c, slot: s, status: .invalidFieldInCommand)
                return
            }
            complete(c, slot: s, status: .success, dword0: UInt32(truncatingIfNeeded: value), dword1: UInt32(truncatingIfNeeded: value >> 32))
        case .propertySet:
            guard connections[c].queueID == 0, let cntlid = connections[c].controllerID,
                subsystem.withController(cntlid, { $0.properties.set(PropertyCommand(command)) }) == true
            else {
                complete(c, slot: s, status: .invalidFieldInCommand)
                return
            }
            complete(c, slot: s, status: .success)
        case .disconnect:
            // The response goes out, then the connection closes (its queue is deleted).
            complete(c, slot: s, status: .success)
            connections[c].closeReason = "host disconnected queue \(connections[c].queueID ?? 0)"
            connections[c].phase = .closing
        case .authenticationSend, .authenticationReceive, nil:
            complete(c, slot: s, status: .invalidCommandOpcode)
        }
    }

    /// Connect: the admin queue creates a controller (dynamic model), an I/O queue joins one.
    /// Returns the status and DW0 (the controller id, or where an invalid parameter is).
    mutating func connect(_ c: Int, slot s: Int) -> (NVMeStatus, UInt32) {
        let command = ConnectCommand(connections[c].slots[s].command)
        guard connections[c].queueID == nil else { return (.commandSequenceError, 0) }
        guard command.recordFormat == 0 else { return (.connectIncompatibleFormat, 0) }
        guard let buffer = connections[c].slots[s].buffer, connections[c].slots[s].length >= ConnectData.size,
            let data = ConnectData(bytes: UnsafeRawBufferPointer(start: buffer.address, count: ConnectData.size))
        else {
            return (.connectInvalidParameters, ConnectInvalidParameter.subsystemNQN.dword0)
        }
        let kind: TargetControllerKind
        switch data.subsystemNQN {
        case subsystem.configuration.subsystemNQN: kind = .nvm
        case discoveryNQN: kind = .discovery
        default: return (.connectInvalidParameters, ConnectInvalidParameter.subsystemNQN.dword0)
        }
        // A discovery controller has an admin queue only (Linux `nvmet`: its subsystem's max_qid is 0).
        guard kind == .nvm || command.queueID == 0 else {
            return (.connectInvalidParameters, ConnectInvalidParameter.queueID.dword0)
        }
        guard !data.hostNQN.isEmpty else { return (.connectInvalidHost, 0) }
        let entries = Int(command.submissionQueueSize) + 1
        guard entries >= 2, entries <= subsystem.configuration.queueEntries else {
            return (.connectInvalidParameters, ConnectInvalidParameter.submissionQueueSize.dword0)
        }
        let cntlid: UInt16
        if command.queueID == 0 {
            guard data.controllerID == ConnectData.dynamicControllerID else {
                return (.connectInvalidParameters, ConnectInvalidParameter.controllerID.dword0)
            }
            guard let id = subsystem.createController(
                kind: kind, hostNQN: data.hostNQN, hostID: data.hostID, keepAliveMilliseconds: command.keepAliveTimeoutMilliseconds, now: now)
            else { return (.connectControllerBusy, 0) }
            cntlid = id
        } else {
            let qid = command.queueID
            let joined = subsystem.withController(data.controllerID) { (state) -> NVMeStatus? in
                guard state.kind == .nvm, state.hostNQN == data.hostNQN, state.hostID == data.hostID else { return .connectInvalidParameters }
                guard state.properties.ready else { return .commandSequenceError }
                guard Int(qid) <= state.grantedIOQueues else { return .connectInvalidParameters }
                guard state.connectedIOQueues.insert(qid).inserted else { return .connectControllerBusy }
                return nil
            }
            switch joined {
            case nil:
                return (.connectInvalidParameters, ConnectInvalidParameter.controllerID.dword0)
            case .some(.some(let status)):
                let owner = subsystem.controller(data.controllerID)
                let at: ConnectInvalidParameter = owner?.hostNQN == data.hostNQN && owner?.kind == .nvm ? .queueID : .controllerID
                return (status, status == .connectInvalidParameters ? at.dword0 : 0)
            case .some(.none):
                cntlid = data.controllerID
            }
        }
        connections[c].queueID = command.queueID
        connections[c].controllerID = cntlid
        connections[c].queueSize = entries
        connections[c].discovery = kind == .discovery
        connections[c].hostNQN = data.hostNQN
        return (.success, UInt32(cntlid))
    }
}
