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

/// Scatter/gather requests: one Read or Write whose data lies in several DMA slices (an iovec),
/// sent as one command. With SGLs every dword-aligned piece goes (one Data Block per slice in the
/// command id's list page); with PRPs the pieces must meet at page boundaries (every slice but the
/// first starts on a page, every slice but the last ends on one), since a PRP entry after the
/// first names a whole page (NVMe base 1.4, 4.3). A request PRPs cannot describe is refused with
/// the reason, never silently split: the caller asked for one command.
extension QueuePair {
    /// Slices one request may have: one list page of SGL Data Blocks.
    public static var maximumSlicesPerCommand: Int { SGLBuilder.descriptorsPerListPage }

    /// Read (opcode 02h): `blocks` blocks from `lba` into `slices`, in order, which together hold
    /// exactly that many bytes.
    @inlinable
    @discardableResult
    public mutating func submitRead(
        namespace: NamespaceInfo, lba: UInt64, blocks: Int, into slices: UnsafeBufferPointer<DMASlice>, token: UInt64,
        forceUnitAccess: Bool = false
    ) throws(NVMeError) -> UInt16 {
        try checkBlocks(namespace: namespace, blocks: blocks)
        return try submit(
            .blockTransfer(.read, namespace.id, lba, checkedBlocks: blocks, forceUnitAccess ? 1 << 30 : 0),
            slices: slices, bytes: blocks &<< namespace.blockShift, token: token)
    }

    /// Write (opcode 01h): `blocks` blocks from `slices`, in order, to `lba`.
    @inlinable
    @discardableResult
    public mutating func submitWrite(
        namespace: NamespaceInfo, lba: UInt64, blocks: Int, from slices: UnsafeBufferPointer<DMASlice>, token: UInt64,
        forceUnitAccess: Bool = false
    ) throws(NVMeError) -> UInt16 {
        try checkBlocks(namespace: namespace, blocks: blocks)
        return try submit(
            .blockTransfer(.write, namespace.id, lba, checkedBlocks: blocks, forceUnitAccess ? 1 << 30 : 0),
            slices: slices, bytes: blocks &<< namespace.blockShift, token: token)
    }

    /// `blocks` is 1...`maximumBlocksPerCommand` on a namespace without metadata, as `dataSlice`
    /// checks for one slice (these data-only calls refuse a namespace with metadata).
    @inlinable
    func checkBlocks(namespace: NamespaceInfo, blocks: Int) throws(NVMeError) {
        guard blocks >= 1, blocks <= namespace.dataOnlyBlockLimit else {
            throw namespace.metadataSize != 0
                ? .metadataRequired(namespace: namespace.id, metadataSize: namespace.metadataSize)
                : .transferTooLarge(bytes: namespace.bytes(blocks: blocks), maximum: namespace.maximumBlocksPerCommand &* namespace.blockSize)
        }
    }

    /// Writes `command` with its data in `slices` (exactly `bytes` together) into the next SQ slot,
    /// as `submit(_:data:token:)` does for one slice. Nothing is written when it throws.
    @inlinable
    public mutating func submit(
        _ command: SubmissionQueueEntry, slices: UnsafeBufferPointer<DMASlice>, bytes: Int, token: UInt64
    ) throws(NVMeError) -> UInt16 {
        try checkSlices(slices, bytes: bytes)
        if slices.count == 1 { return try submit(command, data: slices[0], token: token) }
        let (nextTail, cid, slot) = try reserveSlot()
        var entry = command
        entry.commandID = cid
        let tracker = commands.trackers + slot
        let list = tracker.pointee.prpList
        if usesSGL {
            SGLBuilder.setSegment(&entry, slices: slices, listPage: UnsafeMutableRawPointer(list), listIOVA: tracker.pointee.prpListIOVA)
        } else {
            // PRP1 is the first slice's start; the list names every later page of every slice
            // (at most 512: the pieces are page-contiguous and `bytes` is within one list page's reach).
            let page = UInt64(PRPBuilder.pageSize)
            var count = 0
            for (i, slice) in slices.enumerated() {
                let start = slice.iova.rawValue
                var address = i == 0 ? (start | (page &- 1)) &+ 1 : start
                let end = start &+ UInt64(slice.length)
                while address < end {
                    list[count] = address.littleEndian
                    count &+= 1
                    address &+= page
                }
            }
            entry.prp1 = slices[0].iova.rawValue
            entry.prp2 = count == 1 ? UInt64(littleEndian: list[0]) : tracker.pointee.prpListIOVA
        }
        enqueue(entry, tracker: tracker, token: token, nextTail: nextTail)
        return cid
    }

    /// The checks of a scattered request, before anything is taken: 1...`maximumSlicesPerCommand`
    /// slices of this device, each non-empty and dword aligned (and a whole number of dwords if
    /// the controller's SGLS says 10b), `bytes` in all and within the transfer limit; with PRPs,
    /// pieces that meet at page boundaries.
    @usableFromInline
    func checkSlices(_ slices: UnsafeBufferPointer<DMASlice>, bytes: Int) throws(NVMeError) {
        guard (1...Self.maximumSlicesPerCommand).contains(slices.count) else {
            throw .invalidArgument("a scattered request takes 1...\(Self.maximumSlicesPerCommand) slices, not \(slices.count); split it into several commands")
        }
        guard bytes <= maximumTransferBytes else { throw .transferTooLarge(bytes: bytes, maximum: maximumTransferBytes) }
        let dwordLengths = usesSGL && controller.identity.sglSupport.requiresDwordAlignment
        let pageMask = UInt64(PRPBuilder.pageSize - 1)
        var total = 0
        for (i, slice) in slices.enumerated() {
            if slice.domain != dmaDomain { throw refuseForeign(slice) }
            let iova = slice.iova.rawValue
            guard iova & 3 == 0 else { throw .misalignedBuffer(iova: iova) }
            guard slice.length > 0, !dwordLengths || slice.length & 3 == 0 else {
                throw .invalidArgument("slice \(i) of a scattered request is \(slice.length) bytes; each must be non-empty\(dwordLengths ? " and a multiple of 4 bytes (SGLS)" : "")")
            }
            if !usesSGL && slices.count > 1 {
                let startsOnPage = i == 0 || iova & pageMask == 0
                let endsOnPage = i == slices.count - 1 || (iova &+ UInt64(slice.length)) & pageMask == 0
                guard startsOnPage && endsOnPage else {
                    throw .invalidArgument("slice \(i) of a scattered request does not \(startsOnPage ? "end" : "start") on a page boundary, which PRPs need; use a controller with SGLs or page-aligned slices")
                }
            }
            total &+= slice.length
            guard total <= bytes else { break }
        }
        guard total >= bytes else { throw .bufferTooSmall(needed: bytes, actual: total) }
        guard total == bytes else {
            throw .invalidArgument("the slices hold more than the \(bytes) bytes the command moves; pass exactly that many")
        }
    }
}
