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

/// The PDU specific header shared by H2CData and C2HData (NVMe/TCP 1.0, 3.6.2.8 and 3.6.2.9;
/// Linux `struct nvme_tcp_data_pdu`): which command, which transfer, where in its data.
@frozen
public struct DataPDU: Hashable, Sendable {
    /// CCCID (bytes 9:8): the command's CID.
    public var commandID: UInt16
    /// TTAG (bytes 11:10): the controller's transfer tag from the R2T (H2CData only; 0 in C2HData).
    public var transferTag: UInt16
    /// DATAO (bytes 15:12): offset of this PDU's data in the command's data.
    public var dataOffset: UInt32
    /// DATAL (bytes 19:16): bytes of data in this PDU; must match what PLEN and PDO leave.
    public var dataLength: UInt32

    @inlinable
    public init(commandID: UInt16, transferTag: UInt16 = 0, dataOffset: UInt32, dataLength: UInt32) {
        self.commandID = commandID
        self.transferTag = transferTag
        self.dataOffset = dataOffset
        self.dataLength = dataLength
    }

    /// Decodes a framed H2CData or C2HData; DATAL must equal the data the frame holds.
    @inlinable
    public init(_ frame: PDUFrame, in bytes: UnsafeRawBufferPointer) throws(TransportFatalError) {
        guard frame.type == .h2cData || frame.type == .c2hData, bytes.count >= 24, frame.headerLength == 24 else {
            throw .invalidField(at: 0, "not a framed data PDU")
        }
        commandID = UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt16.self))
        transferTag = UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 10, as: UInt16.self))
        dataOffset = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 12, as: UInt32.self))
        dataLength = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 16, as: UInt32.self))
        guard Int(dataLength) == frame.data.count else {
            throw .invalidField(at: 16, "\(frame.type) DATAL \(dataLength) but PLEN and PDO leave \(frame.data.count) bytes")
        }
        guard UInt64(dataOffset) + UInt64(dataLength) <= UInt64(UInt32.max) else {
            throw TransportFatalError(.dataTransferOutOfRange, "\(frame.type) DATAO \(dataOffset) + DATAL \(dataLength) wraps")
        }
    }

    /// Writes the header part of an H2CData or C2HData PDU carrying `dataLength` bytes (with
    /// `flags` such as LAST_PDU and SUCCESS); the data and its digest follow at `layout.dataOffset`.
    @inlinable
    public func encodeHeader(_ type: PDUType, flags: PDUFlags = [], format: PDUFormat, into buffer: UnsafeMutableRawBufferPointer) -> PDULayout {
        precondition(type == .h2cData || type == .c2hData, "a data PDU is H2CData or C2HData")
        precondition(dataLength > 0, "a data PDU carries data")
        return PDUEncoding.writeHeader(type, flags: flags, dataLength: Int(dataLength), format: format, into: buffer) { psh in
            psh.storeBytes(of: commandID.littleEndian, toByteOffset: 0, as: UInt16.self)
            psh.storeBytes(of: transferTag.littleEndian, toByteOffset: 2, as: UInt16.self)
            psh.storeBytes(of: dataOffset.littleEndian, toByteOffset: 4, as: UInt32.self)
            psh.storeBytes(of: self.dataLength.littleEndian, toByteOffset: 8, as: UInt32.self)
        }
    }

    /// Writes the whole PDU with `data` (DATAL must equal its length); returns PLEN.
    public func encode(_ type: PDUType, flags: PDUFlags = [], data: UnsafeRawBufferPointer, format: PDUFormat, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        precondition(Int(dataLength) == data.count, "DATAL must equal the data's length")
        let layout = encodeHeader(type, flags: flags, format: format, into: buffer)
        PDUEncoding.appendData(data, layout: layout, format: format, type: type, into: buffer)
        return layout.length
    }
}

/// R2T, Ready to Transfer (NVMe/TCP 1.0, 3.6.2.10; Linux `struct nvme_tcp_r2t_pdu`): the
/// controller asks for R2TL bytes of a command's data starting at R2TO, to come in H2CData PDUs
/// tagged TTAG.
@frozen
public struct R2TPDU: Hashable, Sendable {
    /// CCCID (bytes 9:8).
    public var commandID: UInt16
    /// TTAG (bytes 11:10): chosen by the controller, echoed in the H2CData PDUs.
    public var transferTag: UInt16
    /// R2TO (bytes 15:12).
    public var offset: UInt32
    /// R2TL (bytes 19:16): never 0.
    public var length: UInt32

    @inlinable
    public init(commandID: UInt16, transferTag: UInt16, offset: UInt32, length: UInt32) {
        self.commandID = commandID
        self.transferTag = transferTag
        self.offset = offset
        self.length = length
    }

    @inlinable
    public init(_ frame: PDUFrame, in bytes: UnsafeRawBufferPointer) throws(TransportFatalError) {
        guard frame.type == .r2t, bytes.count >= 24, frame.headerLength == 24 else {
            throw .invalidField(at: 0, "not a framed R2T")
        }
        commandID = UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt16.self))
        transferTag = UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 10, as: UInt16.self))
        offset = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 12, as: UInt32.self))
        length = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 16, as: UInt32.self))
        guard length > 0 else { throw .invalidField(at: 16, "R2T with R2TL 0") }
        guard UInt64(offset) + UInt64(length) <= UInt64(UInt32.max) else {
            throw TransportFatalError(.dataTransferOutOfRange, "R2T R2TO \(offset) + R2TL \(length) wraps")
        }
    }

    /// Writes the PDU; returns PLEN (24, or 28 with a header digest).
    @inlinable @discardableResult
    public func encode(format: PDUFormat, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        PDUEncoding.writeHeader(.r2t, format: format, into: buffer) { psh in
            psh.storeBytes(of: commandID.littleEndian, toByteOffset: 0, as: UInt16.self)
            psh.storeBytes(of: transferTag.littleEndian, toByteOffset: 2, as: UInt16.self)
            psh.storeBytes(of: offset.littleEndian, toByteOffset: 4, as: UInt32.self)
            psh.storeBytes(of: length.littleEndian, toByteOffset: 8, as: UInt32.self)
        }.length
    }
}
