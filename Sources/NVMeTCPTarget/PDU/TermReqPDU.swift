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

/// H2CTermReq / C2HTermReq, a termination request (NVMe/TCP 1.0, 3.6.2.4-5; Linux
/// `struct nvme_tcp_term_pdu`): FES, FEI, and as data up to 128 bytes of the PDU header that
/// caused the error. No digests, whatever was negotiated; the sender closes the connection after it.
///
/// FEI is at bytes 13:10 as the specification has it (the kernel's struct pads it to byte 12,
/// which only matters to readers of FEI; Linux hosts log FES alone).
@frozen
public struct TermReqPDU: Hashable, Sendable {
    /// FES (bytes 9:8), raw: a peer may send a value this side does not know.
    public var status: UInt16
    /// FEI (bytes 13:10).
    public var information: UInt32
    /// The quoted header bytes.
    public var quotedHeader: [UInt8]

    public static let maximumQuotedHeader = 128

    public init(status: UInt16, information: UInt32, quotedHeader: [UInt8] = []) {
        self.status = status
        self.information = information
        self.quotedHeader = Array(quotedHeader.prefix(Self.maximumQuotedHeader))
    }

    public init(_ error: TransportFatalError, quoting header: UnsafeRawBufferPointer) {
        self.init(status: error.status.rawValue, information: error.information, quotedHeader: Array(header.prefix(Self.maximumQuotedHeader)))
    }

    /// The status as a known FES, or nil.
    public var knownStatus: TransportFatalError.Status? { TransportFatalError.Status(rawValue: status) }

    public init(_ frame: PDUFrame, in bytes: UnsafeRawBufferPointer) throws(TransportFatalError) {
        guard frame.type == .h2cTermReq || frame.type == .c2hTermReq, bytes.count >= frame.length, frame.length >= 24,
              frame.data.upperBound <= bytes.count
        else {
            throw .invalidField(at: 0, "not a framed termination request")
        }
        status = UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt16.self))
        information = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 10, as: UInt32.self))
        quotedHeader = Array(bytes[frame.data].prefix(Self.maximumQuotedHeader))
    }

    /// Writes the PDU (`type` is `.h2cTermReq` or `.c2hTermReq`); returns its length, at most 152.
    @discardableResult
    public func encode(_ type: PDUType, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        precondition(type == .h2cTermReq || type == .c2hTermReq, "a termination request is H2CTermReq or C2HTermReq")
        let quoted = min(quotedHeader.count, Self.maximumQuotedHeader)
        let length = 24 + quoted
        precondition(buffer.count >= length, "termination request buffer too small")
        let base = buffer.baseAddress!
        base.initializeMemory(as: UInt8.self, repeating: 0, count: 24)
        // No digests and no PDO: the quoted header simply follows (PLEN covers it).
        CommonHeader(typeByte: type.rawValue, flags: [], headerLength: 24, dataOffset: 0, length: UInt32(length)).store(into: buffer)
        buffer.storeBytes(of: status.littleEndian, toByteOffset: 8, as: UInt16.self)
        buffer.storeBytes(of: information.littleEndian, toByteOffset: 10, as: UInt32.self)
        for i in 0..<quoted { buffer[24 + i] = quotedHeader[i] }
        return length
    }
}
