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

/// Digest types of ICReq/ICResp DGST (byte 11; Linux `enum nvme_tcp_digest_option`).
@frozen
public struct DigestOptions: OptionSet, Hashable, Sendable {
    public var rawValue: UInt8
    @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// HDGST_ENABLE.
    public static let header = DigestOptions(rawValue: 1 << 0)
    /// DDGST_ENABLE.
    public static let data = DigestOptions(rawValue: 1 << 1)
}

/// ICReq, Initialize Connection Request (NVMe/TCP 1.0, 3.6.2.2; Linux `struct nvme_tcp_icreq_pdu`):
/// the host's first PDU on a connection.
@frozen
public struct ICReqPDU: Hashable, Sendable {
    /// PFV (bytes 9:8): PDU format version; 0 is NVMe/TCP 1.0, the only one.
    public var formatVersion: UInt16
    /// HPDA (byte 10): alignment the host wants for C2H PDU data, zero-based dwords (0...31).
    public var hostPDUDataAlignment: UInt8
    /// DGST (byte 11): the digests the host wants.
    public var digests: DigestOptions
    /// MAXR2T (bytes 15:12): outstanding R2Ts per command the host accepts, zero-based.
    public var maximumR2Ts: UInt32

    public init(formatVersion: UInt16 = 0, hostPDUDataAlignment: UInt8 = 0, digests: DigestOptions = [], maximumR2Ts: UInt32 = 0) {
        self.formatVersion = formatVersion
        self.hostPDUDataAlignment = hostPDUDataAlignment
        self.digests = digests
        self.maximumR2Ts = maximumR2Ts
    }

    /// Decodes a framed ICReq. PFV other than 0 and HPDA above 31 are unsupported parameters.
    public init(_ frame: PDUFrame, in bytes: UnsafeRawBufferPointer) throws(TransportFatalError) {
        guard frame.type == .icReq, bytes.count >= frame.length, frame.length >= 128 else {
            throw .invalidField(at: 0, "not a framed ICReq")
        }
        formatVersion = UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt16.self))
        hostPDUDataAlignment = bytes[10]
        digests = DigestOptions(rawValue: bytes[11] & 0b11)
        maximumR2Ts = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 12, as: UInt32.self))
        guard formatVersion == 0 else {
            throw TransportFatalError(.unsupportedParameter, information: 8, "ICReq PFV \(formatVersion); only 0 (NVMe/TCP 1.0) exists")
        }
        guard hostPDUDataAlignment <= 31 else {
            throw TransportFatalError(.unsupportedParameter, information: 10, "ICReq HPDA \(hostPDUDataAlignment) over 31")
        }
    }

    /// Writes the 128-byte PDU; returns 128.
    @discardableResult
    public func encode(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        PDUEncoding.writeHeader(.icReq, format: .initial, into: buffer) { psh in
            psh.storeBytes(of: formatVersion.littleEndian, toByteOffset: 0, as: UInt16.self)
            psh[2] = hostPDUDataAlignment
            psh[3] = digests.rawValue
            psh.storeBytes(of: maximumR2Ts.littleEndian, toByteOffset: 4, as: UInt32.self)
        }.length
    }
}

/// ICResp, Initialize Connection Response (NVMe/TCP 1.0, 3.6.2.3; Linux `struct nvme_tcp_icresp_pdu`).
@frozen
public struct ICRespPDU: Hashable, Sendable {
    /// PFV (bytes 9:8).
    public var formatVersion: UInt16
    /// CPDA (byte 10): alignment the controller wants for H2C PDU data, zero-based dwords.
    public var controllerPDUDataAlignment: UInt8
    /// DGST (byte 11): the digests enabled on the connection.
    public var digests: DigestOptions
    /// MAXH2CDATA (bytes 15:12): the most data one H2CData PDU may carry; at least 4096, a
    /// multiple of 4 (the Linux host refuses anything else).
    public var maximumH2CDataLength: UInt32

    public static let minimumH2CDataLength: UInt32 = 4096

    public init(formatVersion: UInt16 = 0, controllerPDUDataAlignment: UInt8 = 0, digests: DigestOptions = [], maximumH2CDataLength: UInt32) {
        self.formatVersion = formatVersion
        self.controllerPDUDataAlignment = controllerPDUDataAlignment
        self.digests = digests
        self.maximumH2CDataLength = maximumH2CDataLength
    }

    /// Decodes a framed ICResp (the host side: the test initiator).
    public init(_ frame: PDUFrame, in bytes: UnsafeRawBufferPointer) throws(TransportFatalError) {
        guard frame.type == .icResp, bytes.count >= frame.length, frame.length >= 128 else {
            throw .invalidField(at: 0, "not a framed ICResp")
        }
        formatVersion = UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt16.self))
        controllerPDUDataAlignment = bytes[10]
        digests = DigestOptions(rawValue: bytes[11] & 0b11)
        maximumH2CDataLength = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 12, as: UInt32.self))
        guard formatVersion == 0 else {
            throw TransportFatalError(.unsupportedParameter, information: 8, "ICResp PFV \(formatVersion)")
        }
        guard controllerPDUDataAlignment <= 31 else {
            throw TransportFatalError(.unsupportedParameter, information: 10, "ICResp CPDA \(controllerPDUDataAlignment) over 31")
        }
        guard maximumH2CDataLength >= Self.minimumH2CDataLength, maximumH2CDataLength % 4 == 0 else {
            throw TransportFatalError(.unsupportedParameter, information: 12, "ICResp MAXH2CDATA \(maximumH2CDataLength)")
        }
    }

    /// Writes the 128-byte PDU; returns 128.
    @discardableResult
    public func encode(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        PDUEncoding.writeHeader(.icResp, format: .initial, into: buffer) { psh in
            psh.storeBytes(of: formatVersion.littleEndian, toByteOffset: 0, as: UInt16.self)
            psh[2] = controllerPDUDataAlignment
            psh[3] = digests.rawValue
            psh.storeBytes(of: maximumH2CDataLength.littleEndian, toByteOffset: 4, as: UInt32.self)
        }.length
    }
}
