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

/// DPS bits 2:0, the end-to-end protection type a namespace is formatted with (NVMe base 1.4,
/// 5.15.2.2, and 8.3 "End-to-end Data Protection").
///
/// The types differ only in the reference tag: type 1 carries the LBA's low bits and the host
/// must ask for the namespace's own LBA, type 2 any initial value incremented per block, type 3
/// none (the tag is not incremented and checked only as the caller says).
public enum ProtectionType: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case disabled = 0
    case type1 = 1
    case type2 = 2
    case type3 = 3

    public var description: String { self == .disabled ? "none" : "type \(rawValue)" }
}

/// The size of the protection information tuple's guard (NVMe NVM command set 1.0, 5.2.1):
/// ELBAF.PIF 00b is the 16-bit guard of an 8-byte tuple, 10b the 64-bit guard of a 16-byte one.
public enum GuardFormat: UInt8, Sendable, Hashable, CustomStringConvertible {
    case crc16 = 0
    case crc64 = 2

    /// Bytes of one tuple (8 or 16): the least metadata per block a protected format needs.
    public var tupleSize: Int { self == .crc16 ? 8 : 16 }
    /// Bits of the reference tag (32, or 48 with no storage tag).
    public var referenceTagMask: UInt64 { self == .crc16 ? 0xFFFF_FFFF : 0xFFFF_FFFF_FFFF }

    public var description: String { self == .crc16 ? "16-bit guard (CRC-16 T10-DIF)" : "64-bit guard (CRC-64 NVMe)" }
}

/// PRINFO, the 4-bit protection information field of Read, Write and Compare (CDW12 bits 29:26;
/// NVMe base 1.4, 8.3.1): PRACT bit 3, PRCHK bits 2:0 (guard, application tag, reference tag).
@frozen
public struct ProtectionInformationAction: OptionSet, Sendable, Hashable {
    public var rawValue: UInt8
    @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue & 0xF }

    /// PRCHK bit 0: check the reference tag.
    public static let checkReferenceTag = ProtectionInformationAction(rawValue: 1 << 0)
    /// PRCHK bit 1: check the application tag (under ELBATM).
    public static let checkApplicationTag = ProtectionInformationAction(rawValue: 1 << 1)
    /// PRCHK bit 2: check the guard.
    public static let checkGuard = ProtectionInformationAction(rawValue: 1 << 2)
    /// PRACT: the controller inserts the tuple on writes and strips it on reads (when the
    /// metadata is only the tuple it is then never transferred).
    public static let act = ProtectionInformationAction(rawValue: 1 << 3)
    /// All three PRCHK bits.
    public static let checkAll: ProtectionInformationAction = [.checkGuard, .checkApplicationTag, .checkReferenceTag]
}

/// Why a protection tuple failed its checks, in the order a controller checks (guard first).
public enum ProtectionCheckFailure: Sendable, Hashable {
    case guardMismatch
    case applicationTagMismatch
    case referenceTagMismatch

    /// The end-to-end status a controller completes with (NVMe base 1.4, 4.6.1.2.3: SCT 2,
    /// SC 82h/83h/84h).
    public var status: NVMeStatus {
        switch self {
        case .guardMismatch: .endToEndGuardCheckError
        case .applicationTagMismatch: .endToEndApplicationTagCheckError
        case .referenceTagMismatch: .endToEndReferenceTagCheckError
        }
    }
}

/// What the tags of a command are expected to be: CDW14 (+ CDW3 bits 15:0 for the 48-bit tag)
/// EILBRT/ILBRT, CDW15 ELBAT (bits 15:0) and ELBATM (bits 31:16).
@frozen
public struct ProtectionTags: Sendable, Hashable {
    /// The initial reference tag: the first block's; later blocks count up for types 1 and 2.
    public var referenceTag: UInt64
    public var applicationTag: UInt16
    /// Which application tag bits are checked.
    public var applicationTagMask: UInt16

    @inlinable
    public init(referenceTag: UInt64 = 0, applicationTag: UInt16 = 0, applicationTagMask: UInt16 = 0xFFFF) {
        self.referenceTag = referenceTag
        self.applicationTag = applicationTag
        self.applicationTagMask = applicationTagMask
    }
}

/// How a namespace places and computes protection information: the type, the guard, the
/// metadata size and where in the metadata the tuple sits (DPS bit 3). Generating and checking
/// live here once, for the emulated controller and for the driver's host-side PI alike.
@frozen
public struct ProtectionFormat: Sendable, Hashable {
    public var type: ProtectionType
    public var guardFormat: GuardFormat
    /// Metadata bytes per block, at least the tuple.
    public var metadataSize: Int
    /// DPS bit 3: the tuple is the first bytes of the metadata, else the last.
    public var tupleFirst: Bool

    @inlinable
    public init(type: ProtectionType, guardFormat: GuardFormat = .crc16, metadataSize: Int, tupleFirst: Bool = false) {
        self.type = type
        self.guardFormat = guardFormat
        self.metadataSize = metadataSize
        self.tupleFirst = tupleFirst
    }

    /// Where the tuple starts in a block's metadata. The guard covers the data and then the
    /// metadata bytes before this offset (NVM command set 1.0, 5.2.1.1), as QEMU computes it.
    @inlinable public var tupleOffset: Int { tupleFirst ? 0 : max(0, metadataSize - guardFormat.tupleSize) }

    /// The reference tag of block `index` of a command: counting up from the initial tag for
    /// types 1 and 2, fixed for type 3, wrapping within the tag's bits.
    @inlinable
    public func referenceTag(initial: UInt64, block index: Int) -> UInt64 {
        type == .type3 ? initial & guardFormat.referenceTagMask : (initial &+ UInt64(index)) & guardFormat.referenceTagMask
    }

    /// The PRINFO a command on this format may carry: `action` without the reference tag check
    /// on type 3, whose tag a controller "should not compare" and for which it may abort the
    /// command with Invalid Protection Information (NVM command set 1.0, 5.2, Reference Tag Check
    /// bit with Type 3), as QEMU does (hw/nvme/dif.c nvme_check_prinfo).
    @inlinable
    public func permittedAction(_ action: ProtectionInformationAction) -> ProtectionInformationAction {
        type == .type3 ? action.subtracting(.checkReferenceTag) : action
    }

    /// The guard of one block: the CRC of its data, continued over the metadata before the tuple.
    @inlinable
    public func guardValue(data: UnsafeRawBufferPointer, metadata: UnsafeRawBufferPointer) -> UInt64 {
        let prefix = UnsafeRawBufferPointer(rebasing: metadata[0..<min(tupleOffset, metadata.count)])
        switch guardFormat {
        case .crc16: return UInt64(CRC16T10DIF.update(CRC16T10DIF.checksum(data), prefix))
        case .crc64: return CRC64NVMe.finish(CRC64NVMe.update(CRC64NVMe.update(CRC64NVMe.initial, data), prefix))
        }
    }

    /// Writes the tuple of one block into its `metadata` (`metadataSize` bytes).
    @inlinable
    public func generate(
        data: UnsafeRawBufferPointer, metadata: UnsafeMutableRawBufferPointer, applicationTag: UInt16, referenceTag: UInt64
    ) {
        let tuple = ProtectionTuple(
            guardValue: guardValue(data: data, metadata: UnsafeRawBufferPointer(metadata)),
            applicationTag: applicationTag, referenceTag: referenceTag & guardFormat.referenceTagMask)
        tuple.store(into: UnsafeMutableRawBufferPointer(rebasing: metadata[tupleOffset...]), format: guardFormat)
    }

    /// Checks one block's tuple as PRCHK asks (NVMe base 1.4, 8.3.1.2). An application tag of all
    /// ones (and for type 3 also an all-ones reference tag) turns checking off for the block: the
    /// escape deallocated and never-written blocks carry.
    @inlinable
    public func check(
        data: UnsafeRawBufferPointer, metadata: UnsafeRawBufferPointer, checks: ProtectionInformationAction,
        tags: ProtectionTags, referenceTag: UInt64
    ) -> ProtectionCheckFailure? {
        let tuple = ProtectionTuple(loading: UnsafeRawBufferPointer(rebasing: metadata[tupleOffset...]), format: guardFormat)
        if tuple.applicationTag == 0xFFFF
            && (type != .type3 || tuple.referenceTag == guardFormat.referenceTagMask)
        {
            return nil
        }
        if checks.contains(.checkGuard) && tuple.guardValue != guardValue(data: data, metadata: metadata) {
            return .guardMismatch
        }
        if checks.contains(.checkApplicationTag)
            && tuple.applicationTag & tags.applicationTagMask != tags.applicationTag & tags.applicationTagMask
        {
            return .applicationTagMismatch
        }
        if checks.contains(.checkReferenceTag) && tuple.referenceTag != referenceTag & guardFormat.referenceTagMask {
            return .referenceTagMismatch
        }
        return nil
    }
}

/// One protection information tuple, stored big-endian (NVM command set 1.0, Figures 8 and 9):
/// 16-bit guard: guard 2 bytes, application tag 2, reference tag 4; 64-bit guard: guard 8,
/// application tag 2, reference tag 6 (no storage tag).
@frozen
public struct ProtectionTuple: Sendable, Hashable {
    public var guardValue: UInt64
    public var applicationTag: UInt16
    public var referenceTag: UInt64

    @inlinable
    public init(guardValue: UInt64, applicationTag: UInt16, referenceTag: UInt64) {
        self.guardValue = guardValue
        self.applicationTag = applicationTag
        self.referenceTag = referenceTag
    }

    /// Reads a tuple from the first `format.tupleSize` bytes (zeroes where `bytes` is shorter).
    @inlinable
    public init(loading bytes: UnsafeRawBufferPointer, format: GuardFormat) {
        func be(_ offset: Int, _ count: Int) -> UInt64 {
            var value: UInt64 = 0
            for i in offset..<offset + count { value = value << 8 | UInt64(i < bytes.count ? bytes[i] : 0) }
            return value
        }
        switch format {
        case .crc16: self.init(guardValue: be(0, 2), applicationTag: UInt16(be(2, 2)), referenceTag: be(4, 4))
        case .crc64: self.init(guardValue: be(0, 8), applicationTag: UInt16(be(8, 2)), referenceTag: be(10, 6))
        }
    }

    /// Writes the tuple into the first `format.tupleSize` bytes (as many as fit).
    @inlinable
    public func store(into bytes: UnsafeMutableRawBufferPointer, format: GuardFormat) {
        func be(_ value: UInt64, _ offset: Int, _ count: Int) {
            for i in 0..<count where offset + i < bytes.count {
                bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * (count - 1 - i)))
            }
        }
        switch format {
        case .crc16:
            be(guardValue, 0, 2)
            be(UInt64(applicationTag), 2, 2)
            be(referenceTag, 4, 4)
        case .crc64:
            be(guardValue, 0, 8)
            be(UInt64(applicationTag), 8, 2)
            be(referenceTag, 10, 6)
        }
    }
}
