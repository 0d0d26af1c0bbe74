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

import VFIO

/// The NVMe controller a scenario runs against: a way to open it, and what it was configured with.
///
/// The same scenarios run on QEMU's controller through vfio-pci (vfio-hil in the HIL VM: each
/// opening is a fresh `VFIODevice`, and the facts come from the host's configuration) and on the
/// emulated controller (swift-testing: every opening hands out the same `EmulatedNVMeController`,
/// and the facts are its configuration). Scenarios bring the controller up themselves and close
/// it before they return, so one failure does not cascade into the next.
public struct NVMeTarget<Device: PCIFunction> {
    /// Opens the function; a scenario brings a controller up on what this returns.
    public let open: () throws -> Device
    public let facts: NVMeFacts
    /// Progress and figures for the log (vfio-hil's stderr; discarded or printed by tests).
    public let log: (String) -> Void

    public init(facts: NVMeFacts, log: @escaping (String) -> Void = { _ in }, open: @escaping () throws -> Device) {
        self.open = open
        self.facts = facts
        self.log = log
    }
}

/// What the controller under test was configured with; nil (or empty) where not known, and then
/// the scenarios do not check it.
public struct NVMeFacts: Sendable {
    /// Identify Controller SN.
    public var serialNumber: String?
    /// Identify Controller MN.
    public var modelNumber: String?
    /// MDTS as configured: 2^MDTS pages of 4 KiB per command, 0 for no limit.
    public var maximumDataTransferSize: Int?
    /// I/O queue pairs the controller grants at most (QEMU's `max_ioqpairs`).
    public var maximumQueuePairs: Int?
    /// Every active namespace, in NSID order.
    public var namespaces: [NamespaceFact]

    public init(
        serialNumber: String? = nil, modelNumber: String? = nil, maximumDataTransferSize: Int? = nil,
        maximumQueuePairs: Int? = nil, namespaces: [NamespaceFact] = []
    ) {
        self.serialNumber = serialNumber
        self.modelNumber = modelNumber
        self.maximumDataTransferSize = maximumDataTransferSize
        self.maximumQueuePairs = maximumQueuePairs
        self.namespaces = namespaces
    }
}

/// One namespace as configured, written `nsid:block-size:block-count` (the HIL_NAMESPACES form).
public struct NamespaceFact: Sendable, Equatable, CustomStringConvertible {
    public var id: UInt32
    public var blockSize: Int
    public var blockCount: UInt64

    public init(id: UInt32, blockSize: Int, blockCount: UInt64) {
        self.id = id
        self.blockSize = blockSize
        self.blockCount = blockCount
    }

    /// Parses `nsid:block-size:block-count`; nil for anything else.
    public init?(parsing text: Substring) {
        let parts = text.split(separator: ":")
        guard parts.count == 3, let id = UInt32(parts[0]), let size = Int(parts[1]), let count = UInt64(parts[2]) else { return nil }
        self.init(id: id, blockSize: size, blockCount: count)
    }

    public var description: String { "\(id):\(blockSize):\(blockCount)" }
}
