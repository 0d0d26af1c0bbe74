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

/// The Fabrics command opcode (NVMe over Fabrics 1.1, 3.3): every Fabrics command is opcode 7Fh,
/// and FCTYPE in byte 4 (where NSID sits in other commands) names which one.
public let fabricsCommandOpcode: UInt8 = 0x7F

/// FCTYPE (NVMe over Fabrics 1.1, Figure 14; Linux `enum nvmf_fabrics_opcode`).
public enum FabricsCommandType: UInt8, Sendable, CaseIterable {
    case propertySet = 0x00
    case connect = 0x01
    case propertyGet = 0x04
    case authenticationSend = 0x05
    case authenticationReceive = 0x06
    case disconnect = 0x08
}

extension SubmissionQueueEntry {
    /// FCTYPE (byte 4) of a Fabrics command.
    @inlinable public var fabricsCommandType: UInt8 { UInt8(truncatingIfNeeded: namespaceID) }

    /// SGL1 (bytes 39:24), where a Fabrics transport puts the data pointer (PSDT is SGL).
    @inlinable public var firstSGL: SGLDescriptor {
        SGLDescriptor(address: prp1, length: UInt32(truncatingIfNeeded: prp2), dword3: UInt32(truncatingIfNeeded: prp2 >> 32))
    }

    /// A Fabrics command of `type`: opcode 7Fh, FCTYPE in byte 4.
    public static func fabrics(_ type: FabricsCommandType) -> SubmissionQueueEntry {
        var entry = SubmissionQueueEntry(opcode: fabricsCommandOpcode)
        entry.namespaceID = UInt32(type.rawValue)
        return entry
    }

    /// Sets SGL1 to `descriptor` and PSDT to SGL (the only data pointer NVMe/TCP uses).
    public mutating func setFirstSGL(_ descriptor: SGLDescriptor) {
        prp1 = descriptor.address
        prp2 = UInt64(descriptor.length) | UInt64(descriptor.dword3) << 32
        flags = flags & 0x3F | DataPointerType.sgl.rawValue << 6
    }
}

/// The fields of a Connect command (NVMe over Fabrics 1.1, 3.3 Figure 20).
public struct ConnectCommand: Hashable, Sendable {
    /// RECFMT (bytes 41:40): record format, 0 is the only one.
    public var recordFormat: UInt16
    /// QID (bytes 43:42): 0 for the admin queue, else the I/O queue.
    public var queueID: UInt16
    /// SQSIZE (bytes 45:44): submission queue size, zero-based.
    public var submissionQueueSize: UInt16
    /// CATTR (byte 46): bit 2 asks to disable SQ flow control.
    public var attributes: UInt8
    /// KATO (bytes 51:48): keep alive timeout in milliseconds, 0 for none (admin queue only).
    public var keepAliveTimeoutMilliseconds: UInt32

    public init(queueID: UInt16, submissionQueueSize: UInt16, keepAliveTimeoutMilliseconds: UInt32 = 0, attributes: UInt8 = 0, recordFormat: UInt16 = 0) {
        self.recordFormat = recordFormat
        self.queueID = queueID
        self.submissionQueueSize = submissionQueueSize
        self.attributes = attributes
        self.keepAliveTimeoutMilliseconds = keepAliveTimeoutMilliseconds
    }

    public init(_ entry: SubmissionQueueEntry) {
        recordFormat = UInt16(truncatingIfNeeded: entry.cdw10)
        queueID = UInt16(truncatingIfNeeded: entry.cdw10 >> 16)
        submissionQueueSize = UInt16(truncatingIfNeeded: entry.cdw11)
        attributes = UInt8(truncatingIfNeeded: entry.cdw11 >> 16)
        keepAliveTimeoutMilliseconds = entry.cdw12
    }

    /// The command (SGL1 still to be set to its 1024 bytes of data).
    public var entry: SubmissionQueueEntry {
        var e = SubmissionQueueEntry.fabrics(.connect)
        e.cdw10 = UInt32(recordFormat) | UInt32(queueID) << 16
        e.cdw11 = UInt32(submissionQueueSize) | UInt32(attributes) << 16
        e.cdw12 = keepAliveTimeoutMilliseconds
        return e
    }
}

/// The 1024 bytes of Connect data (NVMe over Fabrics 1.1, Figure 21).
public struct ConnectData: Hashable, Sendable {
    /// HOSTID (bytes 15:00).
    public var hostID: [UInt8]
    /// CNTLID (bytes 17:16): FFFFh asks for any controller (dynamic model) on the admin queue; on
    /// an I/O queue, the controller the admin Connect returned.
    public var controllerID: UInt16
    /// SUBNQN (bytes 511:256), NUL-terminated.
    public var subsystemNQN: String
    /// HOSTNQN (bytes 767:512), NUL-terminated.
    public var hostNQN: String

    public static let size = 1024
    /// The dynamic controller model's "any controller" (Linux `NVME_CNTLID_DYNAMIC`).
    public static let dynamicControllerID: UInt16 = 0xFFFF

    public init(hostID: [UInt8], controllerID: UInt16 = dynamicControllerID, subsystemNQN: String, hostNQN: String) {
        self.hostID = Array((hostID + Array(repeating: 0, count: 16)).prefix(16))
        self.controllerID = controllerID
        self.subsystemNQN = subsystemNQN
        self.hostNQN = hostNQN
    }

    /// Decodes the data; nil when fewer than 1024 bytes came, or an NQN is not NUL-terminated
    /// within its 256 bytes or not UTF-8 (the host's input, untrusted).
    public init?(bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= Self.size else { return nil }
        hostID = Array(bytes[0..<16])
        controllerID = UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 16, as: UInt16.self))
        guard let subsystem = Self.nqn(bytes, at: 256), let host = Self.nqn(bytes, at: 512) else { return nil }
        subsystemNQN = subsystem
        hostNQN = host
    }

    private static func nqn(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> String? {
        let field = bytes[offset..<(offset + 256)]
        guard let end = field.firstIndex(of: 0) else { return nil }
        return String(validating: field[offset..<end], as: UTF8.self)
    }

    public func encode(into buffer: UnsafeMutableRawBufferPointer) {
        precondition(buffer.count >= Self.size, "Connect data needs 1024 bytes")
        buffer.baseAddress!.initializeMemory(as: UInt8.self, repeating: 0, count: Self.size)
        for (i, b) in hostID.prefix(16).enumerated() { buffer[i] = b }
        buffer.storeBytes(of: controllerID.littleEndian, toByteOffset: 16, as: UInt16.self)
        for (i, b) in subsystemNQN.utf8.prefix(255).enumerated() { buffer[256 + i] = b }
        for (i, b) in hostNQN.utf8.prefix(255).enumerated() { buffer[512 + i] = b }
    }
}

/// The fields of Property Get and Property Set (NVMe over Fabrics 1.1, 3.4 and 3.5).
public struct PropertyCommand: Hashable, Sendable {
    /// ATTRIB bits 2:0 (byte 40): 0 for a 4-byte property, 1 for an 8-byte one.
    public var eightBytes: Bool
    /// OFST (bytes 47:44): the property's offset, as in the PCIe register map (CAP 0h, VS 8h,
    /// CC 14h, CSTS 1Ch).
    public var offset: UInt32
    /// VALUE (bytes 55:48), Property Set only.
    public var value: UInt64

    public init(eightBytes: Bool, offset: UInt32, value: UInt64 = 0) {
        self.eightBytes = eightBytes
        self.offset = offset
        self.value = value
    }

    public init(_ entry: SubmissionQueueEntry) {
        eightBytes = entry.cdw10 & 0b111 == 1
        offset = entry.cdw11
        value = UInt64(entry.cdw12) | UInt64(entry.cdw13) << 32
    }

    /// The command of `type` (`.propertyGet` or `.propertySet`).
    public func entry(_ type: FabricsCommandType) -> SubmissionQueueEntry {
        var e = SubmissionQueueEntry.fabrics(type)
        e.cdw10 = eightBytes ? 1 : 0
        e.cdw11 = offset
        if type == .propertySet {
            e.cdw12 = UInt32(truncatingIfNeeded: value)
            e.cdw13 = UInt32(truncatingIfNeeded: value >> 32)
        }
        return e
    }
}

extension NVMeStatus {
    /// Connect Incompatible Format (NVMe over Fabrics 1.1, Figure 22: command specific 80h).
    public static let connectIncompatibleFormat = NVMeStatus(codeType: .commandSpecific, code: 0x80)
    /// Connect Controller Busy (81h): the queue is already connected.
    public static let connectControllerBusy = NVMeStatus(codeType: .commandSpecific, code: 0x81)
    /// Connect Invalid Parameters (82h): DW0 names the bad field (`ConnectInvalidParameter`).
    public static let connectInvalidParameters = NVMeStatus(codeType: .commandSpecific, code: 0x82)
    /// Connect Invalid Host (84h): the host is not allowed to use the subsystem.
    public static let connectInvalidHost = NVMeStatus(codeType: .commandSpecific, code: 0x84)
    /// Invalid Field in Command (generic 02h) is also what a bad property offset gets.
    /// Transient Transport Error (generic 22h): NVMe/TCP 1.0, 3.6.4, for a data digest error.
    public static let transientTransportError = NVMeStatus(codeType: .generic, code: 0x22)
    /// Keep Alive Timer Expired (generic 19h).
    public static let keepAliveTimerExpired = NVMeStatus(codeType: .generic, code: 0x19)
}

/// Where a Connect Invalid Parameters error points (its completion's DW0: IATTR bit 16 says data
/// (1) or command (0), IPO bits 15:0 the byte offset; NVMe over Fabrics 1.1, Figure 23).
public enum ConnectInvalidParameter: Sendable {
    case commandByte(UInt16)
    case dataByte(UInt16)

    public var dword0: UInt32 {
        switch self {
        case .commandByte(let offset): UInt32(offset)
        case .dataByte(let offset): 1 << 16 | UInt32(offset)
        }
    }

    public static let queueID = ConnectInvalidParameter.commandByte(42)
    public static let submissionQueueSize = ConnectInvalidParameter.commandByte(44)
    public static let controllerID = ConnectInvalidParameter.dataByte(16)
    public static let subsystemNQN = ConnectInvalidParameter.dataByte(256)
    public static let hostNQN = ConnectInvalidParameter.dataByte(512)
}

extension SGLDescriptor {
    /// SGL identifier of in-capsule data: Data Block, subtype Offset (Linux
    /// `NVME_SGL_FMT_DATA_DESC << 4 | NVME_SGL_FMT_OFFSET`): the address is an offset into the capsule.
    public static let inCapsuleIdentifier: UInt8 = 0x01
    /// SGL identifier of data the transport moves (R2T/H2CData, C2HData): Transport Data Block,
    /// subtype Transport Specific Ah (Linux `NVME_TRANSPORT_SGL_DATA_DESC << 4 | NVME_SGL_FMT_TRANSPORT_A`).
    public static let transportDataIdentifier: UInt8 = 0x5A

    /// In-capsule data of `length` bytes at `offset` into the capsule's data.
    public static func inCapsule(offset: UInt64 = 0, length: UInt32) -> SGLDescriptor {
        SGLDescriptor(address: offset, length: length, dword3: UInt32(inCapsuleIdentifier) << 24)
    }

    /// `length` bytes moved by the transport.
    public static func transportData(length: UInt32) -> SGLDescriptor {
        SGLDescriptor(address: 0, length: length, dword3: UInt32(transportDataIdentifier) << 24)
    }
}
