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

/// One DMA access the emulated IOMMU refused.
///
/// A real IOMMU reports these as DMAR faults in the kernel log and the device gets an error for
/// the transaction; here they are kept so tests can assert that an emulated device never reached
/// memory the driver had not mapped (or had already unmapped).
public struct DMAFault: Hashable, Sendable, CustomStringConvertible {
    public enum Reason: Hashable, Sendable {
        /// No mapping covers the range.
        case unmapped
        /// PCI_COMMAND.MASTER is clear: the function may not issue DMA at all (PCI 3.0, 6.2.2).
        case busMasterDisabled
        /// Raised by the fault plan, not by the address.
        case injected
    }

    public enum Direction: Hashable, Sendable {
        /// The device reads host memory (SQE fetch, PRP list, write data).
        case deviceRead
        /// The device writes host memory (CQE post, read data, identify data).
        case deviceWrite
    }

    public var iova: UInt64
    public var length: Int
    public var direction: Direction
    public var reason: Reason

    public init(iova: UInt64, length: Int, direction: Direction, reason: Reason) {
        self.iova = iova
        self.length = length
        self.direction = direction
        self.reason = reason
    }

    public var description: String {
        let what = direction == .deviceRead ? "read" : "write"
        return "DMA \(what) of \(length) bytes at IOVA 0x\(String(iova, radix: 16)) refused (\(reason))"
    }
}
