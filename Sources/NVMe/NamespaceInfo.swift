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
    /// Blocks one command may carry: MDTS (capped at one PRP list page) and the 16-bit NLB field.
    public let maximumBlocksPerCommand: Int

    public init(id: UInt32, blockShift: Int, blockCount: UInt64, capacityBlocks: UInt64, maximumTransferBytes: Int) {
        self.id = id
        self.blockShift = blockShift
        self.blockSize = 1 << blockShift
        self.blockCount = blockCount
        self.capacityBlocks = capacityBlocks
        self.maximumBlocksPerCommand = max(1, min(65536, maximumTransferBytes >> blockShift))
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
    /// most one command's transfer), no extended-LBA metadata interleaved with data (the driver
    /// moves data only), a size that is not zero and fits in bytes, NCAP <= NSZE.
    static func validated(id: UInt32, identify: IdentifyNamespace, maximumTransferBytes: Int) throws(NVMeError) -> NamespaceInfo {
        let format = identify.currentFormat
        guard LBAFormat.supportedDataSizes.contains(format.lbaDataSize) else {
            throw .namespaceUnusable(id, reason: "block size 2^\(format.lbaDataSize) is outside 512 B...64 KiB")
        }
        let shift = Int(format.lbaDataSize)
        guard 1 << shift <= maximumTransferBytes else {
            throw .namespaceUnusable(id, reason: "block size \(1 << shift) exceeds the maximum transfer \(maximumTransferBytes)")
        }
        // FLBAS bit 4: metadata transferred at the end of each block (extended LBA). With MS != 0
        // every block on the wire is larger than the block size, which the data path does not do.
        if format.metadataSize != 0 && identify.formattedLBASize & 0x10 != 0 {
            throw .namespaceUnusable(id, reason: "extended-LBA metadata (\(format.metadataSize) bytes per block) is not supported")
        }
        guard identify.size > 0, identify.sizeInBytes != nil else {
            throw .namespaceUnusable(id, reason: "NSZE \(identify.size) blocks is empty or too large")
        }
        guard identify.capacity <= identify.size else {
            throw .deviceMisbehaved("namespace \(id): NCAP \(identify.capacity) exceeds NSZE \(identify.size) (Identify Namespace)")
        }
        return NamespaceInfo(
            id: id, blockShift: shift, blockCount: identify.size, capacityBlocks: identify.capacity,
            maximumTransferBytes: maximumTransferBytes)
    }
}
