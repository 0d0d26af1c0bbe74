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

/// Asynchronous Event Request completion, CQE DW0 (NVMe base 1.4, 5.2.1, Figure 145): what
/// happened (type and information) and which log page the host reads to clear it.
///
/// Device data: `type` may be a reserved value and `logPage` any byte; users decide what they
/// read from it, never index with it.
@frozen
public struct AsynchronousEventInformation: Hashable, Sendable, CustomStringConvertible {
    /// Asynchronous Event Type (bits 2:0).
    public var type: AsynchronousEventType
    /// Asynchronous Event Information (bits 15:8), meaning per type.
    public var info: UInt8
    /// Log Page Identifier (bits 23:16): the page whose read with RAE clear re-enables the event.
    public var logPage: UInt8

    @inlinable public init(type: AsynchronousEventType, info: UInt8, logPage: UInt8) {
        self.type = type
        self.info = info
        self.logPage = logPage
    }

    @inlinable public init(dword: UInt32) {
        type = AsynchronousEventType(rawValue: UInt8(dword & 0x7))
        info = UInt8(truncatingIfNeeded: dword >> 8)
        logPage = UInt8(truncatingIfNeeded: dword >> 16)
    }

    @inlinable public var dword: UInt32 { UInt32(type.rawValue) | UInt32(info) << 8 | UInt32(logPage) << 16 }

    /// Notice 00h "Namespace Attribute Changed" (Figure 148): read the Changed Namespace List.
    @inlinable public var isNamespaceAttributeChanged: Bool { type == .notice && info == 0x00 }

    public var description: String {
        "type \(type) info 0x\(String(info, radix: 16)) log page 0x\(String(logPage, radix: 16))"
    }
}

/// Asynchronous Event Type (NVMe base 1.4, Figure 145).
@frozen
public struct AsynchronousEventType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue & 0x7 }

    public static let errorStatus = AsynchronousEventType(rawValue: 0)
    public static let smartHealth = AsynchronousEventType(rawValue: 1)
    public static let notice = AsynchronousEventType(rawValue: 2)
    public static let ioCommandSpecific = AsynchronousEventType(rawValue: 6)
    public static let vendorSpecific = AsynchronousEventType(rawValue: 7)

    public var description: String {
        switch rawValue {
        case 0: "error"
        case 1: "smart-health"
        case 2: "notice"
        case 6: "io-command-specific"
        case 7: "vendor-specific"
        default: "reserved(\(rawValue))"
        }
    }
}

/// Asynchronous Event Configuration, feature 0Bh (NVMe base 1.4, 5.21.1.11): which SMART / Health
/// critical warnings and notices the controller reports. Error events are always reported.
@frozen
public struct AsynchronousEventConfiguration: OptionSet, Hashable, Sendable {
    public var rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Bits 7:0: one per SMART / Health Critical Warning bit (`SMARTHealthLog.CriticalWarning`).
    public static let smartCriticalWarnings = AsynchronousEventConfiguration(rawValue: 0xFF)
    /// Bit 8: Namespace Attribute Notices.
    public static let namespaceAttributeNotices = AsynchronousEventConfiguration(rawValue: 1 << 8)
    /// Bit 9: Firmware Activation Notices.
    public static let firmwareActivationNotices = AsynchronousEventConfiguration(rawValue: 1 << 9)
}

/// Changed Namespace List, log page 04h (NVMe base 1.4, 5.14.1.4): up to 1024 NSIDs whose
/// Identify Namespace data changed (attached, detached, resized, formatted) since the page was
/// last read with RAE clear. A first entry of FFFFFFFFh means more than 1024 changed: rescan all.
@frozen
public struct ChangedNamespaceList: Hashable, Sendable {
    public static let capacity = 1024

    /// Changed NSIDs, as listed (empty with `overflowed`).
    public var namespaceIDs: [UInt32]
    /// More than 1024 namespaces changed; the list does not say which.
    public var overflowed: Bool

    @inlinable public init(namespaceIDs: [UInt32], overflowed: Bool = false) {
        self.namespaceIDs = namespaceIDs
        self.overflowed = overflowed
    }
}

extension ChangedNamespaceList: NVMeDataStructure {
    public static let encodedSize = 4096

    /// Stops at the first zero entry. FFFFFFFFh anywhere but first is garbage, and so are
    /// repeated NSIDs (the list names each changed namespace once); both are rejected, so a
    /// device cannot make the host identify one namespace 1024 times.
    public init(bytes: UnsafeRawBufferPointer) throws(NVMeDataStructureError) {
        let r = ByteReader(bytes, structure: "ChangedNamespaceList")
        try r.require(4096)
        let first: UInt32 = try r.load(at: 0)
        if first == 0xFFFF_FFFF {
            namespaceIDs = []
            overflowed = true
            return
        }
        var ids: [UInt32] = []
        var seen = Set<UInt32>()
        for i in 0..<Self.capacity {
            let id: UInt32 = try r.load(at: 4 * i)
            if id == 0 { break }
            guard id != 0xFFFF_FFFF, seen.insert(id).inserted else {
                throw .invalidField(structure: "ChangedNamespaceList", field: "NSID[\(i)]", value: UInt64(id))
            }
            ids.append(id)
        }
        namespaceIDs = ids
        overflowed = false
    }

    public func encode(into buffer: UnsafeMutableRawBufferPointer) throws(NVMeDataStructureError) {
        let w = ByteWriter(buffer, structure: "ChangedNamespaceList")
        guard namespaceIDs.count <= Self.capacity else {
            throw .invalidField(structure: "ChangedNamespaceList", field: "count", value: UInt64(namespaceIDs.count))
        }
        try w.prepare(4096)
        if overflowed {
            try w.store(UInt32(0xFFFF_FFFF), at: 0)
            return
        }
        for (i, id) in namespaceIDs.enumerated() { try w.store(id, at: 4 * i) }
    }
}
