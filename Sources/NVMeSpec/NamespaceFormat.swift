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

/// The metadata and protection fields of Identify Namespace decoded (NVMe base 1.4, 5.15.2.2):
/// FLBAS bit 4 (MSET), MC, DPC and DPS. Raw bytes stay in `IdentifyNamespace`; these are views.
extension IdentifyNamespace {
    /// LBAF.MS of the format in use: metadata bytes per block, 0 for none.
    @inlinable public var metadataSize: Int { Int(currentFormat.metadataSize) }
    /// FLBAS bit 4 (MSET): metadata travels at the end of each block in the data buffer
    /// (extended LBA); clear, it travels in a separate buffer at MPTR.
    @inlinable public var extendedLBA: Bool {
        get { formattedLBASize & 0x10 != 0 }
        set { formattedLBASize = newValue ? formattedLBASize | 0x10 : formattedLBASize & ~0x10 }
    }
    /// DPS bits 2:0; a reserved value (4...7) reads as nil.
    @inlinable public var protectionType: ProtectionType? { ProtectionType(rawValue: dataProtectionSettings & 0x7) }
    /// DPS bit 3: the tuple is the first bytes of the metadata, else the last.
    @inlinable public var protectionFirst: Bool { dataProtectionSettings & 0x8 != 0 }
    /// MC bit 0: extended-LBA metadata supported; MC bit 1: separate-buffer metadata supported.
    @inlinable public var supportsExtendedMetadata: Bool { metadataCapabilities & 1 != 0 }
    @inlinable public var supportsSeparateMetadata: Bool { metadataCapabilities & 2 != 0 }
    /// DPC bits 2:0: which protection types the namespace can be formatted with.
    @inlinable public var supportedProtectionTypes: [ProtectionType] {
        [ProtectionType.type1, .type2, .type3].filter { dataProtectionCapabilities & (1 << ($0.rawValue - 1)) != 0 }
    }
    /// DPC bit 3 / bit 4: the tuple may be first / last in the metadata.
    @inlinable public var supportsProtectionFirst: Bool { dataProtectionCapabilities & 0x08 != 0 }
    @inlinable public var supportsProtectionLast: Bool { dataProtectionCapabilities & 0x10 != 0 }

    /// DPS value for a type and tuple place.
    @inlinable
    public static func dataProtectionSettings(_ type: ProtectionType, first: Bool) -> UInt8 {
        type.rawValue | (first ? 0x8 : 0)
    }
}

/// One Extended LBA Format entry of the I/O command set specific Identify Namespace for the NVM
/// command set (CNS 05h, CSI 00h; NVM command set 1.0, 4.1.5.2, bytes 12 + 4*n): STS bits 6:0,
/// PIF bits 8:7. QEMU offers it with `nvme-ns pif=`, advertised by CTRATT bit 15 (ELBAS).
@frozen
public struct ExtendedLBAFormat: Hashable, Sendable {
    public var rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }
    @inlinable public init(storageTagSize: UInt8 = 0, protectionInformationFormat: UInt8) {
        rawValue = UInt32(storageTagSize & 0x7F) | UInt32(protectionInformationFormat & 0x3) << 7
    }
    /// STS: storage tag bits in the reference tag field (0 here: the driver supports none).
    @inlinable public var storageTagSize: UInt8 { UInt8(truncatingIfNeeded: rawValue & 0x7F) }
    /// PIF: 0 16-bit guard, 1 32-bit guard, 2 64-bit guard, 3 reserved.
    @inlinable public var protectionInformationFormat: UInt8 { UInt8(truncatingIfNeeded: rawValue >> 7 & 0x3) }
    /// The guard format, or nil for the 32-bit guard and the reserved value, which the driver does not do.
    @inlinable public var guardFormat: GuardFormat? { GuardFormat(rawValue: protectionInformationFormat) }
}

/// I/O command set specific Identify Namespace, NVM command set (CNS 05h, CSI 00h), 4096 bytes:
/// LBSTM (7:0), PIC (8), ELBAF0...ELBAF63 (12 + 4*n).
@frozen
public struct IdentifyNVMNamespace: Hashable, Sendable {
    /// LBSTM: logical block storage tag mask.
    public var storageTagMask: UInt64 = 0
    /// PIC: protection information capabilities (bit 0 16b guard, bit 1 32b, bit 2 64b).
    public var protectionInformationCapabilities: UInt8 = 0
    /// ELBAF0...ELBAF63, one per LBA format.
    public var extendedFormats: [ExtendedLBAFormat] = Array(repeating: ExtendedLBAFormat(rawValue: 0), count: 64)

    public init() {}
}

extension IdentifyNVMNamespace: NVMeDataStructure {
    public static let encodedSize = 4096

    public init(bytes: UnsafeRawBufferPointer) throws(NVMeDataStructureError) {
        let r = ByteReader(bytes, structure: "IdentifyNVMNamespace")
        try r.require(4096)
        storageTagMask = try r.load(at: 0)
        protectionInformationCapabilities = try r.load(at: 8)
        var formats: [ExtendedLBAFormat] = []
        for i in 0..<64 { formats.append(ExtendedLBAFormat(rawValue: try r.load(at: 12 + 4 * i))) }
        extendedFormats = formats
    }

    public func encode(into buffer: UnsafeMutableRawBufferPointer) throws(NVMeDataStructureError) {
        let w = ByteWriter(buffer, structure: "IdentifyNVMNamespace")
        try w.prepare(4096)
        try w.store(storageTagMask, at: 0)
        try w.store(protectionInformationCapabilities, at: 8)
        for (i, format) in extendedFormats.prefix(64).enumerated() { try w.store(format.rawValue, at: 12 + 4 * i) }
    }
}
