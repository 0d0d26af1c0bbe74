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

/// The NVM command set's I/O commands on a queue pair (NVMe base 1.4, 6), allocation-free: each
/// builds its SQE on the stack and goes through `submit`. None rings the doorbell; call
/// `ringSubmissionDoorbell()` after one or several.
///
/// The LBA range is not checked here (the controller answers LBA Out of Range); the buffer must
/// hold `blocks` whole blocks and only that many bytes are transferred.
extension QueuePair {
    /// The first `blocks` blocks of `buffer`, after checking `blocks` is 1...`maximumBlocksPerCommand`
    /// (at most 65536, the NLB field's reach: `NamespaceInfo.init`) and the buffer holds them.
    @inlinable @inline(__always)
    func dataSlice(_ buffer: DMASlice, namespace: NamespaceInfo, blocks: Int) throws(NVMeError) -> DMASlice {
        // One unsigned compare for 1...maximum (blocks - 1 wraps to a huge value for 0 and below).
        // The limit is 0 on a namespace with metadata, which these data-only calls refuse.
        guard UInt(bitPattern: blocks &- 1) < UInt(bitPattern: namespace.dataOnlyBlockLimit) else {
            // Built inline from scalars: a call here (even a cold one) cost 6 instructions per I/O
            // by keeping the compiler from hoisting these checks out of a caller's loop.
            throw namespace.metadataSize != 0
                ? .metadataRequired(namespace: namespace.id, metadataSize: namespace.metadataSize)
                : .transferTooLarge(bytes: max(0, blocks) &* namespace.blockSize, maximum: namespace.maximumBlocksPerCommand &* namespace.blockSize)
        }
        let bytes = blocks &<< namespace.blockShift
        guard buffer.length >= bytes else { throw .bufferTooSmall(needed: bytes, actual: buffer.length) }
        return buffer.prefix(bytes)
    }

    /// Read (opcode 02h): `blocks` blocks from `lba` into `buffer`.
    @inlinable @inline(__always)
    @discardableResult
    public mutating func submitRead(
        namespace: NamespaceInfo, lba: UInt64, blocks: Int, into buffer: DMASlice, token: UInt64, forceUnitAccess: Bool = false
    ) throws(NVMeError) -> UInt16 {
        let data = try dataSlice(buffer, namespace: namespace, blocks: blocks)
        return try submit(
            .blockTransfer(.read, namespace.id, lba, checkedBlocks: blocks, forceUnitAccess ? 1 << 30 : 0), data: data, token: token)
    }

    /// Write (opcode 01h): `blocks` blocks from `buffer` to `lba`.
    @inlinable @inline(__always)
    @discardableResult
    public mutating func submitWrite(
        namespace: NamespaceInfo, lba: UInt64, blocks: Int, from buffer: DMASlice, token: UInt64, forceUnitAccess: Bool = false
    ) throws(NVMeError) -> UInt16 {
        let data = try dataSlice(buffer, namespace: namespace, blocks: blocks)
        return try submit(
            .blockTransfer(.write, namespace.id, lba, checkedBlocks: blocks, forceUnitAccess ? 1 << 30 : 0), data: data, token: token)
    }

    /// Compare (opcode 05h): the controller compares `buffer` with the media and completes with
    /// Compare Failure if they differ.
    @inlinable
    @discardableResult
    public mutating func submitCompare(
        namespace: NamespaceInfo, lba: UInt64, blocks: Int, with buffer: DMASlice, token: UInt64
    ) throws(NVMeError) -> UInt16 {
        let data = try dataSlice(buffer, namespace: namespace, blocks: blocks)
        return try submit(.compare(namespaceID: namespace.id, lba: lba, blocks: blocks), data: data, token: token)
    }

    /// Flush (opcode 00h): commits the volatile write cache.
    @inlinable
    @discardableResult
    public mutating func submitFlush(namespace: NamespaceInfo, token: UInt64) throws(NVMeError) -> UInt16 {
        try submit(.flush(namespaceID: namespace.id), token: token)
    }

    /// Write Zeroes (opcode 08h): no data transfer; `deallocate` lets the controller unmap instead.
    @inlinable
    @discardableResult
    public mutating func submitWriteZeroes(
        namespace: NamespaceInfo, lba: UInt64, blocks: Int, deallocate: Bool = false, token: UInt64
    ) throws(NVMeError) -> UInt16 {
        guard blocks >= 1, blocks <= 65536 else {
            throw .invalidArgument("Write Zeroes covers 1...65536 blocks per command, not \(blocks)")
        }
        return try submit(.writeZeroes(namespaceID: namespace.id, lba: lba, blocks: blocks, deallocate: deallocate), token: token)
    }

    /// Dataset Management with the Deallocate attribute (opcode 09h, TRIM) for up to 256 ranges.
    ///
    /// The range list is written into this command id's own PRP list page, which is DMA memory
    /// that stays untouched until the completion is consumed: no buffer from the caller and no
    /// allocation (256 ranges of 16 bytes fill exactly one 4 KiB page).
    @inlinable
    @discardableResult
    public mutating func submitDeallocate(
        namespace: NamespaceInfo, ranges: UnsafeBufferPointer<DatasetManagementRange>, token: UInt64
    ) throws(NVMeError) -> UInt16 {
        guard ranges.count >= 1, ranges.count <= 256 else {
            throw .invalidArgument("Dataset Management takes 1...256 ranges, not \(ranges.count)")
        }
        let (nextTail, cid, slot) = try reserveSlot()
        let tracker = commands.trackers + slot
        let page = UnsafeMutableRawPointer(tracker.pointee.prpList)
        for (i, range) in ranges.enumerated() {
            // NVMe base 1.4, Figure 364: context attributes, length in blocks, starting LBA.
            page.storeBytes(of: range.contextAttributes.littleEndian, toByteOffset: i &* 16, as: UInt32.self)
            page.storeBytes(of: range.lengthInBlocks.littleEndian, toByteOffset: i &* 16 &+ 4, as: UInt32.self)
            page.storeBytes(of: range.startingLBA.littleEndian, toByteOffset: i &* 16 &+ 8, as: UInt64.self)
        }
        var entry = SubmissionQueueEntry.datasetManagement(namespaceID: namespace.id, ranges: ranges.count, deallocate: true)
        entry.commandID = cid
        entry.prp1 = tracker.pointee.prpListIOVA
        enqueue(entry, tracker: tracker, token: token, nextTail: nextTail)
        return cid
    }
}

extension SubmissionQueueEntry {
    /// Read, Write or Compare with `blocks` already checked against `maximumBlocksPerCommand`
    /// (1...65536 by `NamespaceInfo.init`), so the NLB field is built without checking it again
    /// (`.read(namespaceID:lba:blocks:)` checks 1...65536 with a precondition).
    @inlinable @inline(__always)
    static func blockTransfer(_ op: IOOpcode, _ nsid: UInt32, _ lba: UInt64, checkedBlocks blocks: Int, _ cdw12Flags: UInt32) -> SubmissionQueueEntry {
        SubmissionQueueEntry(
            opcode: op.rawValue, namespaceID: nsid,
            cdw10: UInt32(truncatingIfNeeded: lba), cdw11: UInt32(truncatingIfNeeded: lba >> 32),
            cdw12: UInt32(truncatingIfNeeded: blocks &- 1) | cdw12Flags)
    }
}
