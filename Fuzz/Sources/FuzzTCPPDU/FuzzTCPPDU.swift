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

import FuzzSupport
import NVMeTCPTarget

/// The NVMe/TCP PDU framer and every typed PDU decoder on an arbitrary byte stream, in either
/// direction, with arbitrary negotiated digests, alignment and length limit: framing never traps,
/// never reads outside the stream (AddressSanitizer), never reports a PDU longer than the bytes
/// or the limit, and asks for at most the limit when a PDU is incomplete. Every PDU that decodes
/// is encoded again and must frame and decode to the same value.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTCPPDU(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let setup = input.byte()
    let direction: PDUDirection = setup & 1 == 0 ? .hostToController : .controllerToHost
    let format = PDUFormat(headerDigest: setup & 2 != 0, dataDigest: setup & 4 != 0, dataAlignment: PDUFormat.alignment(pduDataAlignment: input.byte()))
    let maximum = 8 + Int(input.integer(UInt16.self))
    let stream = input.rest()
    stream.withUnsafeBytes { all in
        var offset = 0
        while offset < all.count {
            let bytes = UnsafeRawBufferPointer(rebasing: all[offset...])
            switch PDUFramer.frame(bytes, receiving: direction, format: format, maximumLength: maximum) {
            case .incomplete(let needed):
                fuzzCheck(needed > bytes.count, "incomplete with \(bytes.count) bytes but only \(needed) needed")
                fuzzCheck(needed <= max(maximum, 152, 128) , "asked for \(needed) bytes over the limit \(maximum)")
                return
            case .fatal(let error):
                _ = error.description
                return
            case .pdu(let frame):
                fuzzCheck(frame.length <= bytes.count && frame.length > 0, "PDU of \(frame.length) bytes in \(bytes.count)")
                fuzzCheck(frame.headerLength <= frame.length && frame.data.lowerBound >= frame.headerLength
                          && frame.data.upperBound <= frame.length, "frame \(frame) out of its own bounds")
                let pdu = UnsafeRawBufferPointer(rebasing: bytes[0..<frame.length])
                roundTrip(frame, pdu, format: format, direction: direction, maximum: maximum)
                offset += frame.length
            }
        }
    }
    return 0
}

/// Decodes the typed PDU; if that works, encodes it again and checks it frames and decodes to
/// the same value.
func roundTrip(_ frame: PDUFrame, _ pdu: UnsafeRawBufferPointer, format: PDUFormat, direction: PDUDirection, maximum: Int) {
    let data = UnsafeRawBufferPointer(rebasing: pdu[frame.data])
    var out = [UInt8](repeating: 0, count: frame.length + 256)
    func again<T: Equatable>(_ value: T, _ encode: (UnsafeMutableRawBufferPointer) -> Int, _ decode: (PDUFrame, UnsafeRawBufferPointer) throws(TransportFatalError) -> T) {
        out.withUnsafeMutableBytes { buffer in
            let n = encode(buffer)
            let encoded = UnsafeRawBufferPointer(rebasing: buffer[0..<n])
            guard case .pdu(let f) = PDUFramer.frame(encoded, receiving: direction, format: format, maximumLength: max(maximum, n)) else {
                fuzzCheck(false, "\(frame.type) re-encoded does not frame")
                return
            }
            do {
                let decoded = try decode(f, encoded)
                fuzzCheck(decoded == value, "\(frame.type) changed in a round trip")
                fuzzCheck(Array(encoded[f.data]) == Array(data), "\(frame.type) data changed in a round trip")
            } catch {
                fuzzCheck(false, "\(frame.type) re-encoded does not decode: \(error)")
            }
        }
    }
    switch frame.type {
    case .icReq:
        guard let v = try? ICReqPDU(frame, in: pdu) else { return }
        again(v, { v.encode(into: $0) }) { f, b throws(TransportFatalError) in try ICReqPDU(f, in: b) }
    case .icResp:
        guard let v = try? ICRespPDU(frame, in: pdu) else { return }
        again(v, { v.encode(into: $0) }) { f, b throws(TransportFatalError) in try ICRespPDU(f, in: b) }
    case .h2cTermReq, .c2hTermReq:
        guard let v = try? TermReqPDU(frame, in: pdu) else { return }
        _ = v.knownStatus
        again(v, { v.encode(frame.type, into: $0) }) { f, b throws(TransportFatalError) in try TermReqPDU(f, in: b) }
    case .capsuleCommand:
        guard let v = try? CapsuleCommandPDU(frame, in: pdu) else { return }
        again(v, { v.encode(inCapsuleData: data, format: format, into: $0) }) { f, b throws(TransportFatalError) in try CapsuleCommandPDU(f, in: b) }
    case .capsuleResponse:
        guard let v = try? CapsuleResponsePDU(frame, in: pdu) else { return }
        again(v, { v.encode(format: format, into: $0) }) { f, b throws(TransportFatalError) in try CapsuleResponsePDU(f, in: b) }
    case .h2cData, .c2hData:
        guard let v = try? DataPDU(frame, in: pdu) else { return }
        let flags = frame.flags.intersection([.lastPDU, .success])
        again(v, { v.encode(frame.type, flags: flags, data: data, format: format, into: $0) }) { f, b throws(TransportFatalError) in try DataPDU(f, in: b) }
    case .r2t:
        guard let v = try? R2TPDU(frame, in: pdu) else { return }
        again(v, { v.encode(format: format, into: $0) }) { f, b throws(TransportFatalError) in try R2TPDU(f, in: b) }
    }
}
