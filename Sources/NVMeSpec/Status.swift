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

/// Status code type, CQE status field SCT (NVMe base 1.4, 4.6.1.2).
public enum StatusCodeType: RawRepresentable, Hashable, Sendable {
    case generic
    case commandSpecific
    case mediaAndDataIntegrity
    case path
    case vendorSpecific
    /// A reserved SCT (4...6).
    case other(UInt8)

    @inlinable
    public init(rawValue: UInt8) {
        switch rawValue & 0x7 {
        case 0: self = .generic
        case 1: self = .commandSpecific
        case 2: self = .mediaAndDataIntegrity
        case 3: self = .path
        case 7: self = .vendorSpecific
        case let raw: self = .other(raw)
        }
    }

    @inlinable
    public var rawValue: UInt8 {
        switch self {
        case .generic: 0
        case .commandSpecific: 1
        case .mediaAndDataIntegrity: 2
        case .path: 3
        case .vendorSpecific: 7
        case .other(let raw): raw & 0x7
        }
    }

    // Compare by the 3-bit value so `.other(0)` cannot differ from `.generic`.
    @inlinable
    public static func == (lhs: StatusCodeType, rhs: StatusCodeType) -> Bool { lhs.rawValue == rhs.rawValue }
    @inlinable
    public func hash(into hasher: inout Hasher) { hasher.combine(rawValue) }
}

/// The 15-bit status field of a completion (NVMe base 1.4, 4.6.1.2), without the phase tag.
///
/// `rawValue` bit layout (the CQE's DW3 bits 31:17 shifted down by 17):
/// SC bits 0-7, SCT bits 8-10, CRD bits 11-12, M bit 13, DNR bit 14.
/// Thrown as an `Error` by the driver when a command fails; compare with `matches(_:)` to ignore
/// the DNR/More/CRD flags.
@frozen
public struct NVMeStatus: RawRepresentable, Hashable, Sendable, CustomStringConvertible, Error {
    public var rawValue: UInt16

    /// Keeps the low 15 bits.
    @inlinable public init(rawValue: UInt16) { self.rawValue = rawValue & 0x7FFF }

    /// Extracts the status from the 16-bit CQE field holding the phase tag in bit 0.
    @inlinable public init(statusAndPhase: UInt16) { rawValue = statusAndPhase >> 1 }

    @inlinable
    public init(
        codeType: StatusCodeType, code: UInt8, commandRetryDelay: UInt8 = 0, more: Bool = false,
        doNotRetry: Bool = false
    ) {
        rawValue = UInt16(code) | UInt16(codeType.rawValue) << 8
        self.commandRetryDelay = commandRetryDelay
        self.more = more
        self.doNotRetry = doNotRetry
    }

    /// SCT: status code type.
    @inlinable public var codeType: StatusCodeType { StatusCodeType(rawValue: UInt8(truncatingIfNeeded: rawValue.bits(8..<11))) }
    /// SC: status code, interpreted within `codeType`.
    @inlinable public var code: UInt8 { UInt8(truncatingIfNeeded: rawValue) }
    /// CRD: which Command Retry Delay Time (ACRE / CRDT1-3) applies before a retry; 0 means none.
    @inlinable public var commandRetryDelay: UInt8 {
        get { UInt8(truncatingIfNeeded: rawValue.bits(11..<13)) }
        set { rawValue.setBits(11..<13, to: UInt16(newValue)) }
    }
    /// M: more status information is available in the Error Information log page.
    @inlinable public var more: Bool {
        get { rawValue.bit(13) }
        set { rawValue.setBit(13, newValue) }
    }
    /// DNR: the command will fail again if retried.
    @inlinable public var doNotRetry: Bool {
        get { rawValue.bit(14) }
        set { rawValue.setBit(14, newValue) }
    }
    /// SCT 0, SC 0: Successful Completion (flags ignored).
    @inlinable public var isSuccess: Bool { rawValue & 0x7FF == 0 }

    /// Same SCT and SC, ignoring CRD, More and DNR.
    @inlinable public func matches(_ other: NVMeStatus) -> Bool { rawValue & 0x7FF == other.rawValue & 0x7FF }

    /// This status with DNR set or cleared.
    @inlinable public func withDoNotRetry(_ on: Bool = true) -> NVMeStatus {
        var s = self
        s.doNotRetry = on
        return s
    }

    /// This status with More set or cleared.
    @inlinable public func withMore(_ on: Bool = true) -> NVMeStatus {
        var s = self
        s.more = on
        return s
    }

    /// The 16-bit CQE field (DW3 bits 31:16): status in bits 15:1, phase tag in bit 0.
    @inlinable public func withPhase(_ phase: Bool) -> UInt16 { rawValue << 1 | (phase ? 1 : 0) }

    /// The spec's name for this SCT/SC pair, or nil for a code this table does not know.
    public var name: String? {
        switch (codeType, code) {
        case (.generic, 0x00): "Successful Completion"
        case (.generic, 0x01): "Invalid Command Opcode"
        case (.generic, 0x02): "Invalid Field in Command"
        case (.generic, 0x03): "Command ID Conflict"
        case (.generic, 0x04): "Data Transfer Error"
        case (.generic, 0x05): "Commands Aborted due to Power Loss Notification"
        case (.generic, 0x06): "Internal Error"
        case (.generic, 0x07): "Command Abort Requested"
        case (.generic, 0x08): "Command Aborted due to SQ Deletion"
        case (.generic, 0x09): "Command Aborted due to Failed Fused Command"
        case (.generic, 0x0A): "Command Aborted due to Missing Fused Command"
        case (.generic, 0x0B): "Invalid Namespace or Format"
        case (.generic, 0x0C): "Command Sequence Error"
        case (.generic, 0x0D): "Invalid SGL Segment Descriptor"
        case (.generic, 0x0E): "Invalid Number of SGL Descriptors"
        case (.generic, 0x0F): "Data SGL Length Invalid"
        case (.generic, 0x10): "Metadata SGL Length Invalid"
        case (.generic, 0x11): "SGL Descriptor Type Invalid"
        case (.generic, 0x12): "Invalid Use of Controller Memory Buffer"
        case (.generic, 0x13): "PRP Offset Invalid"
        case (.generic, 0x14): "Atomic Write Unit Exceeded"
        case (.generic, 0x15): "Operation Denied"
        case (.generic, 0x16): "SGL Offset Invalid"
        case (.generic, 0x18): "Host Identifier Inconsistent Format"
        case (.generic, 0x19): "Keep Alive Timer Expired"
        case (.generic, 0x1A): "Keep Alive Timeout Invalid"
        case (.generic, 0x1B): "Command Aborted due to Preempt and Abort"
        case (.generic, 0x1C): "Sanitize Failed"
        case (.generic, 0x1D): "Sanitize In Progress"
        case (.generic, 0x1E): "SGL Data Block Granularity Invalid"
        case (.generic, 0x1F): "Command Not Supported for Queue in CMB"
        case (.generic, 0x20): "Namespace is Write Protected"
        case (.generic, 0x21): "Command Interrupted"
        case (.generic, 0x22): "Transient Transport Error"
        case (.generic, 0x80): "LBA Out of Range"
        case (.generic, 0x81): "Capacity Exceeded"
        case (.generic, 0x82): "Namespace Not Ready"
        case (.generic, 0x83): "Reservation Conflict"
        case (.generic, 0x84): "Format In Progress"
        case (.commandSpecific, 0x00): "Completion Queue Invalid"
        case (.commandSpecific, 0x01): "Invalid Queue Identifier"
        case (.commandSpecific, 0x02): "Invalid Queue Size"
        case (.commandSpecific, 0x03): "Abort Command Limit Exceeded"
        case (.commandSpecific, 0x05): "Asynchronous Event Request Limit Exceeded"
        case (.commandSpecific, 0x06): "Invalid Firmware Slot"
        case (.commandSpecific, 0x07): "Invalid Firmware Image"
        case (.commandSpecific, 0x08): "Invalid Interrupt Vector"
        case (.commandSpecific, 0x09): "Invalid Log Page"
        case (.commandSpecific, 0x0A): "Invalid Format"
        case (.commandSpecific, 0x0B): "Firmware Activation Requires Conventional Reset"
        case (.commandSpecific, 0x0C): "Invalid Queue Deletion"
        case (.commandSpecific, 0x0D): "Feature Identifier Not Saveable"
        case (.commandSpecific, 0x0E): "Feature Not Changeable"
        case (.commandSpecific, 0x0F): "Feature Not Namespace Specific"
        case (.commandSpecific, 0x15): "Namespace Insufficient Capacity"
        case (.commandSpecific, 0x16): "Namespace Identifier Unavailable"
        case (.commandSpecific, 0x18): "Namespace Already Attached"
        case (.commandSpecific, 0x19): "Namespace Is Private"
        case (.commandSpecific, 0x1A): "Namespace Not Attached"
        case (.commandSpecific, 0x1B): "Thin Provisioning Not Supported"
        case (.commandSpecific, 0x1C): "Controller List Invalid"
        case (.commandSpecific, 0x80): "Conflicting Attributes"
        case (.commandSpecific, 0x81): "Invalid Protection Information"
        case (.commandSpecific, 0x82): "Attempted Write to Read Only Range"
        case (.mediaAndDataIntegrity, 0x80): "Write Fault"
        case (.mediaAndDataIntegrity, 0x81): "Unrecovered Read Error"
        case (.mediaAndDataIntegrity, 0x82): "End-to-end Guard Check Error"
        case (.mediaAndDataIntegrity, 0x83): "End-to-end Application Tag Check Error"
        case (.mediaAndDataIntegrity, 0x84): "End-to-end Reference Tag Check Error"
        case (.mediaAndDataIntegrity, 0x85): "Compare Failure"
        case (.mediaAndDataIntegrity, 0x86): "Access Denied"
        case (.mediaAndDataIntegrity, 0x87): "Deallocated or Unwritten Logical Block"
        case (.path, 0x00): "Internal Path Error"
        case (.path, 0x01): "Asymmetric Access Persistent Loss"
        case (.path, 0x02): "Asymmetric Access Inaccessible"
        case (.path, 0x03): "Asymmetric Access Transition"
        case (.path, 0x60): "Controller Pathing Error"
        case (.path, 0x70): "Host Pathing Error"
        case (.path, 0x71): "Command Aborted By Host"
        default: nil
        }
    }

    /// E.g. "LBA Out of Range (SCT 0x0, SC 0x80, DNR)"; unknown codes print as
    /// "Unknown status (SCT 0x1, SC 0x42)".
    public var description: String {
        var detail = "SCT 0x\(String(codeType.rawValue, radix: 16)), SC 0x\(hex2(code))"
        if commandRetryDelay != 0 { detail += ", CRD \(commandRetryDelay)" }
        if more { detail += ", More" }
        if doNotRetry { detail += ", DNR" }
        return "\(name ?? "Unknown status") (\(detail))"
    }

    private func hex2(_ value: UInt8) -> String {
        let s = String(value, radix: 16)
        return s.count < 2 ? "0" + s : s
    }
}

// Named statuses. SCT 0: generic command status (NVMe base 1.4, 4.6.1.2.1).
extension NVMeStatus {
    @inlinable static func generic(_ code: UInt8) -> NVMeStatus { NVMeStatus(codeType: .generic, code: code) }
    @inlinable static func commandSpecific(_ code: UInt8) -> NVMeStatus { NVMeStatus(codeType: .commandSpecific, code: code) }
    @inlinable static func media(_ code: UInt8) -> NVMeStatus { NVMeStatus(codeType: .mediaAndDataIntegrity, code: code) }

    public static let success = generic(0x00)
    public static let invalidCommandOpcode = generic(0x01)
    public static let invalidFieldInCommand = generic(0x02)
    public static let commandIDConflict = generic(0x03)
    public static let dataTransferError = generic(0x04)
    public static let abortedPowerLoss = generic(0x05)
    public static let internalError = generic(0x06)
    public static let abortRequested = generic(0x07)
    public static let abortedSQDeletion = generic(0x08)
    public static let abortedFailedFused = generic(0x09)
    public static let abortedMissingFused = generic(0x0A)
    public static let invalidNamespaceOrFormat = generic(0x0B)
    public static let commandSequenceError = generic(0x0C)
    public static let invalidSGLSegmentDescriptor = generic(0x0D)
    public static let invalidNumberOfSGLDescriptors = generic(0x0E)
    public static let dataSGLLengthInvalid = generic(0x0F)
    public static let invalidUseOfCMB = generic(0x12)
    public static let prpOffsetInvalid = generic(0x13)
    /// NVM command set generic statuses.
    public static let lbaOutOfRange = generic(0x80)
    public static let capacityExceeded = generic(0x81)
    public static let namespaceNotReady = generic(0x82)
    public static let reservationConflict = generic(0x83)

    // SCT 1: command specific (4.6.1.2.2).
    public static let completionQueueInvalid = commandSpecific(0x00)
    public static let invalidQueueIdentifier = commandSpecific(0x01)
    public static let invalidQueueSize = commandSpecific(0x02)
    public static let abortCommandLimitExceeded = commandSpecific(0x03)
    public static let asynchronousEventRequestLimitExceeded = commandSpecific(0x05)
    public static let invalidInterruptVector = commandSpecific(0x08)
    public static let invalidLogPage = commandSpecific(0x09)
    public static let invalidQueueDeletion = commandSpecific(0x0C)
    public static let featureIdentifierNotSaveable = commandSpecific(0x0D)
    public static let featureNotChangeable = commandSpecific(0x0E)
    /// Read/Write/Compare: PRINFO or the tags ask for something the format cannot do (type 1
    /// with a reference tag other than the LBA, NVMe base 1.4, 8.3.1.4).
    public static let invalidProtectionInformation = commandSpecific(0x81)

    // SCT 2: media and data integrity errors (4.6.1.2.3).
    public static let writeFault = media(0x80)
    public static let unrecoveredReadError = media(0x81)
    public static let endToEndGuardCheckError = media(0x82)
    public static let endToEndApplicationTagCheckError = media(0x83)
    public static let endToEndReferenceTagCheckError = media(0x84)
    public static let compareFailure = media(0x85)
    public static let accessDenied = media(0x86)
    public static let deallocatedOrUnwrittenLogicalBlock = media(0x87)
}
