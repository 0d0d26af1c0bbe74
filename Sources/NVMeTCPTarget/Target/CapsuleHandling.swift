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
    /// A CapsuleCmd: takes a slot (and a DMA buffer when the command reads or carries its data),
    /// then runs the command at once, or asks for its data with an R2T. False when no buffer is
    /// free: the capsule stays in the input and the connection stalls until one is.
    ///
    /// A write whose data an R2T asks for takes its buffer only when the data arrives
    /// (`handleData`): a buffer held while waiting for H2CData that sits behind a stalled capsule
    /// in the same stream would never come back. The kernel's initiator, which sends capsules
    /// before their data, deadlocked the target that way (HIL boot tcp: 32 requests of one queue
    /// hung until the host's 30 s timeout). So every buffer taken is on its way to the backend,
    /// whose completions give it back.
    mutating func handleCapsule(_ c: Int, _ frame: PDUFrame, _ pdu: UnsafeRawBufferPointer) throws(TransportFatalError) -> Bool {
        let command = try CapsuleCommandPDU(frame, in: pdu).command
        let hostCID = command.commandID
        let inCapsule = frame.data.count
        // Direction and length of the data, from the opcode (Fabrics: from FCTYPE) and SGL1.
        var direction: DataTransferDirection
        if command.opcode == fabricsCommandOpcode {
            direction = command.fabricsCommandType == FabricsCommandType.connect.rawValue ? .hostToController : .none
        } else {
            direction = DataTransferDirection(opcode: command.opcode)
        }
        let sgl = command.firstSGL
        let length = direction == .none ? 0 : Int(sgl.length)
        // Set/Get Features carry the data direction bits of their opcode whether or not the
        // feature has data; an empty SGL means none (a read or write with an empty SGL fails its
        // length check in `submitIO`).
        if length == 0 { direction = .none }
        let dataFollows = direction == .hostToController && inCapsule == 0
        if length > 0, !dataFollows, buffers.available == 0 { return false }
        guard let s = connections[c].freeSlots.popLast() else {
            throw TransportFatalError(.pduSequenceError, "capsule CID \(hostCID) beyond the \(connections[c].slots.count) commands a queue holds")
        }
        connections[c].statistics.commands &+= 1
        if connections[c].queueSize > 0 {
            connections[c].submissionQueueHead = UInt16((Int(connections[c].submissionQueueHead) + 1) % connections[c].queueSize)
        }
        connections[c].slots[s].hostCommandID = hostCID
        connections[c].slots[s].command = command
        connections[c].slots[s].length = length
        if connections[c].queueID == nil, !(command.opcode == fabricsCommandOpcode && command.fabricsCommandType == FabricsCommandType.connect.rawValue) {
            // Before Connect only Connect is allowed (NVMe over Fabrics 1.1, 3.3).
            complete(c, slot: s, status: .commandSequenceError)
            return true
        }
        guard direction != .bidirectional else {
            complete(c, slot: s, status: .invalidFieldInCommand)
            return true
        }
        if direction == .none {
            // Data with a command that takes none is an invalid field; the capsule is consumed.
            guard inCapsule == 0 else {
                complete(c, slot: s, status: .invalidFieldInCommand)
                return true
            }
            execute(c, slot: s)
            return true
        }
        guard length <= subsystem.configuration.maximumTransferBytes else {
            // A command above MDTS is the host's error (it read MDTS).
            complete(c, slot: s, status: .dataSGLLengthInvalid)
            return true
        }
        if dataFollows {
            guard sgl.identifier == SGLDescriptor.transportDataIdentifier else {
                complete(c, slot: s, status: NVMeStatus(codeType: .generic, code: 0x11))  // SGL Descriptor Type Invalid
                return true
            }
            // One R2T for all of it: MAXR2T is at least 1, and the host splits it into H2CData
            // PDUs of at most MAXH2CDATA (our MDTS), so one always suffices.
            connections[c].slots[s].state = .receivingData
            let r2t = R2TPDU(commandID: hostCID, transferTag: UInt16(s), offset: 0, length: UInt32(length))
            let format = connections[c].sendFormat
            connections[c].appendOutput(format.layout(.r2t, dataLength: 0).length) { r2t.encode(format: format, into: $0) }
            connections[c].statistics.r2ts &+= 1
            return true
        }
        guard let buffer = buffers.allocate() else {
            // Checked above; a slab never shrinks in between.
            releaseSlot(c, s)
            return false
        }
        connections[c].slots[s].buffer = buffer
        if direction == .hostToController {
            guard sgl.identifier == SGLDescriptor.inCapsuleIdentifier, sgl.address == 0, inCapsule == length,
                inCapsule <= subsystem.configuration.inCapsuleDataBytes
            else {
                complete(c, slot: s, status: .dataSGLLengthInvalid)
                return true
            }
            buffer.address.copyMemory(from: pdu.baseAddress! + frame.data.lowerBound, byteCount: length)
            connections[c].slots[s].received = length
            guard frame.dataDigestValid else {
                connections[c].statistics.dataDigestErrors &+= 1
                complete(c, slot: s, status: .transientTransportError)
                return true
            }
            execute(c, slot: s)
            return true
        }
        guard inCapsule == 0 else {
            // In-capsule data with a read.
            complete(c, slot: s, status: .invalidFieldInCommand)
            return true
        }
        guard sgl.identifier == SGLDescriptor.transportDataIdentifier else {
            complete(c, slot: s, status: NVMeStatus(codeType: .generic, code: 0x11))  // SGL Descriptor Type Invalid
            return true
        }
        execute(c, slot: s)
        return true
    }

    /// An H2CData PDU: data for the R2T its transfer tag names, in order (the Linux host sends in
    /// order; a gap or overlap is a Data Transfer Out of Range, 3.6.2.8). The first one takes the
    /// command's buffer; false (stall, the PDU stays in the input) while none is free.
    mutating func handleData(_ c: Int, _ frame: PDUFrame, _ pdu: UnsafeRawBufferPointer) throws(TransportFatalError) -> Bool {
        let data = try DataPDU(frame, in: pdu)
        let s = Int(data.transferTag)
        guard s < connections[c].slots.count, connections[c].slots[s].state == .receivingData,
            connections[c].slots[s].hostCommandID == data.commandID
        else {
            throw .invalidField(at: 10, "H2CData TTAG \(data.transferTag) CCCID \(data.commandID) names no R2T in progress")
        }
        let slot = connections[c].slots[s]
        guard Int(data.dataOffset) == slot.received, slot.received + Int(data.dataLength) <= slot.length else {
            throw TransportFatalError(
                .dataTransferOutOfRange,
                "H2CData DATAO \(data.dataOffset) DATAL \(data.dataLength); expected offset \(slot.received) within \(slot.length) bytes")
        }
        if slot.buffer == nil {
            guard let taken = buffers.allocate() else { return false }
            connections[c].slots[s].buffer = taken
        }
        guard let buffer = connections[c].slots[s].buffer else { return false }
        (buffer.address + slot.received).copyMemory(from: pdu.baseAddress! + frame.data.lowerBound, byteCount: frame.data.count)
        connections[c].slots[s].received += frame.data.count
        if !frame.dataDigestValid {
            connections[c].slots[s].dataDigestFailed = true
            connections[c].statistics.dataDigestErrors &+= 1
        }
        let complete = connections[c].slots[s].received == slot.length
        guard complete == frame.flags.contains(.lastPDU) else {
            throw .invalidField(at: CommonHeader.Field.flags.rawValue, complete ? "the last H2CData of an R2T without LAST_PDU" : "LAST_PDU before the R2T's data was complete")
        }
        guard complete else { return true }
        if connections[c].slots[s].dataDigestFailed {
            self.complete(c, slot: s, status: .transientTransportError)
        } else {
            execute(c, slot: s)
        }
        return true
    }

    /// Runs a command whose data (if any) is in its buffer: Fabrics and admin commands here, I/O
    /// commands on the backend.
    mutating func execute(_ c: Int, slot s: Int) {
        let command = connections[c].slots[s].command
        if let controllerID = connections[c].controllerID {
            _ = subsystem.withController(controllerID) { $0.lastActivity = now }
        }
        if command.opcode == fabricsCommandOpcode {
            executeFabrics(c, slot: s)
        } else if connections[c].queueID == 0 {
            executeAdmin(c, slot: s)
        } else {
            submitIO(c, slot: s)
        }
    }
}
