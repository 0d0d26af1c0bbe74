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

/// How PDUs look in one direction of a connection, as ICReq/ICResp negotiated it (NVMe/TCP 1.0,
/// 3.6.2.2-3): digests on or off (the same both ways), and the data alignment the receiver asked
/// for (CPDA for what the host sends, HPDA for what the controller sends).
@frozen
public struct PDUFormat: Hashable, Sendable {
    /// HDGST_ENABLE: every PDU but ICReq/ICResp/TermReq carries a header digest.
    public var headerDigest: Bool
    /// DDGST_ENABLE: every PDU with data carries a data digest after it.
    public var dataDigest: Bool
    /// PDU data starts at a multiple of this many bytes: (CPDA or HPDA + 1) * 4, 4...128.
    public var dataAlignment: Int

    @inlinable
    public init(headerDigest: Bool = false, dataDigest: Bool = false, dataAlignment: Int = 4) {
        self.headerDigest = headerDigest
        self.dataDigest = dataDigest
        self.dataAlignment = dataAlignment
    }

    /// Before ICReq/ICResp: no digests, dword alignment.
    public static let initial = PDUFormat()

    /// The alignment a CPDA or HPDA value (zero-based dwords, 0...31) stands for.
    @inlinable
    public static func alignment(pduDataAlignment value: UInt8) -> Int { (Int(value & 0x1F) + 1) * 4 }

    /// Bytes of header digest a PDU of `type` carries.
    @inlinable
    public func headerDigestLength(_ type: PDUType) -> Int { headerDigest && type.carriesDigests ? 4 : 0 }

    /// Bytes of data digest a PDU of `type` with data carries.
    @inlinable
    public func dataDigestLength(_ type: PDUType) -> Int { dataDigest && type.carriesDigests ? 4 : 0 }

    /// Where the parts of a PDU of `type` with `dataLength` bytes of data go.
    @inlinable
    public func layout(_ type: PDUType, dataLength: Int) -> PDULayout {
        let hlen = type.headerLength
        let prefix = hlen + headerDigestLength(type)
        guard dataLength > 0 else {
            return PDULayout(headerLength: hlen, dataOffset: 0, prefixLength: prefix, dataLength: 0, length: prefix)
        }
        let alignment = max(4, dataAlignment)
        let pdo = (prefix + alignment - 1) / alignment * alignment
        return PDULayout(
            headerLength: hlen, dataOffset: pdo, prefixLength: pdo, dataLength: dataLength,
            length: pdo + dataLength + dataDigestLength(type))
    }
}

/// The byte layout of one PDU on the wire.
@frozen
public struct PDULayout: Hashable, Sendable {
    /// HLEN.
    public var headerLength: Int
    /// PDO: where data starts, 0 when the PDU has none.
    public var dataOffset: Int
    /// Bytes before the data (header, header digest, padding); the whole PDU when it has no data.
    public var prefixLength: Int
    public var dataLength: Int
    /// PLEN.
    public var length: Int

    @inlinable
    public init(headerLength: Int, dataOffset: Int, prefixLength: Int, dataLength: Int, length: Int) {
        self.headerLength = headerLength
        self.dataOffset = dataOffset
        self.prefixLength = prefixLength
        self.dataLength = dataLength
        self.length = length
    }
}

/// Writes the parts of PDU headers every type shares.
public enum PDUEncoding {
    /// Writes the header of a PDU of `type` at the start of `buffer`: zeroes the header, stores the
    /// common header (FLAGS gets the digest flags `format` implies plus `flags`), lets `body` fill
    /// the PDU specific header (bytes 8..<HLEN), then stores the header digest and zero padding up
    /// to PDO. Returns the layout; the caller appends `layout.dataLength` bytes of data and, when
    /// `format` says so, their digest (`appendDataDigest`).
    @inlinable
    public static func writeHeader(
        _ type: PDUType, flags: PDUFlags = [], dataLength: Int = 0, format: PDUFormat,
        into buffer: UnsafeMutableRawBufferPointer, _ body: (UnsafeMutableRawBufferPointer) -> Void
    ) -> PDULayout {
        let layout = format.layout(type, dataLength: dataLength)
        precondition(buffer.count >= layout.prefixLength, "PDU header buffer too small")
        precondition(layout.length <= Int(UInt32.max), "PDU length over 4 GiB")
        let base = buffer.baseAddress!
        base.initializeMemory(as: UInt8.self, repeating: 0, count: layout.prefixLength)
        var allFlags = flags
        if format.headerDigestLength(type) != 0 { allFlags.insert(.headerDigest) }
        if dataLength > 0 && format.dataDigestLength(type) != 0 { allFlags.insert(.dataDigest) }
        CommonHeader(
            typeByte: type.rawValue, flags: allFlags, headerLength: UInt8(layout.headerLength),
            dataOffset: UInt8(layout.dataOffset), length: UInt32(layout.length)
        ).store(into: buffer)
        body(UnsafeMutableRawBufferPointer(rebasing: buffer[CommonHeader.size..<layout.headerLength]))
        if format.headerDigestLength(type) != 0 {
            let digest = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: buffer[0..<layout.headerLength]))
            buffer.storeBytes(of: digest.littleEndian, toByteOffset: layout.headerLength, as: UInt32.self)
        }
        return layout
    }

    /// Stores the data digest of `data` (little-endian) at `destination`.
    @inlinable
    public static func storeDataDigest(of data: UnsafeRawBufferPointer, at destination: UnsafeMutableRawPointer) {
        destination.storeBytes(of: CRC32C.checksum(data).littleEndian, as: UInt32.self)
    }
}
