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

/// What a target serves and the limits it advertises; checked once, before anything is created.
public struct TargetConfiguration: Sendable {
    /// The subsystem NQN hosts connect to (Connect data SUBNQN; Identify Controller SUBNQN).
    public var subsystemNQN: String
    /// The namespaces to export, by NSID; empty exports every usable namespace without metadata.
    public var namespaceIDs: [UInt32]
    /// I/O queues one controller (one host association) may connect.
    public var maximumIOQueues: Int
    /// Entries per queue (CAP.MQES + 1): the most commands a host keeps outstanding on a queue.
    public var queueEntries: Int
    /// The most data one command may move (Identify Controller MDTS); also the size of each DMA
    /// buffer in the pool and the largest H2CData PDU (ICResp MAXH2CDATA). A power of two, 4 KiB
    /// or more, at most the backend's `maximumTransferBytes`.
    public var maximumTransferBytes: Int
    /// DMA buffers in the pool: commands with data in flight at once across the target's
    /// connections; when all are taken, the target stops reading from the sockets that want one.
    public var bufferCount: Int
    /// In-capsule data a capsule may carry, on admin and I/O queues (Identify Controller IOCCSZ
    /// says it for I/O queues; NVMe/TCP fixes 8 KiB for the admin queue).
    public var inCapsuleDataBytes: Int
    /// Where hosts reach the target: TRADDR and TRSVCID of the discovery log's entry. The server
    /// sets it to the address it listens on (`vfioctl nvme serve --listen`).
    public var listenAddress: ListenAddress

    /// The NQN a subsystem gets when none is given (the NVMe base spec's UUID-free form,
    /// `nqn.2014-08.org.nvmexpress:uuid:` would need one).
    public static let defaultNQN = "nqn.2026-01.io.github.swift-vfio:target"

    public init(
        subsystemNQN: String = TargetConfiguration.defaultNQN, namespaceIDs: [UInt32] = [], maximumIOQueues: Int = 8,
        queueEntries: Int = 128, maximumTransferBytes: Int = 128 * 1024, bufferCount: Int = 64, inCapsuleDataBytes: Int = 8192,
        listenAddress: ListenAddress = .defaultTarget
    ) {
        self.subsystemNQN = subsystemNQN
        self.namespaceIDs = namespaceIDs
        self.maximumIOQueues = maximumIOQueues
        self.queueEntries = queueEntries
        self.maximumTransferBytes = maximumTransferBytes
        self.bufferCount = bufferCount
        self.inCapsuleDataBytes = inCapsuleDataBytes
        self.listenAddress = listenAddress
    }

    /// Each problem as one line naming the field and the fix; empty when the configuration is usable.
    public func validationErrors(backendMaximumTransferBytes: Int) -> [String] {
        var problems: [String] = []
        if subsystemNQN.isEmpty || subsystemNQN.utf8.count > 223 || !subsystemNQN.hasPrefix("nqn.") {
            problems.append("subsystem NQN '\(subsystemNQN)' must start with 'nqn.' and be 1...223 bytes (NVMe base 1.4, 7.9)")
        }
        if !(1...1024).contains(maximumIOQueues) { problems.append("maximum I/O queues \(maximumIOQueues) is outside 1...1024") }
        if !(2...1024).contains(queueEntries) { problems.append("queue entries \(queueEntries) is outside 2...1024") }
        let mdts = maximumTransferBytes
        if mdts < 4096 || mdts & (mdts - 1) != 0 || mdts > backendMaximumTransferBytes {
            problems.append("maximum transfer \(mdts) bytes must be a power of two from 4096 to the backend's \(backendMaximumTransferBytes)")
        }
        if !(1...65536).contains(bufferCount) { problems.append("buffer count \(bufferCount) is outside 1...65536") }
        if inCapsuleDataBytes < 0 || inCapsuleDataBytes > mdts || inCapsuleDataBytes % 16 != 0 {
            problems.append("in-capsule data \(inCapsuleDataBytes) bytes must be a multiple of 16, at most the maximum transfer")
        }
        return problems
    }

    /// Identify Controller MDTS for `maximumTransferBytes` in 4 KiB pages (CAP.MPSMIN is 0).
    public var mdts: UInt8 { UInt8((maximumTransferBytes / 4096).trailingZeroBitCount) }
}
