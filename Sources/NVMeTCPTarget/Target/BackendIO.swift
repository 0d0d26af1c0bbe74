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
    /// The I/O commands passed to the backend: those Identify Controller ONCS may advertise, and
    /// the mandatory three. Anything else gets Invalid Command Opcode without reaching the device.
    static func passesThrough(_ opcode: UInt8) -> Bool {
        switch IOOpcode(rawValue: opcode) {
        case .flush, .write, .read, .writeZeroes, .datasetManagement, .compare: true
        default: false
        }
    }

    /// Checks an I/O command and queues it for the backend.
    mutating func submitIO(_ c: Int, slot s: Int) {
        let command = connections[c].slots[s].command
        guard Self.passesThrough(command.opcode) else {
            complete(c, slot: s, status: .invalidCommandOpcode)
            return
        }
        // Flush may name every namespace (FFFFFFFFh); the others one exported namespace.
        let broadcastFlush = command.opcode == IOOpcode.flush.rawValue && command.namespaceID == 0xFFFF_FFFF
        guard broadcastFlush || subsystem.namespace(command.namespaceID) != nil else {
            complete(c, slot: s, status: .invalidNamespaceOrFormat)
            return
        }
        if command.opcode == IOOpcode.read.rawValue || command.opcode == IOOpcode.write.rawValue || command.opcode == IOOpcode.compare.rawValue,
            let ns = subsystem.namespace(command.namespaceID), ns.bytes(blocks: command.blockCount) != connections[c].slots[s].length
        {
            // The SGL must cover exactly the blocks (NVMe base 1.4, 4.4: Data SGL Length Invalid).
            complete(c, slot: s, status: .dataSGLLengthInvalid)
            return
        }
        connections[c].slots[s].state = .readyToSubmit
        readyToSubmit.append((c, s))
        submitReady()
        if connections[c].slots[s].state == .readyToSubmit { connections[c].statistics.backendQueueWaits &+= 1 }
    }

    /// Submits queued commands while the backend queue has room; rings the doorbell once.
    mutating func submitReady() {
        while readyHead < readyToSubmit.count, pair.canSubmit {
            let (c, s) = readyToSubmit[readyHead]
            readyHead += 1
            // Skipped when its connection closed meanwhile (the slot was freed).
            guard connections[c].slots[s].state == .readyToSubmit else { continue }
            var entry = connections[c].slots[s].command
            // The host's data pointer and CID are the transport's; the backend gets PRPs (or an
            // SGL) for our buffer and its own command id.
            entry.flags = 0
            entry.metadataPointer = 0
            entry.prp1 = 0
            entry.prp2 = 0
            let token = UInt64(connections[c].generation) << 32 | UInt64(c) << 16 | UInt64(s)
            let length = connections[c].slots[s].length
            let data = length > 0 ? connections[c].slots[s].buffer?.slice.prefix(length) : nil
            do {
                _ = try pair.submit(entry, data: data, token: token)
                connections[c].slots[s].state = .inBackend
                connections[c].inBackend += 1
            } catch {
                complete(c, slot: s, status: .internalError)
            }
        }
        if readyHead == readyToSubmit.count {
            readyToSubmit.removeAll(keepingCapacity: true)
            readyHead = 0
        }
        pair.ringSubmissionDoorbell()
    }

    /// Reaps the backend (servicing an emulated device first), answers the hosts, submits what
    /// waited for room and resumes stalled connections. Returns the completions reaped.
    public mutating func poll() throws(NVMeError) -> Int {
        let sink = reaped
        var count = 0
        _ = try pair.waitForCompletions(atLeast: 0, mode: .poll, timeoutMilliseconds: 0) { completion in
            if count < sink.count {
                sink[count] = completion
                count += 1
            }
        }
        for i in 0..<count { finish(reaped[i]) }
        if readyHead < readyToSubmit.count { submitReady() }
        if count > 0 {
            for c in connections.indices where connections[c].stalled && connections[c].pendingOutput < outputLimit {
                resume(c)
            }
        }
        return count
    }

    /// A backend completion: the read data and the response go to the host, unless its connection
    /// closed meanwhile; either way the buffer comes back now (the device is done with it).
    mutating func finish(_ completion: Completion) {
        let c = Int(completion.token >> 16 & 0xFFFF)
        let s = Int(completion.token & 0xFFFF)
        let generation = UInt32(completion.token >> 32)
        guard c < connections.count, connections[c].generation == generation, s < connections[c].slots.count,
            connections[c].slots[s].state == .inBackend
        else { return }
        connections[c].inBackend -= 1
        guard connections[c].phase == .established else {
            releaseSlot(c, s)
            return
        }
        let command = connections[c].slots[s].command
        let dataIn = DataTransferDirection(opcode: command.opcode) == .controllerToHost ? connections[c].slots[s].length : 0
        if command.opcode == IOOpcode.write.rawValue, completion.status.isSuccess {
            connections[c].statistics.writtenBytes &+= UInt64(connections[c].slots[s].length)
        }
        complete(c, slot: s, status: completion.status, dword0: completion.commandSpecific, dataIn: dataIn)
    }

    /// Advances the engine's clock to `now` (monotonic nanoseconds) and ends the associations whose
    /// keep-alive expired: their connections, on this engine, close. Call it every few hundred
    /// milliseconds.
    public mutating func tick(now: UInt64) {
        self.now = now
        _ = subsystem.expireControllers(now: now)
        for c in connections.indices where connections[c].phase == .established {
            guard let cntlid = connections[c].controllerID, subsystem.controller(cntlid) == nil else { continue }
            connections[c].closeReason = "controller \(cntlid) ended (keep-alive expired or its admin queue closed)"
            connections[c].phase = .closing
        }
    }
}
