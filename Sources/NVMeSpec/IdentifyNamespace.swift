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

/// One LBA Format entry of Identify Namespace (NVMe base 1.4, 5.15.2.2, bytes 128 + 4*n):
/// MS bits 15:0, LBADS bits 23:16, RP bits 25:24.
@frozen
public struct LBAFormat: Hashable, Sendable {
    /// MS: metadata bytes per block.
    public var metadataSize: UInt16
    /// LBADS: log2 of the block size; 0 means the format is not supported.
    public var lbaDataSize: UInt8
    /// RP: relative performance, 0 best ... 3 degraded.
    public var relativePerformance: UInt8

    @inlinable
    public init(metadataSize: UInt16 = 0, lbaDataSize: UInt8, relativePerformance: UInt8 = 0) {
        self.metadataSize = metadataSize
        self.lbaDataSize = lbaDataSize
        self.relativePerformance = relativePerformance & 0b11
    }

    @inlinable
    public init(rawValue: UInt32) {
        self.init(
            metadataSize: UInt16(truncatingIfNeeded: rawValue), lbaDataSize: UInt8(truncatingIfNeeded: rawValue >> 16),
            relativePerformance: UInt8(truncatingIfNeeded: rawValue >> 24) & 0b11)
    }

    @inlinable
    public var rawValue: UInt32 {
        UInt32(metadataSize) | UInt32(lbaDataSize) << 16 | UInt32(relativePerformance & 0b11) << 24
    }

    /// Block size in bytes (0 if LBADS is 0 or absurd).
    @inlinable public var blockSize: Int { lbaDataSize == 0 || lbaDataSize > 62 ? 0 : 1 << Int(lbaDataSize) }

    /// Block sizes NVMe allows: 512 B (LBADS 9) up to 64 KiB (LBADS 16), what this driver supports.
    public static let supportedDataSizes: ClosedRange<UInt8> = 9...16
}

/// Identify Namespace data structure, CNS 00h (NVMe base 1.4, 5.15.2.2), 4096 bytes.
///
/// Decoding validates what the driver will compute with: the current format index must not exceed
/// NLBAF and its LBADS must be 9...16, so `blockSize` is always 512 B ... 64 KiB after a decode.
@frozen
public struct IdentifyNamespace: Hashable, Sendable {
    /// NSZE (bytes 7:0): namespace size in blocks.
    public var size: UInt64 = 0
    /// NCAP (15:8): namespace capacity in blocks.
    public var capacity: UInt64 = 0
    /// NUSE (23:16): namespace utilization in blocks.
    public var utilization: UInt64 = 0
    /// NSFEAT (24): namespace features (bit 0 thin provisioning, bit 2 DEALLOCATE/UNWRITTEN errors).
    public var features: UInt8 = 0
    /// NLBAF (25): number of LBA formats, zero-based.
    public var numberOfLBAFormats: UInt8 = 0
    /// FLBAS (26): formatted LBA size; bits 3:0 index the current LBA format, bit 4 extended metadata.
    public var formattedLBASize: UInt8 = 0
    /// MC (27): metadata capabilities.
    public var metadataCapabilities: UInt8 = 0
    /// DPC (28): end-to-end data protection capabilities.
    public var dataProtectionCapabilities: UInt8 = 0
    /// DPS (29): end-to-end data protection type settings.
    public var dataProtectionSettings: UInt8 = 0
    /// NMIC (30): namespace multi-path I/O and sharing capabilities.
    public var multipathCapabilities: UInt8 = 0
    /// RESCAP (31): reservation capabilities.
    public var reservationCapabilities: UInt8 = 0
    /// NAWUN (35:34): namespace atomic write unit normal, zero-based blocks.
    public var atomicWriteUnitNormal: UInt16 = 0
    /// NAWUPF (37:36): namespace atomic write unit power fail, zero-based blocks.
    public var atomicWriteUnitPowerFail: UInt16 = 0
    /// NOIOB (47:46): namespace optimal I/O boundary in blocks, 0 = none reported.
    public var optimalIOBoundary: UInt16 = 0
    /// NPWG (65:64): namespace preferred write granularity, zero-based blocks; valid when NSFEAT
    /// bit 4 (OPTPERF) is set.
    public var preferredWriteGranularity: UInt16 = 0
    /// NGUID (119:104): namespace globally unique identifier, 16 bytes, all zero if absent.
    public var nguid: [UInt8] = Array(repeating: 0, count: 16)
    /// EUI64 (127:120): IEEE extended unique identifier, 8 bytes in big-endian order, zero if absent.
    public var eui64: [UInt8] = Array(repeating: 0, count: 8)
    /// LBAF0...LBAF15 (191:128).
    public var lbaFormats: [LBAFormat] = [LBAFormat(lbaDataSize: 9)] + Array(repeating: LBAFormat(lbaDataSize: 0), count: 15)

    /// A namespace with one 512-byte format in use.
    public init() {}

    /// FLBAS bits 3:0.
    @inlinable public var currentFormatIndex: Int { Int(formattedLBASize & 0xF) }
    /// The LBA format in use.
    @inlinable public var currentFormat: LBAFormat {
        currentFormatIndex < lbaFormats.count ? lbaFormats[currentFormatIndex] : LBAFormat(lbaDataSize: 0)
    }
    /// Bytes per logical block of the current format.
    @inlinable public var blockSize: Int { currentFormat.blockSize }
    /// NSZE in bytes, or nil if it overflows (device data).
    @inlinable public var sizeInBytes: UInt64? {
        let (bytes, overflow) = size.multipliedReportingOverflow(by: UInt64(blockSize))
        return overflow ? nil : bytes
    }
    /// NSFEAT bit 0: thin provisioning.
    @inlinable public var thinProvisioning: Bool { features & 1 != 0 }
}

extension IdentifyNamespace: NVMeDataStructure {
    public static let encodedSize = 4096

    public init(bytes: UnsafeRawBufferPointer) throws(NVMeDataStructureError) {
        let r = ByteReader(bytes, structure: "IdentifyNamespace")
        try r.require(4096)
        size = try r.load(at: 0)
        capacity = try r.load(at: 8)
        utilization = try r.load(at: 16)
        features = try r.load(at: 24)
        numberOfLBAFormats = try r.load(at: 25)
        formattedLBASize = try r.load(at: 26)
        metadataCapabilities = try r.load(at: 27)
        dataProtectionCapabilities = try r.load(at: 28)
        dataProtectionSettings = try r.load(at: 29)
        multipathCapabilities = try r.load(at: 30)
        reservationCapabilities = try r.load(at: 31)
        atomicWriteUnitNormal = try r.load(at: 34)
        atomicWriteUnitPowerFail = try r.load(at: 36)
        optimalIOBoundary = try r.load(at: 46)
        preferredWriteGranularity = try r.load(at: 64)
        nguid = try r.bytes(at: 104, count: 16)
        eui64 = try r.bytes(at: 120, count: 8)
        var formats: [LBAFormat] = []
        for i in 0..<16 { formats.append(LBAFormat(rawValue: try r.load(at: 128 + 4 * i))) }
        lbaFormats = formats
        // NVMe base 1.4, 5.15.2.2: FLBAS bits 3:0 select one of NLBAF + 1 formats.
        guard currentFormatIndex <= Int(numberOfLBAFormats) else {
            throw .invalidField(structure: "IdentifyNamespace", field: "FLBAS", value: UInt64(formattedLBASize))
        }
        guard LBAFormat.supportedDataSizes.contains(currentFormat.lbaDataSize) else {
            throw .invalidField(
                structure: "IdentifyNamespace", field: "LBAF\(currentFormatIndex).LBADS", value: UInt64(currentFormat.lbaDataSize))
        }
    }

    public func encode(into buffer: UnsafeMutableRawBufferPointer) throws(NVMeDataStructureError) {
        let w = ByteWriter(buffer, structure: "IdentifyNamespace")
        try w.prepare(4096)
        try w.store(size, at: 0)
        try w.store(capacity, at: 8)
        try w.store(utilization, at: 16)
        try w.store(features, at: 24)
        try w.store(numberOfLBAFormats, at: 25)
        try w.store(formattedLBASize, at: 26)
        try w.store(metadataCapabilities, at: 27)
        try w.store(dataProtectionCapabilities, at: 28)
        try w.store(dataProtectionSettings, at: 29)
        try w.store(multipathCapabilities, at: 30)
        try w.store(reservationCapabilities, at: 31)
        try w.store(atomicWriteUnitNormal, at: 34)
        try w.store(atomicWriteUnitPowerFail, at: 36)
        try w.store(optimalIOBoundary, at: 46)
        try w.store(preferredWriteGranularity, at: 64)
        try w.store(bytes: nguid, at: 104, count: 16)
        try w.store(bytes: eui64, at: 120, count: 8)
        for (i, format) in lbaFormats.prefix(16).enumerated() { try w.store(format.rawValue, at: 128 + 4 * i) }
    }
}
