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

/// The geometry of an active namespace, fixed at bring-up from Identify Namespace and checked
/// there (the device is untrusted): a plain value with no references, so passing it on the I/O
/// path copies a few words and touches no reference count.
@frozen
public struct NamespaceInfo: Sendable, Equatable {
    /// NSID.
    public let id: UInt32
    /// Bytes per logical block of the format in use (512 B ... 64 KiB).
    public let blockSize: Int
    /// log2(blockSize).
    public let blockShift: Int
    /// NSZE: blocks in the namespace; valid LBAs are 0..<blockCount.
    public let blockCount: UInt64
    /// NCAP: blocks that may be allocated (thin provisioning), at most NSZE.
    public let capacityBlocks: UInt64
    /// Blocks one command may carry: MDTS (capped at one PRP list page; on an extended-LBA
    /// namespace counting each block's metadata) and the 16-bit NLB field.
    public let maximumBlocksPerCommand: Int
    /// The block limit of the data-only calls (`submitRead`/`submitWrite`/`submitCompare` without
    /// metadata): `maximumBlocksPerCommand`, or 0 on a namespace with metadata, whose commands need a
    /// metadata buffer or PRACT (MetadataIO.swift). The calls' one range compare then refuses such a
    /// namespace, so the I/O path pays nothing for it.
    @usableFromInline let dataOnlyBlockLimit: Int
    /// LBAF.MS: metadata bytes per block, 0 for none.
    public let metadataSize: Int
    /// FLBAS.MSET: the metadata follows each block in the data buffer (extended LBA), else it
    /// travels in a separate buffer at MPTR.
    public let extendedLBA: Bool
    /// DPS and the guard format (ELBAF.PIF), nil when the namespace has no protection information.
    public let protection: ProtectionFormat?
    /// NOIOB: the optimal I/O boundary in blocks, 0 when none is reported. Commands the driver
    /// splits a request into do not cross its multiples (`TransferSplit`).
    public let optimalIOBoundary: Int
    /// NPWG + 1 when NSFEAT.OPTPERF says the field is valid: the preferred write granularity in
    /// blocks, 0 when none is reported. Split writes end their pieces on its multiples.
    public let preferredWriteGranularity: Int

    public init(
        id: UInt32, blockShift: Int, blockCount: UInt64, capacityBlocks: UInt64, maximumTransferBytes: Int,
        metadataSize: Int = 0, extendedLBA: Bool = false, protection: ProtectionFormat? = nil,
        optimalIOBoundary: Int = 0, preferredWriteGranularity: Int = 0
    ) {
        self.optimalIOBoundary = max(0, optimalIOBoundary)
        self.preferredWriteGranularity = max(0, preferredWriteGranularity)
        self.id = id
        self.blockShift = blockShift
        self.blockSize = 1 << blockShift
        self.blockCount = blockCount
        self.capacityBlocks = capacityBlocks
        self.metadataSize = metadataSize
        self.extendedLBA = extendedLBA && metadataSize > 0
        self.protection = protection
        let wireBlock = (1 << blockShift) + (self.extendedLBA ? metadataSize : 0)
        self.maximumBlocksPerCommand = max(1, min(65536, maximumTransferBytes / wireBlock))
        self.dataOnlyBlockLimit = metadataSize == 0 ? maximumBlocksPerCommand : 0
    }

    /// The namespace size in bytes.
    public var bytes: UInt64 { blockCount << UInt64(blockShift) }

    /// `blocks` blocks in bytes, at most `Int.max` (for messages; never traps on a caller's count).
    public func bytes(blocks: Int) -> Int {
        let (product, overflow) = max(0, blocks).multipliedReportingOverflow(by: blockSize)
        return overflow ? .max : product
    }

    /// Checks an LBA range on the host, before anything is submitted.
    @inlinable
    public func check(lba: UInt64, blocks: Int) throws(NVMeError) {
        guard blocks >= 0, lba <= blockCount, UInt64(blocks) <= blockCount - lba else {
            throw .lbaOutOfRange(namespace: id, lba: lba, blocks: blocks, capacity: blockCount)
        }
    }

    /// Validates Identify Namespace data: a block size the driver supports (512 B ... 64 KiB, at
    /// most one command's transfer with its metadata), a protection type that exists and fits in
    /// the metadata, a size that is not zero and fits in bytes, NCAP <= NSZE. `guardFormat` comes
    /// from ELBAF (CNS 05h) where the controller reports it, else it is the 16-bit guard.
    static func validated(
        id: UInt32, identify: IdentifyNamespace, guardFormat: GuardFormat = .crc16, maximumTransferBytes: Int
    ) throws(NVMeError) -> NamespaceInfo {
        let format = identify.currentFormat
        guard LBAFormat.supportedDataSizes.contains(format.lbaDataSize) else {
            throw .namespaceUnusable(id, reason: "block size 2^\(format.lbaDataSize) is outside 512 B...64 KiB")
        }
        let shift = Int(format.lbaDataSize)
        let metadataSize = Int(format.metadataSize)
        let wireBlock = (1 << shift) + (identify.extendedLBA ? metadataSize : 0)
        guard wireBlock <= maximumTransferBytes else {
            throw .namespaceUnusable(id, reason: "block size \(wireBlock) exceeds the maximum transfer \(maximumTransferBytes)")
        }
        // DPS (device data): a reserved type, or a tuple larger than the metadata, cannot be used.
        guard let type = identify.protectionType else {
            throw .namespaceUnusable(id, reason: "DPS \(identify.dataProtectionSettings) names a reserved protection type")
        }
        var protection: ProtectionFormat?
        if type != .disabled {
            guard metadataSize >= guardFormat.tupleSize else {
                throw .namespaceUnusable(
                    id, reason: "protection \(type) needs \(guardFormat.tupleSize) bytes of metadata per block, the format has \(metadataSize)")
            }
            protection = ProtectionFormat(type: type, guardFormat: guardFormat, metadataSize: metadataSize, tupleFirst: identify.protectionFirst)
        }
        guard identify.size > 0, identify.sizeInBytes != nil else {
            throw .namespaceUnusable(id, reason: "NSZE \(identify.size) blocks is empty or too large")
        }
        guard identify.capacity <= identify.size else {
            throw .deviceMisbehaved("namespace \(id): NCAP \(identify.capacity) exceeds NSZE \(identify.size) (Identify Namespace)")
        }
        return NamespaceInfo(
            id: id, blockShift: shift, blockCount: identify.size, capacityBlocks: identify.capacity,
            maximumTransferBytes: maximumTransferBytes, metadataSize: metadataSize, extendedLBA: identify.extendedLBA,
            protection: protection, optimalIOBoundary: Int(identify.optimalIOBoundary),
            // NSFEAT bit 4 (OPTPERF): NPWG and the other performance fields are valid.
            preferredWriteGranularity: identify.features & 0x10 != 0 ? Int(identify.preferredWriteGranularity) + 1 : 0)
    }
}
