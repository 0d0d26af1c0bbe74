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

/// Counters of one connection, kept with plain adds on its engine's thread.
public struct ConnectionStatistics: Sendable, Equatable {
    public var pdusReceived: UInt64 = 0
    public var pdusSent: UInt64 = 0
    /// Bytes the socket delivered and the target sent (PDU headers, digests and padding included).
    public var bytesReceived: UInt64 = 0
    public var bytesSent: UInt64 = 0
    /// Capsules, of every kind (Fabrics, admin, I/O).
    public var commands: UInt64 = 0
    /// Data the target sent to the host (reads) and the backend wrote for it (writes that succeeded).
    public var readBytes: UInt64 = 0
    public var writtenBytes: UInt64 = 0
    public var r2ts: UInt64 = 0
    /// Backpressure: times the connection stopped reading because every DMA buffer was taken...
    public var bufferWaits: UInt64 = 0
    /// ... or because its output was over the engine's `outputLimit` (a host not reading).
    public var outputWaits: UInt64 = 0
    /// Commands that waited for room in the backend queue pair (the device's queue was full).
    public var backendQueueWaits: UInt64 = 0
    public var dataDigestErrors: UInt64 = 0
    public init() {}

    /// Adds another connection's counters (a server's totals).
    public mutating func add(_ other: ConnectionStatistics) {
        pdusReceived &+= other.pdusReceived
        pdusSent &+= other.pdusSent
        bytesReceived &+= other.bytesReceived
        bytesSent &+= other.bytesSent
        commands &+= other.commands
        readBytes &+= other.readBytes
        writtenBytes &+= other.writtenBytes
        r2ts &+= other.r2ts
        bufferWaits &+= other.bufferWaits
        outputWaits &+= other.outputWaits
        backendQueueWaits &+= other.backendQueueWaits
        dataDigestErrors &+= other.dataDigestErrors
    }
}

/// What one connection was and did, for a server's summary (`vfioctl nvme serve --json`):
/// who it served, which queue it was, its counters and how it ended.
public struct ConnectionReport: Sendable, Equatable {
    /// The engine's index of the connection (the log's "connection N").
    public var index: Int
    /// The host's address and port, when the server knows it.
    public var peer: String?
    /// The Connect's host NQN, controller id and queue id (0: the admin queue); nil before Connect.
    public var hostNQN: String?
    public var controllerID: UInt16?
    public var queueID: UInt16?
    /// Whether it was a discovery controller's admin queue.
    public var discovery: Bool
    public var statistics: ConnectionStatistics
    /// Why it ended (the host closed it, Disconnect, a termination, keep-alive expiry, shutdown).
    public var closeReason: String?
    /// The target terminated it with a C2HTermReq (the host broke the protocol).
    public var terminated: Bool
}

extension ConnectionStatistics {
    /// The counters in words, for a log line: commands, data, PDUs, and the backpressure waits.
    public var summaryLine: String {
        "\(commands) commands, \(readBytes) bytes read, \(writtenBytes) bytes written, \(pdusReceived) PDUs in, \(pdusSent) out, "
            + "waits: \(bufferWaits) for a buffer, \(outputWaits) for output room, \(backendQueueWaits) for the backend queue"
    }
}

extension ConnectionReport {
    /// Who the connection served and what it did, for the log line of its end.
    public var summaryLine: String {
        let queue: String
        if let queueID, let controllerID {
            let kind = discovery ? "discovery controller" : "controller"
            queue = "\(hostNQN ?? "?"), \(kind) \(controllerID) queue \(queueID)"
        } else {
            queue = "no Connect"
        }
        return "\(queue): \(statistics.summaryLine)"
    }
}
