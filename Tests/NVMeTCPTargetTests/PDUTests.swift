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
import NVMeTCPTarget
import Testing

/// Encodes with `body` into a fresh buffer and returns the PDU's bytes.
func encodePDU(capacity: Int = 1 << 17, _ body: (UnsafeMutableRawBufferPointer) -> Int) -> [UInt8] {
    var bytes = [UInt8](repeating: 0xEE, count: capacity)
    let n = bytes.withUnsafeMutableBytes { body($0) }
    return Array(bytes[0..<n])
}

func frame(_ bytes: [UInt8], _ direction: PDUDirection = .hostToController, format: PDUFormat = .initial, maximum: Int = 1 << 17) -> FramingResult {
    bytes.withUnsafeBytes { PDUFramer.frame($0, receiving: direction, format: format, maximumLength: maximum) }
}

func framed(_ bytes: [UInt8], _ direction: PDUDirection = .hostToController, format: PDUFormat = .initial) throws -> PDUFrame {
    guard case .pdu(let f) = frame(bytes, direction, format: format) else {
        Issue.record("expected a PDU, got \(frame(bytes, direction, format: format))")
        throw TransportFatalError(.pduSequenceError, "not framed")
    }
    return f
}

/// Frames `bytes` and decodes the typed PDU with `make`.
func decode<T>(
    _ bytes: [UInt8], _ direction: PDUDirection = .hostToController, format: PDUFormat = .initial,
    _ make: (PDUFrame, UnsafeRawBufferPointer) throws(TransportFatalError) -> T
) throws -> T {
    let f = try framed(bytes, direction, format: format)
    return try decode(bytes, frame: f, make)
}

/// Decodes the typed PDU of an already framed `bytes` (Result, not a typed-throws closure: the
/// 6.3 compiler crashes on the reabstraction thunk of the latter).
func decode<T>(
    _ bytes: [UInt8], frame f: PDUFrame, _ make: (PDUFrame, UnsafeRawBufferPointer) throws(TransportFatalError) -> T
) throws(TransportFatalError) -> T {
    let result: Result<T, TransportFatalError> = bytes.withUnsafeBytes { raw in Result { () throws(TransportFatalError) -> T in try make(f, raw) } }
    return try result.get()
}

func expectFatal(_ result: FramingResult, _ status: TransportFatalError.Status, information: UInt32? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
    guard case .fatal(let error) = result else {
        Issue.record("expected \(status), got \(result)", sourceLocation: sourceLocation)
        return
    }
    #expect(error.status == status, "\(error)", sourceLocation: sourceLocation)
    if let information { #expect(error.information == information, "\(error)", sourceLocation: sourceLocation) }
}

@Suite struct PDULayoutTests {
    @Test func icRespMatchesTheKernelsLayout() {
        let bytes = encodePDU { ICRespPDU(digests: [.header], maximumH2CDataLength: 0x40_0000).encode(into: $0) }
        #expect(bytes.count == 128)
        #expect(Array(bytes[0..<16]) == [0x01, 0x00, 128, 0, 128, 0, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00, 0x40, 0x00])
        #expect(bytes[16...].allSatisfy { $0 == 0 })
    }

    @Test func capsuleCommandCarriesTheSQEAndAHeaderDigestAt72() throws {
        let sqe = SubmissionQueueEntry.read(namespaceID: 1, lba: 0x1_0000_0002, blocks: 8)
        let format = PDUFormat(headerDigest: true)
        let bytes = encodePDU { CapsuleCommandPDU(command: sqe).encode(format: format, into: $0) }
        #expect(bytes.count == 76)
        #expect(Array(bytes[0..<8]) == [0x04, 0x01, 72, 0, 76, 0, 0, 0])
        #expect(bytes[8] == 0x02)
        let digest = bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[0..<72])) }
        #expect(Array(bytes[72..<76]) == withUnsafeBytes(of: digest.littleEndian, Array.init))
        let f = try framed(bytes, format: format)
        let decoded = try decode(bytes, frame: f) { f, raw throws(TransportFatalError) in try CapsuleCommandPDU(f, in: raw) }
        #expect(decoded.command == sqe)
    }

    @Test func inCapsuleDataStartsAtAnAlignedPDOWithItsDigestAfter() throws {
        let data = (0..<100).map { UInt8($0) }
        let format = PDUFormat(headerDigest: true, dataDigest: true, dataAlignment: 32)
        let bytes = encodePDU { buffer in
            data.withUnsafeBytes { CapsuleCommandPDU(command: .write(namespaceID: 1, lba: 0, blocks: 1)).encode(inCapsuleData: $0, format: format, into: buffer) }
        }
        // HLEN 72 + HDGST 4 = 76, padded to 96; 100 bytes of data; DDGST 4.
        #expect(bytes[3] == 96)
        #expect(bytes.count == 96 + 100 + 4)
        #expect(bytes[76..<96].allSatisfy { $0 == 0 })
        let f = try framed(bytes, format: format)
        #expect(f.data == 96..<196)
        #expect(f.dataDigestValid)
        #expect(f.flags.contains([.headerDigest, .dataDigest]))
    }

    @Test func everyPDUSurvivesAnEncodeDecodeRoundTrip() throws {
        for format in [PDUFormat(), PDUFormat(headerDigest: true, dataDigest: true), PDUFormat(dataDigest: true, dataAlignment: 128)] {
            let icReq = ICReqPDU(hostPDUDataAlignment: 3, digests: [.header, .data], maximumR2Ts: 7)
            let icReqBytes = encodePDU { icReq.encode(into: $0) }
            #expect(try decode(icReqBytes) { f, raw throws(TransportFatalError) in try ICReqPDU(f, in: raw) } == icReq)

            let icResp = ICRespPDU(controllerPDUDataAlignment: 1, digests: [.data], maximumH2CDataLength: 131072)
            let icRespBytes = encodePDU { icResp.encode(into: $0) }
            #expect(try decode(icRespBytes, .controllerToHost) { f, raw throws(TransportFatalError) in try ICRespPDU(f, in: raw) } == icResp)

            let cqe = CompletionQueueEntry(commandSpecific: 0xDEAD_BEEF, submissionQueueHead: 5, submissionQueueID: 2, commandID: 77, status: .lbaOutOfRange, phase: false)
            let respBytes = encodePDU { CapsuleResponsePDU(completion: cqe).encode(format: format, into: $0) }
            #expect(try decode(respBytes, .controllerToHost, format: format) { f, raw throws(TransportFatalError) in try CapsuleResponsePDU(f, in: raw) }.completion == cqe)

            let r2t = R2TPDU(commandID: 9, transferTag: 3, offset: 8192, length: 65536)
            let r2tBytes = encodePDU { r2t.encode(format: format, into: $0) }
            #expect(try decode(r2tBytes, .controllerToHost, format: format) { f, raw throws(TransportFatalError) in try R2TPDU(f, in: raw) } == r2t)

            let payload = (0..<4096).map { UInt8(truncatingIfNeeded: $0 * 7) }
            for type in [PDUType.h2cData, .c2hData] {
                let header = DataPDU(commandID: 4, transferTag: type == .h2cData ? 2 : 0, dataOffset: 4096, dataLength: 4096)
                let bytes = encodePDU { buffer in payload.withUnsafeBytes { header.encode(type, flags: [.lastPDU], data: $0, format: format, into: buffer) } }
                let f = try framed(bytes, type.direction, format: format)
                #expect(try decode(bytes, frame: f) { f, raw throws(TransportFatalError) in try DataPDU(f, in: raw) } == header)
                #expect(Array(bytes[f.data]) == payload)
                #expect(f.dataDigestValid)
                #expect(f.flags.contains(.lastPDU))
            }

            let term = TermReqPDU(status: 1, information: 3, quotedHeader: Array(r2tBytes.prefix(24)))
            for type in [PDUType.h2cTermReq, .c2hTermReq] {
                let bytes = encodePDU { term.encode(type, into: $0) }
                #expect(bytes.count == 48)
                #expect(try decode(bytes, type.direction, format: format) { f, raw throws(TransportFatalError) in try TermReqPDU(f, in: raw) } == term)
            }
        }
    }

    @Test func termReqKeepsFEIAtByte10AndQuotesAtMost128Bytes() {
        let term = TermReqPDU(status: 0x03, information: 0x0403_0201, quotedHeader: [UInt8](repeating: 0xAB, count: 300))
        let bytes = encodePDU { term.encode(.c2hTermReq, into: $0) }
        #expect(bytes.count == 152)
        #expect(Array(bytes[0..<16]) == [0x03, 0, 24, 0, 152, 0, 0, 0, 0x03, 0x00, 0x01, 0x02, 0x03, 0x04, 0, 0])
    }
}

@Suite struct PDUFramingTests {
    let commandFormat = PDUFormat(headerDigest: true, dataDigest: true)

    func capsule(data count: Int = 0, format: PDUFormat = .initial) -> [UInt8] {
        let data = [UInt8](repeating: 0x5A, count: count)
        return encodePDU { buffer in
            data.withUnsafeBytes { CapsuleCommandPDU(command: .write(namespaceID: 1, lba: 0, blocks: 1)).encode(inCapsuleData: $0, format: format, into: buffer) }
        }
    }

    @Test func everyTruncationOfAPDUIsIncompleteAndAsksForTheRest() {
        let bytes = capsule(data: 512, format: commandFormat)
        for n in 0..<bytes.count {
            let result = frame(Array(bytes[0..<n]), format: commandFormat)
            let expected = n < 8 ? 8 : bytes.count
            #expect(result == .incomplete(needed: expected), "at \(n) bytes")
        }
        if case .pdu(let f) = frame(bytes, format: commandFormat) { #expect(f.length == bytes.count) } else { Issue.record("whole PDU not framed") }
    }

    @Test func twoPDUsBackToBackAreFramedOneAtATime() throws {
        let first = capsule(data: 16), second = capsule()
        let f = try framed(first + second)
        #expect(f.length == first.count)
        #expect(try framed(Array((first + second)[f.length...])).length == second.count)
    }

    @Test func undefinedOrWrongWayTypesAreInvalidHeaderFields() {
        var bytes = capsule()
        bytes[0] = 0x08
        expectFatal(frame(bytes), .invalidHeaderField, information: 0)
        bytes[0] = 0x0A
        expectFatal(frame(bytes), .invalidHeaderField, information: 0)
        // A CapsuleResp arriving at the controller.
        let resp = encodePDU { CapsuleResponsePDU(completion: CompletionQueueEntry(submissionQueueHead: 0, submissionQueueID: 0, commandID: 1, phase: false)).encode(format: .initial, into: $0) }
        expectFatal(frame(resp), .invalidHeaderField, information: 0)
    }

    @Test func wrongHLENIsRejectedBeforeAnythingElse() {
        var bytes = capsule()
        bytes[2] = 71
        expectFatal(frame(bytes), .invalidHeaderField, information: 2)
    }

    @Test func digestFlagsMustMatchTheNegotiation() {
        // Header digest negotiated, PDU sent without it.
        expectFatal(frame(capsule(), format: commandFormat), .invalidHeaderField, information: 1)
        // Not negotiated, PDU carries one.
        expectFatal(frame(capsule(format: PDUFormat(headerDigest: true))), .invalidHeaderField, information: 1)
        // Data digest negotiated, in-capsule data without it.
        expectFatal(frame(capsule(data: 8, format: PDUFormat(headerDigest: true)), format: commandFormat), .invalidHeaderField, information: 1)
    }

    @Test func plenShorterThanTheHeaderOrOverTheLimitIsFatal() {
        var bytes = capsule()
        bytes[4] = 71
        expectFatal(frame(bytes), .invalidHeaderField, information: 4)
        let big = capsule(data: 2000)
        expectFatal(big.withUnsafeBytes { PDUFramer.frame($0, receiving: .hostToController, format: .initial, maximumLength: 1024) }, .dataTransferLimitExceeded)
        // A hostile PLEN of 4 GiB is refused from the first 8 bytes, before anything is buffered.
        var huge = Array(capsule()[0..<8])
        huge[4] = 0xFF; huge[5] = 0xFF; huge[6] = 0xFF; huge[7] = 0xFF
        expectFatal(frame(huge), .dataTransferLimitExceeded)
    }

    @Test func pdoInsideTheHeaderMisalignedOrPastTheDataIsFatal() {
        var bytes = capsule(data: 64)
        bytes[3] = 68
        expectFatal(frame(bytes), .invalidHeaderField, information: 3)
        bytes[3] = 74
        expectFatal(frame(bytes), .invalidHeaderField, information: 3)
        bytes[3] = 72 + 64
        expectFatal(frame(bytes), .invalidHeaderField, information: 3)
        var none = capsule()
        none[3] = 50
        expectFatal(frame(none), .invalidHeaderField, information: 3)
    }

    @Test func dataPDUsWithoutDataAndR2TsWithDataAreFatal() {
        var h2c = encodePDU { buffer in
            [UInt8](repeating: 1, count: 4).withUnsafeBytes { DataPDU(commandID: 1, dataOffset: 0, dataLength: 4).encode(.h2cData, data: $0, format: .initial, into: buffer) }
        }
        h2c[3] = 0
        h2c[4] = 24
        expectFatal(frame(Array(h2c[0..<24])), .invalidHeaderField, information: 4)
        var r2t = encodePDU { R2TPDU(commandID: 1, transferTag: 0, offset: 0, length: 4).encode(format: .initial, into: $0) }
        r2t[4] = 28
        expectFatal(frame(r2t + [0, 0, 0, 0], .controllerToHost), .invalidHeaderField, information: 4)
    }

    @Test func dataLengthMustMatchWhatPLENLeaves() throws {
        var bytes = encodePDU { buffer in
            [UInt8](repeating: 1, count: 16).withUnsafeBytes { DataPDU(commandID: 1, dataOffset: 0, dataLength: 16).encode(.h2cData, data: $0, format: .initial, into: buffer) }
        }
        bytes[16] = 17
        let f = try framed(bytes)
        #expect(throws: TransportFatalError.self) { _ = try decode(bytes, frame: f) { f, raw throws(TransportFatalError) in try DataPDU(f, in: raw) } }
    }

    @Test func successWithoutLastIsRefusedOnC2HData() {
        let bytes = encodePDU { buffer in
            [UInt8](repeating: 1, count: 8).withUnsafeBytes { DataPDU(commandID: 1, dataOffset: 0, dataLength: 8).encode(.c2hData, flags: [.success], data: $0, format: .initial, into: buffer) }
        }
        expectFatal(frame(bytes, .controllerToHost), .invalidHeaderField, information: 1)
    }

    @Test func aCorruptHeaderDigestIsFatalAndACorruptDataDigestIsNot() throws {
        var bytes = capsule(data: 32, format: commandFormat)
        bytes[72] ^= 1
        expectFatal(frame(bytes, format: commandFormat), .headerDigestError)
        bytes[72] ^= 1
        bytes[20] ^= 0x80   // inside the SQE: the header digest no longer matches either
        expectFatal(frame(bytes, format: commandFormat), .headerDigestError)
        bytes[20] ^= 0x80
        bytes[bytes.count - 5] ^= 0x10   // the last data byte
        let f = try framed(bytes, format: commandFormat)
        #expect(!f.dataDigestValid)
    }

    @Test func icReqChecksLengthVersionAndAlignment() throws {
        var bytes = encodePDU { ICReqPDU().encode(into: $0) }
        bytes[4] = 129
        expectFatal(frame(bytes + [0]), .invalidHeaderField, information: 4)
        bytes[4] = 128
        bytes[8] = 1
        let f = try framed(bytes)
        #expect(throws: TransportFatalError(.unsupportedParameter, information: 8, "ICReq PFV 1; only 0 (NVMe/TCP 1.0) exists")) {
            _ = try decode(bytes, frame: f) { f, raw throws(TransportFatalError) in try ICReqPDU(f, in: raw) }
        }
        bytes[8] = 0
        bytes[10] = 32
        #expect(throws: TransportFatalError.self) { _ = try decode(bytes, frame: f) { f, raw throws(TransportFatalError) in try ICReqPDU(f, in: raw) } }
        bytes[10] = 0
        bytes[1] = PDUFlags.headerDigest.rawValue
        expectFatal(frame(bytes), .invalidHeaderField, information: 1)
    }

    @Test func termReqsIgnoreDigestsAndCapTheirLength() throws {
        let term = encodePDU { TermReqPDU(status: 2, information: 0).encode(.h2cTermReq, into: $0) }
        // Readable even when digests were negotiated: termination must always get through.
        let f = try framed(term, format: commandFormat)
        #expect(f.type == .h2cTermReq)
        var long = term
        long[4] = 153
        expectFatal(frame(long + [UInt8](repeating: 0, count: 129)), .invalidHeaderField, information: 4)
    }

    @Test func randomGarbageNeverFramesOutsideItsBytes() {
        var generator = SplitMix64(seed: 7)
        for _ in 0..<20_000 {
            let count = Int(generator.next() % 200)
            var bytes = (0..<count).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            if count > 0 { bytes[0] = UInt8(generator.next() % 11) }
            if count > 2 { bytes[2] = [24, 72, 128, UInt8(truncatingIfNeeded: generator.next())][Int(generator.next() % 4)] }
            if count > 7 { bytes[5] = 0; bytes[6] = 0; bytes[7] = 0 }
            let format = PDUFormat(headerDigest: generator.next() & 1 == 0, dataDigest: generator.next() & 1 == 0, dataAlignment: 4 << Int(generator.next() % 4))
            for direction in [PDUDirection.hostToController, .controllerToHost] {
                if case .pdu(let f) = frame(bytes, direction, format: format, maximum: 4096) {
                    #expect(f.length <= bytes.count && f.data.upperBound <= f.length && f.headerLength <= f.length)
                }
            }
        }
    }
}
