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
import VFIO

/// A connection's handle: its index in the engine and the generation that index had when it was
/// opened, so a stale handle (or a backend completion for a closed connection) is recognised.
public struct ConnectionID: Hashable, Sendable {
    public let index: Int
    public let generation: UInt32
}

/// Where a connection is in its life (NVMe/TCP 1.0, 3.3 connection establishment and 3.6.2.4
/// termination).
public enum ConnectionPhase: Sendable, Equatable {
    /// Accepted; the first PDU must be an ICReq.
    case awaitingICReq
    /// ICResp sent; capsules and data flow.
    case established
    /// Disconnected or terminated by the target: send what is buffered (a response to Disconnect,
    /// a C2HTermReq), then close the socket. Input is ignored.
    case closing
    /// The socket is gone; the index is reused once no backend command of it is outstanding.
    case closed
}

/// A command of a connection, from its capsule to its response. Slots are preallocated per
/// connection (queue entries of them) and indexed by the R2T's transfer tag and the backend token.
struct CommandSlot {
    enum State: Equatable {
        case free
        /// An R2T went out; H2CData PDUs fill the buffer.
        case receivingData
        /// Data complete; waiting for room in the backend queue.
        case readyToSubmit
        /// Submitted to the backend queue pair; its completion frees the buffer.
        case inBackend
        /// An Asynchronous Event Request, held until an event (or the end of the connection).
        case heldEvent
    }

    var state: State = .free
    var hostCommandID: UInt16 = 0
    var command = SubmissionQueueEntry(opcode: 0)
    var buffer: DMAChunk?
    var length = 0
    var received = 0
    var dataDigestFailed = false
}

/// One NVMe/TCP connection (one queue of one controller) on an engine: the PDU stream in both
/// directions and its commands. Owned by the engine; not shared between threads.
struct TargetConnection {
    var generation: UInt32
    var phase: ConnectionPhase = .awaitingICReq
    /// Format of PDUs from the host: digests as negotiated, data aligned to our CPDA (0: dwords).
    var receiveFormat = PDUFormat.initial
    /// Format of PDUs to the host: digests as negotiated, data aligned to the host's HPDA.
    var sendFormat = PDUFormat.initial
    /// Bytes received and not yet framed: `receiveBuffer[receiveStart..<receiveEnd]`.
    let receiveBuffer: UnsafeMutableRawBufferPointer
    var receiveStart = 0
    var receiveEnd = 0
    /// Encoded PDUs not yet sent: `output[outputStart...]`.
    var output: [UInt8] = []
    var outputStart = 0
    var queueID: UInt16?
    var controllerID: UInt16?
    /// The socket's local address, when the server knows it.
    var localAddress: ListenAddress?
    /// Whether the controller is a discovery controller (its admin commands are the discovery set).
    var discovery = false
    /// SQSIZE + 1 from Connect; SQHD counts capsules modulo it.
    var queueSize = 0
    var submissionQueueHead: UInt16 = 0
    var slots: [CommandSlot]
    var freeSlots: [Int]
    /// Commands in the backend queue pair (their buffers and slots stay taken until they complete).
    var inBackend = 0
    /// Stopped framing input until a buffer frees or the output drains.
    var stalled = false
    var statistics = ConnectionStatistics()
    /// Why the target closed or terminated the connection, for the log.
    var closeReason: String?
    /// The target sent a C2HTermReq (a fatal transport error of the host's).
    var terminated = false
    /// The host NQN of its Connect, kept after its controller ends (for the report).
    var hostNQN: String?

    init(generation: UInt32, slotCount: Int, receiveCapacity: Int) {
        self.generation = generation
        receiveBuffer = .allocate(byteCount: receiveCapacity, alignment: 64)
        slots = Array(repeating: CommandSlot(), count: slotCount)
        freeSlots = Array((0..<slotCount).reversed())
        output.reserveCapacity(64 * 1024)
    }

    /// Bytes waiting to be sent.
    var pendingOutput: Int { output.count - outputStart }

    /// The unframed input.
    var unframed: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: receiveBuffer[receiveStart..<receiveEnd])
    }

    /// Moves unframed input to the start of the buffer, so `receiveSpace` is as large as it gets.
    mutating func compactInput() {
        guard receiveStart > 0 else { return }
        let count = receiveEnd - receiveStart
        if count > 0 { receiveBuffer.baseAddress!.copyMemory(from: receiveBuffer.baseAddress! + receiveStart, byteCount: count) }
        receiveStart = 0
        receiveEnd = count
    }

    /// Appends `count` zeroed bytes to the output and lets `body` fill them. Every call appends
    /// one PDU, which is what `pdusSent` counts.
    mutating func appendOutput(_ count: Int, _ body: (UnsafeMutableRawBufferPointer) -> Void) {
        statistics.pdusSent &+= 1
        let start = output.count
        output.append(contentsOf: repeatElement(0, count: count))
        output.withUnsafeMutableBytes { body(UnsafeMutableRawBufferPointer(rebasing: $0[start..<(start + count)])) }
    }

    mutating func consumeOutput(_ count: Int) {
        outputStart += count
        if outputStart == output.count {
            output.removeAll(keepingCapacity: true)
            outputStart = 0
        }
    }
}
