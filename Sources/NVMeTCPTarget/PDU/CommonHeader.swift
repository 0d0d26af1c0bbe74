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

/// The 8-byte common header every PDU starts with (NVMe/TCP 1.0, 3.6.2; Linux `struct nvme_tcp_hdr`):
/// PDU-Type, FLAGS, HLEN, PDO, PLEN. Decoded raw: the type byte may be unknown and the lengths
/// inconsistent; `PDUFramer` checks them before anything is read past the header.
@frozen
public struct CommonHeader: Hashable, Sendable {
    /// PDU-Type, raw (byte 0).
    public var typeByte: UInt8
    /// FLAGS (byte 1).
    public var flags: PDUFlags
    /// HLEN (byte 2): common header plus PDU specific header, without the header digest.
    public var headerLength: UInt8
    /// PDO (byte 3): offset of the data from the start of the PDU; 0 when there is none.
    public var dataOffset: UInt8
    /// PLEN (bytes 7:4): the whole PDU on the wire, header, digests, padding and data.
    public var length: UInt32

    public static let size = 8

    @inlinable
    public init(typeByte: UInt8, flags: PDUFlags, headerLength: UInt8, dataOffset: UInt8, length: UInt32) {
        self.typeByte = typeByte
        self.flags = flags
        self.headerLength = headerLength
        self.dataOffset = dataOffset
        self.length = length
    }

    /// Decodes the first 8 bytes; nil when fewer are present.
    @inlinable
    public init?(bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= Self.size else { return nil }
        typeByte = bytes[0]
        flags = PDUFlags(rawValue: bytes[1])
        headerLength = bytes[2]
        dataOffset = bytes[3]
        length = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
    }

    /// The type, or nil for a value the transport does not define.
    @inlinable public var type: PDUType? { PDUType(rawValue: typeByte) }

    /// Writes the 8 bytes at the start of `buffer` (which must hold them).
    @inlinable
    public func store(into buffer: UnsafeMutableRawBufferPointer) {
        precondition(buffer.count >= Self.size, "common header needs 8 bytes")
        buffer[0] = typeByte
        buffer[1] = flags.rawValue
        buffer[2] = headerLength
        buffer[3] = dataOffset
        buffer.storeBytes(of: length.littleEndian, toByteOffset: 4, as: UInt32.self)
    }

    /// Byte offsets of the fields, for the FEI of an Invalid PDU Header Field termination.
    public enum Field: UInt32, Sendable {
        case type = 0
        case flags = 1
        case headerLength = 2
        case dataOffset = 3
        case length = 4
    }
}
