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

/// One complete, consistent PDU found at the start of a byte stream.
@frozen
public struct PDUFrame: Hashable, Sendable {
    public var type: PDUType
    public var flags: PDUFlags
    /// HLEN: the PDU specific header ends here.
    public var headerLength: Int
    /// The PDU's data, as byte offsets from the PDU's start; empty when it has none.
    public var data: Range<Int>
    /// PLEN: the PDU ends here; the next one starts.
    public var length: Int
    /// False when the data digest did not match (a command error, not a fatal one: NVMe/TCP 1.0,
    /// 3.6.4); true when it matched or there was none.
    public var dataDigestValid: Bool
}

/// What the framer found at the start of the received bytes.
public enum FramingResult: Hashable, Sendable {
    /// The PDU is not complete: wait until at least `needed` bytes are buffered. `needed` is never
    /// more than the `maximumLength` the framer was given.
    case incomplete(needed: Int)
    case pdu(PDUFrame)
    /// The stream cannot be framed any further: terminate the connection.
    case fatal(TransportFatalError)
}

/// Finds PDU boundaries in a received byte stream and checks everything the common header says
/// before any of it is used (NVMe/TCP 1.0, 3.6.2): the type and its direction, HLEN for the type,
/// the digest flags against what was negotiated, PLEN against HLEN, the digests and the receiver's
/// limit, PDO against the header, the alignment and PLEN. Then the header digest. Pure and
/// allocation-free; it never traps and never reads past `bytes` (the fuzz target `fuzz-tcp-pdu`
/// holds it to that).
public enum PDUFramer {
    /// Largest PLEN of a termination request: its header plus up to 128 bytes of the offending
    /// PDU header (NVMe/TCP 1.0, 3.6.2.4-5).
    public static let maximumTermReqLength = 24 + 128

    /// Frames the PDU at the start of `bytes`, travelling `direction`, in `format`, refusing PLEN
    /// above `maximumLength`.
    public static func frame(
        _ bytes: UnsafeRawBufferPointer, receiving direction: PDUDirection, format: PDUFormat, maximumLength: Int
    ) -> FramingResult {
        guard let ch = CommonHeader(bytes: bytes) else { return .incomplete(needed: CommonHeader.size) }
        guard let type = ch.type else {
            return .fatal(.invalidField(at: CommonHeader.Field.type.rawValue, "PDU type 0x\(hex(ch.typeByte)) is not defined"))
        }
        guard type.direction == direction else {
            return .fatal(.invalidField(at: CommonHeader.Field.type.rawValue, "\(type) travels the other way"))
        }
        let hlen = Int(ch.headerLength)
        guard hlen == type.headerLength else {
            return .fatal(.invalidField(at: CommonHeader.Field.headerLength.rawValue, "\(type) HLEN \(hlen), expected \(type.headerLength)"))
        }
        let plen = Int(ch.length)
        let pdo = Int(ch.dataOffset)
        let data: Range<Int>
        switch type {
        case .icReq, .icResp:
            guard ch.flags.isDisjoint(with: [.headerDigest, .dataDigest]) else {
                return .fatal(.invalidField(at: CommonHeader.Field.flags.rawValue, "\(type) with digest flags"))
            }
            guard plen == hlen else {
                return .fatal(.invalidField(at: CommonHeader.Field.length.rawValue, "\(type) PLEN \(plen), expected \(hlen)"))
            }
            guard pdo == 0 else {
                return .fatal(.invalidField(at: CommonHeader.Field.dataOffset.rawValue, "\(type) PDO \(pdo), expected 0"))
            }
            data = hlen..<hlen
        case .h2cTermReq, .c2hTermReq:
            // Digests never apply; the data is the quoted header, whatever PDO says (the peer is
            // closing the connection, only its status matters).
            guard plen >= hlen, plen <= maximumTermReqLength else {
                return .fatal(.invalidField(at: CommonHeader.Field.length.rawValue, "\(type) PLEN \(plen) outside \(hlen)...\(maximumTermReqLength)"))
            }
            data = hlen..<plen
        case .capsuleCommand, .capsuleResponse, .h2cData, .c2hData, .r2t:
            let hdgst = format.headerDigestLength(type)
            guard ch.flags.contains(.headerDigest) == (hdgst != 0) else {
                return .fatal(.invalidField(
                    at: CommonHeader.Field.flags.rawValue,
                    format.headerDigest ? "\(type) without the negotiated header digest" : "\(type) with a header digest that was not negotiated"))
            }
            let prefix = hlen + hdgst
            guard plen >= prefix else {
                return .fatal(.invalidField(at: CommonHeader.Field.length.rawValue, "\(type) PLEN \(plen) shorter than its header (\(prefix))"))
            }
            guard plen <= maximumLength else {
                return .fatal(TransportFatalError(.dataTransferLimitExceeded, "\(type) PLEN \(plen) over the limit \(maximumLength)"))
            }
            if plen == prefix {
                // No data: H2CData and C2HData exist only to carry some.
                guard type != .h2cData, type != .c2hData else {
                    return .fatal(.invalidField(at: CommonHeader.Field.length.rawValue, "\(type) without data"))
                }
                guard pdo == 0 || pdo == prefix else {
                    return .fatal(.invalidField(at: CommonHeader.Field.dataOffset.rawValue, "\(type) PDO \(pdo) without data"))
                }
                guard !ch.flags.contains(.dataDigest) else {
                    return .fatal(.invalidField(at: CommonHeader.Field.flags.rawValue, "\(type) without data has a data digest flag"))
                }
                data = prefix..<prefix
            } else {
                guard type.mayCarryData else {
                    return .fatal(.invalidField(at: CommonHeader.Field.length.rawValue, "\(type) PLEN \(plen), expected \(prefix)"))
                }
                let ddgst = format.dataDigestLength(type)
                guard ch.flags.contains(.dataDigest) == (ddgst != 0) else {
                    return .fatal(.invalidField(
                        at: CommonHeader.Field.flags.rawValue,
                        format.dataDigest ? "\(type) without the negotiated data digest" : "\(type) with a data digest that was not negotiated"))
                }
                let alignment = max(4, format.dataAlignment)
                guard pdo >= prefix, pdo % alignment == 0, pdo + ddgst < plen else {
                    return .fatal(.invalidField(
                        at: CommonHeader.Field.dataOffset.rawValue,
                        "\(type) PDO \(pdo) with HLEN \(hlen), PLEN \(plen), \(alignment)-byte alignment"))
                }
                data = pdo..<(plen - ddgst)
            }
            if type == .c2hData, ch.flags.contains(.success), !ch.flags.contains(.lastPDU) {
                return .fatal(.invalidField(at: CommonHeader.Field.flags.rawValue, "C2HData with SUCCESS but not LAST_PDU"))
            }
        }
        guard bytes.count >= plen else { return .incomplete(needed: plen) }

        if format.headerDigestLength(type) != 0 {
            let expected = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[0..<hlen]))
            let received = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: hlen, as: UInt32.self))
            guard expected == received else {
                return .fatal(TransportFatalError(
                    .headerDigestError, "\(type) header digest 0x\(hex(received)), computed 0x\(hex(expected))"))
            }
        }
        var dataDigestValid = true
        if !data.isEmpty, format.dataDigestLength(type) != 0 {
            let expected = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[data]))
            let received = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: data.upperBound, as: UInt32.self))
            dataDigestValid = expected == received
        }
        return .pdu(PDUFrame(type: type, flags: ch.flags, headerLength: hlen, data: data, length: plen, dataDigestValid: dataDigestValid))
    }
}

@usableFromInline
func hex<T: BinaryInteger>(_ value: T) -> String { String(value, radix: 16) }
