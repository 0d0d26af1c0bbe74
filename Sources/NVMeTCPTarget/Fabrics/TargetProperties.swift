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

/// The controller properties a Fabrics host reads and writes with Property Get/Set in place of
/// BAR registers (NVMe over Fabrics 1.1, 3.4-3.5; NVMe base 1.4, 3.1): the host enables the
/// controller through CC and waits for CSTS.RDY as over PCIe, but nothing is mapped.
public struct TargetProperties: Hashable, Sendable {
    /// CAP (offset 0h, 8 bytes), fixed for the target's life.
    public let capabilities: Capabilities
    /// VS (offset 8h).
    public let version: NVMeVersion
    /// CC (offset 14h), as the host last wrote it.
    public private(set) var configuration = ControllerConfiguration(rawValue: 0)
    /// CSTS (offset 1Ch), following CC: RDY follows EN at once (there is nothing to bring up), and
    /// a shutdown notification is complete as soon as it is written.
    public private(set) var status = ControllerStatus(rawValue: 0)

    public enum Offset: UInt32, Sendable {
        case capabilities = 0x00
        case version = 0x08
        case configuration = 0x14
        case status = 0x1C
    }

    /// CAP for `queueEntries` entries per queue (MQES zero-based), contiguous queues required (there
    /// is no host memory to be contiguous in, Linux `nvmet_init_cap` sets CQR too), the NVM
    /// command set, a 7.5 s ready timeout, and 4 KiB memory pages.
    public init(queueEntries: Int, version: NVMeVersion = NVMeVersion(rawValue: 0x0001_0400)) {
        precondition((2...65536).contains(queueEntries))
        let mqes = UInt64(queueEntries - 1)
        let cqr: UInt64 = 1 << 16
        let timeout: UInt64 = 15 << 24
        let nvmCommandSet: UInt64 = 1 << 37
        capabilities = Capabilities(rawValue: mqes | cqr | timeout | nvmCommandSet)
        self.version = version
    }

    /// Property Get: the value, or nil for an offset or size the target does not have.
    public func get(_ command: PropertyCommand) -> UInt64? {
        switch (Offset(rawValue: command.offset), command.eightBytes) {
        case (.capabilities, true): capabilities.rawValue
        case (.version, false): UInt64(version.rawValue)
        case (.configuration, false): UInt64(configuration.rawValue)
        case (.status, false): UInt64(status.rawValue)
        default: nil
        }
    }

    /// Property Set: only CC is writable. False for any other offset or size.
    public mutating func set(_ command: PropertyCommand) -> Bool {
        guard Offset(rawValue: command.offset) == .configuration, !command.eightBytes else { return false }
        let cc = ControllerConfiguration(rawValue: UInt32(truncatingIfNeeded: command.value))
        configuration = cc
        var csts: UInt32 = cc.enable ? 1 : 0
        if cc.shutdownNotification != .none { csts |= UInt32(ControllerStatus.ShutdownStatus.complete.rawValue) << 2 }
        status = ControllerStatus(rawValue: csts)
        return true
    }

    /// CC.EN and CSTS.RDY: the host may create I/O queues.
    public var ready: Bool { status.ready }
}
