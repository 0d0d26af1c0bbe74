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

/// Controller register offsets in BAR0 (NVMe base 1.4, 3.1).
///
/// Driver logic names registers by these cases, never by raw numbers; compare the Linux
/// `NVME_REG_*` constants in include/linux/nvme.h.
public enum ControllerRegisterOffset: Int, Sendable, CaseIterable {
    /// CAP: controller capabilities, 64-bit, read-only.
    case capabilities = 0x00
    /// VS: version.
    case version = 0x08
    /// INTMS: interrupt mask set (pin-based and single-message MSI only).
    case interruptMaskSet = 0x0C
    /// INTMC: interrupt mask clear.
    case interruptMaskClear = 0x10
    /// CC: controller configuration.
    case controllerConfiguration = 0x14
    /// CSTS: controller status.
    case controllerStatus = 0x1C
    /// NSSR: NVM subsystem reset; writing `nvmSubsystemResetValue` resets the subsystem.
    case nvmSubsystemReset = 0x20
    /// AQA: admin queue attributes.
    case adminQueueAttributes = 0x24
    /// ASQ: admin submission queue base address, 64-bit.
    case adminSubmissionQueueBase = 0x28
    /// ACQ: admin completion queue base address, 64-bit.
    case adminCompletionQueueBase = 0x30
    /// SQ0TDBL: first doorbell; the rest follow at `4 << CAP.DSTRD` (3.1.24).
    case doorbellBase = 0x1000

    /// Access width in bytes: CAP, ASQ and ACQ are 64-bit, the rest 32-bit.
    @inlinable
    public var width: Int {
        switch self {
        case .capabilities, .adminSubmissionQueueBase, .adminCompletionQueueBase: 8
        default: 4
        }
    }

    /// "NVMe" in ASCII: the only value whose write to NSSR starts a subsystem reset (3.1.8).
    public static let nvmSubsystemResetValue: UInt32 = 0x4E56_4D65

    /// Byte offset of a doorbell (NVMe base 1.4, 3.1.24/3.1.25):
    /// `0x1000 + (2 * qid + (completion ? 1 : 0)) * (4 << CAP.DSTRD)`.
    /// - Parameter stride: CAP.DSTRD, the exponent (0...15), not the byte stride.
    @inlinable
    public static func doorbellOffset(queue: UInt16, completion: Bool, stride: Int) -> Int {
        precondition((0...15).contains(stride), "CAP.DSTRD is a 4-bit field")
        return 0x1000 + (2 * Int(queue) + (completion ? 1 : 0)) * (4 << stride)
    }
}

/// CAP, controller capabilities (NVMe base 1.4, 3.1.1). Read from the device: untrusted, but every
/// field is a masked bit field so no value can be out of its type's range.
@frozen
public struct Capabilities: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt64

    @inlinable public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// CAP.MQES (NVMe base 1.4, 3.1.1): maximum queue entries, zero-based.
    @inlinable public var maxQueueEntries: UInt16 {
        get { UInt16(truncatingIfNeeded: rawValue.bits(0..<16)) }
        set { rawValue.setBits(0..<16, to: UInt64(newValue)) }
    }
    /// CAP.MQES + 1: the largest queue size in entries (one-based).
    @inlinable public var maxQueueEntryCount: Int { Int(maxQueueEntries) + 1 }
    /// CAP.CQR: I/O queues must be physically contiguous.
    @inlinable public var contiguousQueuesRequired: Bool {
        get { rawValue.bit(16) }
        set { rawValue.setBit(16, newValue) }
    }
    /// CAP.AMS: arbitration mechanisms supported besides round robin
    /// (bit 0 weighted round robin with urgent class, bit 1 vendor specific).
    @inlinable public var arbitrationMechanismsSupported: UInt8 {
        get { UInt8(truncatingIfNeeded: rawValue.bits(17..<19)) }
        set { rawValue.setBits(17..<19, to: UInt64(newValue)) }
    }
    /// CAP.TO: worst-case time for CSTS.RDY to follow CC.EN, in 500 ms units.
    @inlinable public var timeout: UInt8 {
        get { UInt8(truncatingIfNeeded: rawValue.bits(24..<32)) }
        set { rawValue.setBits(24..<32, to: UInt64(newValue)) }
    }
    /// CAP.DSTRD: doorbell stride exponent; doorbells are `4 << DSTRD` bytes apart.
    @inlinable public var doorbellStride: UInt8 {
        get { UInt8(truncatingIfNeeded: rawValue.bits(32..<36)) }
        set { rawValue.setBits(32..<36, to: UInt64(newValue)) }
    }
    /// CAP.NSSRS: NVM subsystem reset (NSSR register) supported.
    @inlinable public var nvmSubsystemResetSupported: Bool {
        get { rawValue.bit(36) }
        set { rawValue.setBit(36, newValue) }
    }
    /// CAP.CSS: command sets supported (bit 0 NVM command set, bit 7 no I/O command set).
    @inlinable public var commandSetsSupported: UInt8 {
        get { UInt8(truncatingIfNeeded: rawValue.bits(37..<45)) }
        set { rawValue.setBits(37..<45, to: UInt64(newValue)) }
    }
    /// CAP.CSS bit 0: the NVM command set is supported.
    @inlinable public var supportsNVMCommandSet: Bool { commandSetsSupported & 1 != 0 }
    /// CAP.BPS: boot partitions supported.
    @inlinable public var bootPartitionSupport: Bool {
        get { rawValue.bit(45) }
        set { rawValue.setBit(45, newValue) }
    }
    /// CAP.MPSMIN: minimum memory page size, as 2^(12 + MPSMIN) bytes.
    @inlinable public var memoryPageSizeMinimum: UInt8 {
        get { UInt8(truncatingIfNeeded: rawValue.bits(48..<52)) }
        set { rawValue.setBits(48..<52, to: UInt64(newValue)) }
    }
    /// CAP.MPSMAX: maximum memory page size, as 2^(12 + MPSMAX) bytes.
    @inlinable public var memoryPageSizeMaximum: UInt8 {
        get { UInt8(truncatingIfNeeded: rawValue.bits(52..<56)) }
        set { rawValue.setBits(52..<56, to: UInt64(newValue)) }
    }
    /// CAP.PMRS: persistent memory region supported.
    @inlinable public var persistentMemoryRegionSupported: Bool {
        get { rawValue.bit(56) }
        set { rawValue.setBit(56, newValue) }
    }
    /// CAP.CMBS: controller memory buffer supported.
    @inlinable public var controllerMemoryBufferSupported: Bool {
        get { rawValue.bit(57) }
        set { rawValue.setBit(57, newValue) }
    }

    /// Smallest host memory page the controller accepts, in bytes (4 KiB ... 128 MiB).
    @inlinable public var minimumPageSize: Int { 1 << (12 + Int(memoryPageSizeMinimum)) }
    /// Largest host memory page the controller accepts, in bytes.
    @inlinable public var maximumPageSize: Int { 1 << (12 + Int(memoryPageSizeMaximum)) }
    /// Distance between doorbells in bytes.
    @inlinable public var doorbellStrideBytes: Int { 4 << Int(doorbellStride) }
    /// CAP.TO in milliseconds (0 ... 127 500).
    @inlinable public var timeoutMilliseconds: Int { Int(timeout) * 500 }
}

/// CC, controller configuration (NVMe base 1.4, 3.1.5).
@frozen
public struct ControllerConfiguration: RawRepresentable, Hashable, Sendable {
    /// CC.SHN values (3.1.5).
    public enum ShutdownNotification: UInt8, Sendable {
        case none = 0
        case normal = 1
        case abrupt = 2
        case reserved = 3
    }

    public var rawValue: UInt32

    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// A configuration for enabling a controller. Sizes are exponents as the spec stores them:
    /// `memoryPageSize` 0 is 4 KiB, entry sizes 6 (64-byte SQE) and 4 (16-byte CQE).
    @inlinable
    public init(
        enable: Bool = false, commandSetSelected: UInt8 = 0, memoryPageSize: UInt8 = 0,
        arbitrationMechanism: UInt8 = 0, shutdownNotification: ShutdownNotification = .none,
        ioSubmissionQueueEntrySize: UInt8 = 6, ioCompletionQueueEntrySize: UInt8 = 4
    ) {
        rawValue = 0
        self.enable = enable
        self.commandSetSelected = commandSetSelected
        self.memoryPageSize = memoryPageSize
        self.arbitrationMechanism = arbitrationMechanism
        self.shutdownNotification = shutdownNotification
        self.ioSubmissionQueueEntrySize = ioSubmissionQueueEntrySize
        self.ioCompletionQueueEntrySize = ioCompletionQueueEntrySize
    }

    /// CC.EN (3.1.5): enable; the controller processes commands only while set and CSTS.RDY is 1.
    @inlinable public var enable: Bool {
        get { rawValue.bit(0) }
        set { rawValue.setBit(0, newValue) }
    }
    /// CC.CSS: I/O command set selected (0 = NVM command set).
    @inlinable public var commandSetSelected: UInt8 {
        get { UInt8(truncatingIfNeeded: rawValue.bits(4..<7)) }
        set { rawValue.setBits(4..<7, to: UInt32(newValue)) }
    }
    /// CC.MPS: host memory page size, as 2^(12 + MPS) bytes; must lie in CAP.MPSMIN...MPSMAX.
    @inlinable public var memoryPageSize: UInt8 {
        get { UInt8(truncatingIfNeeded: rawValue.bits(7..<11)) }
        set { rawValue.setBits(7..<11, to: UInt32(newValue)) }
    }
    /// CC.MPS in bytes.
    @inlinable public var memoryPageSizeBytes: Int { 1 << (12 + Int(memoryPageSize)) }
    /// CC.AMS: arbitration mechanism selected (0 round robin, 1 weighted round robin, 7 vendor).
    @inlinable public var arbitrationMechanism: UInt8 {
        get { UInt8(truncatingIfNeeded: rawValue.bits(11..<14)) }
        set { rawValue.setBits(11..<14, to: UInt32(newValue)) }
    }
    /// CC.SHN: shutdown notification.
    @inlinable public var shutdownNotification: ShutdownNotification {
        get { ShutdownNotification(rawValue: UInt8(truncatingIfNeeded: rawValue.bits(14..<16)))! }
        set { rawValue.setBits(14..<16, to: UInt32(newValue.rawValue)) }
    }
    /// CC.IOSQES: I/O submission queue entry size as a power of two (6 = 64 bytes).
    @inlinable public var ioSubmissionQueueEntrySize: UInt8 {
        get { UInt8(truncatingIfNeeded: rawValue.bits(16..<20)) }
        set { rawValue.setBits(16..<20, to: UInt32(newValue)) }
    }
    /// CC.IOCQES: I/O completion queue entry size as a power of two (4 = 16 bytes).
    @inlinable public var ioCompletionQueueEntrySize: UInt8 {
        get { UInt8(truncatingIfNeeded: rawValue.bits(20..<24)) }
        set { rawValue.setBits(20..<24, to: UInt32(newValue)) }
    }
}

/// CSTS, controller status (NVMe base 1.4, 3.1.6).
@frozen
public struct ControllerStatus: RawRepresentable, Hashable, Sendable {
    /// CSTS.SHST values (3.1.6).
    public enum ShutdownStatus: UInt8, Sendable {
        case normal = 0
        case occurring = 1
        case complete = 2
        case reserved = 3
    }

    public var rawValue: UInt32

    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// CSTS.RDY (3.1.6): the controller is ready to process submission queue doorbells.
    @inlinable public var ready: Bool {
        get { rawValue.bit(0) }
        set { rawValue.setBit(0, newValue) }
    }
    /// CSTS.CFS: controller fatal status; only a reset recovers.
    @inlinable public var controllerFatalStatus: Bool {
        get { rawValue.bit(1) }
        set { rawValue.setBit(1, newValue) }
    }
    /// CSTS.SHST: shutdown status.
    @inlinable public var shutdownStatus: ShutdownStatus {
        get { ShutdownStatus(rawValue: UInt8(truncatingIfNeeded: rawValue.bits(2..<4)))! }
        set { rawValue.setBits(2..<4, to: UInt32(newValue.rawValue)) }
    }
    /// CSTS.NSSRO: an NVM subsystem reset occurred (write 1 to clear).
    @inlinable public var nvmSubsystemResetOccurred: Bool {
        get { rawValue.bit(4) }
        set { rawValue.setBit(4, newValue) }
    }
    /// CSTS.PP: processing paused.
    @inlinable public var processingPaused: Bool {
        get { rawValue.bit(5) }
        set { rawValue.setBit(5, newValue) }
    }
    /// All ones is what a PCIe read returns once the device has gone (surprise removal or a
    /// failed link), not a real status; Linux checks `csts == ~0` the same way.
    @inlinable public var looksDisconnected: Bool { rawValue == 0xFFFF_FFFF }
}

/// AQA, admin queue attributes (NVMe base 1.4, 3.1.7).
@frozen
public struct AdminQueueAttributes: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt32

    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Sizes in entries (one-based, 2...4096); stored zero-based.
    @inlinable
    public init(submissionQueueEntries: Int, completionQueueEntries: Int) {
        precondition((2...4096).contains(submissionQueueEntries), "ASQS allows 2...4096 entries")
        precondition((2...4096).contains(completionQueueEntries), "ACQS allows 2...4096 entries")
        rawValue = 0
        submissionQueueSize = UInt16(submissionQueueEntries - 1)
        completionQueueSize = UInt16(completionQueueEntries - 1)
    }

    /// AQA.ASQS (3.1.7): admin submission queue size, zero-based.
    @inlinable public var submissionQueueSize: UInt16 {
        get { UInt16(truncatingIfNeeded: rawValue.bits(0..<12)) }
        set { rawValue.setBits(0..<12, to: UInt32(newValue)) }
    }
    /// AQA.ACQS: admin completion queue size, zero-based.
    @inlinable public var completionQueueSize: UInt16 {
        get { UInt16(truncatingIfNeeded: rawValue.bits(16..<28)) }
        set { rawValue.setBits(16..<28, to: UInt32(newValue)) }
    }
    /// ASQS + 1.
    @inlinable public var submissionQueueEntries: Int { Int(submissionQueueSize) + 1 }
    /// ACQS + 1.
    @inlinable public var completionQueueEntries: Int { Int(completionQueueSize) + 1 }
}

/// VS, the version register (NVMe base 1.4, 3.1.2); also Identify Controller VER.
@frozen
public struct NVMeVersion: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32

    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }

    @inlinable
    public init(major: UInt16, minor: UInt8, tertiary: UInt8 = 0) {
        rawValue = UInt32(major) << 16 | UInt32(minor) << 8 | UInt32(tertiary)
    }

    /// VS.MJR: major version.
    @inlinable public var major: UInt16 { UInt16(truncatingIfNeeded: rawValue >> 16) }
    /// VS.MNR: minor version.
    @inlinable public var minor: UInt8 { UInt8(truncatingIfNeeded: rawValue >> 8) }
    /// VS.TER: tertiary version.
    @inlinable public var tertiary: UInt8 { UInt8(truncatingIfNeeded: rawValue) }

    public static let v1_0 = NVMeVersion(major: 1, minor: 0)
    public static let v1_2 = NVMeVersion(major: 1, minor: 2)
    public static let v1_3 = NVMeVersion(major: 1, minor: 3)
    public static let v1_4 = NVMeVersion(major: 1, minor: 4)

    @inlinable
    public static func < (lhs: NVMeVersion, rhs: NVMeVersion) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String { "\(major).\(minor).\(tertiary)" }
}
