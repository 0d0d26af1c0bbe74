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

/// CapsuleCmd, a command capsule (NVMe/TCP 1.0, 3.6.2.6; Linux `struct nvme_tcp_cmd_pdu`): the
/// 64-byte SQE at bytes 71:8, then in-capsule data at PDO when the command carries some.
@frozen
public struct CapsuleCommandPDU: Hashable, Sendable {
    public var command: SubmissionQueueEntry

    @inlinable public init(command: SubmissionQueueEntry) { self.command = command }

    /// Decodes the SQE of a framed CapsuleCmd (its data, if any, is `frame.data`).
    @inlinable
    public init(_ frame: PDUFrame, in bytes: UnsafeRawBufferPointer) throws(TransportFatalError) {
        guard frame.type == .capsuleCommand, bytes.count >= 72, frame.headerLength == 72 else {
            throw .invalidField(at: 0, "not a framed CapsuleCmd")
        }
        // The SQE's memory layout is its little-endian wire layout (SubmissionQueueEntry's doc).
        command = bytes.loadUnaligned(fromByteOffset: 8, as: SubmissionQueueEntry.self)
    }

    /// Writes the header part (through PDO) for `dataLength` bytes of in-capsule data.
    @inlinable
    public func encodeHeader(dataLength: Int = 0, format: PDUFormat, into buffer: UnsafeMutableRawBufferPointer) -> PDULayout {
        PDUEncoding.writeHeader(.capsuleCommand, dataLength: dataLength, format: format, into: buffer) { psh in
            psh.storeBytes(of: command, toByteOffset: 0, as: SubmissionQueueEntry.self)
        }
    }

    /// Writes the whole PDU with `data` in the capsule (and its digest); returns PLEN.
    public func encode(inCapsuleData data: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0), format: PDUFormat, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        let layout = encodeHeader(dataLength: data.count, format: format, into: buffer)
        PDUEncoding.appendData(data, layout: layout, format: format, type: .capsuleCommand, into: buffer)
        return layout.length
    }
}

/// CapsuleResp, a response capsule (NVMe/TCP 1.0, 3.6.2.7; Linux `struct nvme_tcp_rsp_pdu`): the
/// 16-byte CQE at bytes 23:8. The CQE's phase tag has no meaning on a fabric and is sent as 0.
@frozen
public struct CapsuleResponsePDU: Hashable, Sendable {
    public var completion: CompletionQueueEntry

    @inlinable public init(completion: CompletionQueueEntry) { self.completion = completion }

    @inlinable
    public init(_ frame: PDUFrame, in bytes: UnsafeRawBufferPointer) throws(TransportFatalError) {
        guard frame.type == .capsuleResponse, bytes.count >= 24, frame.headerLength == 24 else {
            throw .invalidField(at: 0, "not a framed CapsuleResp")
        }
        completion = bytes.loadUnaligned(fromByteOffset: 8, as: CompletionQueueEntry.self)
    }

    /// Writes the PDU; returns PLEN (24, or 28 with a header digest).
    @inlinable @discardableResult
    public func encode(format: PDUFormat, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        PDUEncoding.writeHeader(.capsuleResponse, format: format, into: buffer) { psh in
            psh.storeBytes(of: completion, toByteOffset: 0, as: CompletionQueueEntry.self)
        }.length
    }
}

extension PDUEncoding {
    /// Copies `data` after the header `layout` describes and appends its digest when `format` has
    /// data digests (the whole-PDU encoders of the test initiator; the target sends data from its
    /// DMA buffers without copying).
    public static func appendData(
        _ data: UnsafeRawBufferPointer, layout: PDULayout, format: PDUFormat, type: PDUType, into buffer: UnsafeMutableRawBufferPointer
    ) {
        guard data.count > 0 else { return }
        precondition(buffer.count >= layout.length, "PDU buffer too small for its data")
        UnsafeMutableRawBufferPointer(rebasing: buffer[layout.dataOffset..<(layout.dataOffset + data.count)]).copyMemory(from: data)
        if format.dataDigestLength(type) != 0 {
            storeDataDigest(of: data, at: buffer.baseAddress! + layout.dataOffset + data.count)
        }
    }
}
