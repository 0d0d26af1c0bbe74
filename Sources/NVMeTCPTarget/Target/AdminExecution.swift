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
    /// The admin commands a Fabrics host sends (NVMe base 1.4, 5; which ones the Linux host sends
    /// on connect: `nvme_init_ctrl_finish`), answered by the target itself: the backend's admin
    /// queue belongs to the backend controller, not to the hosts.
    mutating func executeAdmin(_ c: Int, slot s: Int) {
        let command = connections[c].slots[s].command
        guard let cntlid = connections[c].controllerID else {
            complete(c, slot: s, status: .commandSequenceError)
            return
        }
        guard !connections[c].discovery else {
            executeDiscoveryAdmin(c, slot: s, controllerID: cntlid)
            return
        }
        switch AdminOpcode(rawValue: command.opcode) {
        case .identify:
            identify(c, slot: s, controllerID: cntlid)
        case .keepAlive:
            complete(c, slot: s, status: .success)
        case .setFeatures, .getFeatures:
            let (status, dword0) = features(command, controllerID: cntlid)
            complete(c, slot: s, status: status, dword0: dword0)
        case .asynchronousEventRequest:
            holdEvent(c, slot: s)
        case .getLogPage:
            getLogPage(c, slot: s)
        default:
            complete(c, slot: s, status: .invalidCommandOpcode)
        }
    }

    /// Keeps an Asynchronous Event Request until an event (none is raised yet) or the end of the
    /// connection; no response now. Beyond the limit it fails at once.
    mutating func holdEvent(_ c: Int, slot s: Int) {
        let held = connections[c].slots.count { $0.state == .heldEvent }
        guard held < TargetSubsystem.heldEventLimit else {
            complete(c, slot: s, status: .asynchronousEventRequestLimitExceeded)
            return
        }
        connections[c].slots[s].state = .heldEvent
    }

    /// Identify CNS 00h, 01h, 02h, 03h into the command's buffer.
    mutating func identify(_ c: Int, slot s: Int, controllerID: UInt16) {
        let command = connections[c].slots[s].command
        let page: [UInt8]?
        switch IdentifyCNS(rawValue: command.identifyCNS) {
        case .controller: page = subsystem.identifyController(id: controllerID)
        case .namespace: page = subsystem.identifyNamespace(command.namespaceID)
        case .activeNamespaceList: page = subsystem.activeNamespaceList(after: command.namespaceID)
        case .namespaceIdentificationDescriptors: page = subsystem.namespaceDescriptors(command.namespaceID)
        default:
            complete(c, slot: s, status: .invalidFieldInCommand)
            return
        }
        guard let page else {
            complete(c, slot: s, status: .invalidNamespaceOrFormat)
            return
        }
        returnData(c, slot: s, page)
    }

    /// Copies `bytes` (zero-padded) into the command's buffer and completes it with them: the
    /// first `count` bytes of the buffer (default: all the command's SGL describes).
    mutating func returnData(_ c: Int, slot s: Int, _ bytes: [UInt8], count: Int? = nil) {
        guard let buffer = connections[c].slots[s].buffer, (count ?? 0) <= connections[c].slots[s].length else {
            complete(c, slot: s, status: .dataSGLLengthInvalid)
            return
        }
        let length = count ?? connections[c].slots[s].length
        let destination = UnsafeMutableRawBufferPointer(start: buffer.address, count: length)
        destination.initializeMemory(as: UInt8.self, repeating: 0)
        bytes.withUnsafeBytes { destination.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0.prefix(length))) }
        complete(c, slot: s, status: .success, dataIn: length)
    }

    /// Number of Queues, Keep Alive Timer, Asynchronous Event Configuration; others are refused.
    func features(_ command: SubmissionQueueEntry, controllerID: UInt16) -> (NVMeStatus, UInt32) {
        let set = command.opcode == AdminOpcode.setFeatures.rawValue
        let result = subsystem.withController(controllerID) { (state) -> (NVMeStatus, UInt32) in
            switch command.featureIdentifier {
            case FeatureIdentifier.numberOfQueues.rawValue:
                if set {
                    // Grants at most what the target allows; never fewer than connected (the
                    // host asks before connecting its I/O queues).
                    let asked = NumberOfQueues(dword: command.cdw11)
                    let wanted = min(asked.submissionQueues, asked.completionQueues)
                    state.grantedIOQueues = max(min(wanted, subsystem.configuration.maximumIOQueues), state.connectedIOQueues.count)
                }
                let n = state.grantedIOQueues
                return (.success, NumberOfQueues(submissionQueues: n, completionQueues: n).dword)
            case Self.keepAliveTimerFeature:
                if set { state.keepAliveMilliseconds = command.cdw11 }
                return (.success, state.keepAliveMilliseconds)
            case FeatureIdentifier.asynchronousEventConfiguration.rawValue:
                if set { state.asynchronousEventConfiguration = command.cdw11 }
                return (.success, state.asynchronousEventConfiguration)
            default:
                return (.invalidFieldInCommand, 0)
            }
        }
        return result ?? (.commandSequenceError, 0)
    }

    /// Keep Alive Timer, FID 0Fh (NVMe base 1.4, 5.21.1.15): KATO in milliseconds.
    static var keepAliveTimerFeature: UInt8 { 0x0F }

    /// Error Information (01h): the target keeps no error log, so its entries are all zero, which
    /// a host reads as "no errors". Other logs are not offered (Identify Controller LPA is 0).
    mutating func getLogPage(_ c: Int, slot s: Int) {
        let command = connections[c].slots[s].command
        switch command.logPageIdentifier {
        case 0x01:
            returnData(c, slot: s, [])
        default:
            complete(c, slot: s, status: .invalidLogPage)
        }
    }
}
