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

/// The token API's splitting helper (issue 18 item 7): a queue pair whose reads, writes and
/// compares may be larger than one command carries (MDTS: `NamespaceInfo.maximumBlocksPerCommand`).
/// Such a request goes as several commands (`TransferSplit`: not crossing the namespace's NOIOB,
/// writes' pieces ending on NPWG multiples where they can) through the pair's own `submit`, and
/// the caller sees one completion with its token: after the last part's completion is consumed,
/// with the first failing part's status, or success. A request that fits goes to the pair's own
/// call unchanged, with the caller's token.
///
/// Every part keeps its own command id and PRP list or SGL page until its own completion is
/// consumed (the pair's rule); the request's buffer is the caller's until the request completes.
/// All parts go in or none: with too few free SQ entries or command ids the call throws the
/// pair's backpressure errors and writes nothing. A controller reset ends the request once, with
/// "Command Aborted By Host", when the rebuild ends its parts. As SPDK's
/// `_nvme_ns_cmd_split_request`, except that the parts need no child allocation: the group table
/// is preallocated for the pair's depth (`SplitRequestTable`).
///
/// Opt-in, so the plain `QueuePair` calls pay nothing for it: the owner takes the pair, and its
/// completions must be consumed through this type's `reap`, `waitForCompletions` and
/// `recoverIfReset` (which turn part completions into request completions; others pass through).
public struct SplittingQueuePair<Device: PCIFunction>: ~Copyable, @unchecked Sendable {
    @usableFromInline var queue: QueuePair<Device>
    @usableFromInline let table: SplitRequestTable

    /// Takes `pair` and preallocates the group table for its depth.
    public init(_ pair: consuming QueuePair<Device>) {
        table = SplitRequestTable(depth: pair.depth, tagMask: pair.commands.tagMask)
        queue = pair
    }

    deinit { table.deallocate() }

    /// The queue pair the commands go to, for its properties. Read-only: a completion consumed
    /// around this type would leave its request waiting forever.
    public var pair: QueuePair<Device> { _read { yield queue } }

    /// Requests submitted whose completion was not yet delivered (a split request counts once).
    @inlinable public var outstanding: Int { queue.outstanding &- table.partsInFlight &+ table.requestsInFlight }
    /// The pair's counters (commands, not requests).
    public var statistics: QueueStatistics { queue.statistics }
    /// Submissions written but not yet published (commands).
    public var unpublishedSubmissions: Int { queue.unpublishedSubmissions }

    /// Read (02h) of `blocks` blocks from `lba` into `buffer`, split when one command cannot carry them.
    @inlinable
    @discardableResult
    public mutating func submitRead(
        namespace: NamespaceInfo, lba: UInt64, blocks: Int, into buffer: DMASlice, token: UInt64, forceUnitAccess: Bool = false
    ) throws(NVMeError) -> UInt16 {
        try submitTransfer(.read, namespace, lba, blocks, buffer, token, forceUnitAccess ? 1 << 30 : 0)
    }

    /// Write (01h) of `blocks` blocks from `buffer` to `lba`, split as `submitRead` is.
    @inlinable
    @discardableResult
    public mutating func submitWrite(
        namespace: NamespaceInfo, lba: UInt64, blocks: Int, from buffer: DMASlice, token: UInt64, forceUnitAccess: Bool = false
    ) throws(NVMeError) -> UInt16 {
        try submitTransfer(.write, namespace, lba, blocks, buffer, token, forceUnitAccess ? 1 << 30 : 0)
    }

    /// Compare (05h) of `buffer` with `blocks` blocks at `lba`, split as `submitRead` is: the
    /// request fails with Compare Failure when any part does.
    @inlinable
    @discardableResult
    public mutating func submitCompare(
        namespace: NamespaceInfo, lba: UInt64, blocks: Int, with buffer: DMASlice, token: UInt64
    ) throws(NVMeError) -> UInt16 {
        try submitTransfer(.compare, namespace, lba, blocks, buffer, token, 0)
    }

    /// A data-only transfer: one command as the pair's own `submitRead`/`submitWrite`/`submitCompare`
    /// builds it when it fits (their checks refuse a namespace with metadata), else `submitSplit`.
    @inlinable
    mutating func submitTransfer(
        _ opcode: IOOpcode, _ namespace: NamespaceInfo, _ lba: UInt64, _ blocks: Int, _ buffer: DMASlice, _ token: UInt64,
        _ cdw12Flags: UInt32
    ) throws(NVMeError) -> UInt16 {
        guard blocks > namespace.maximumBlocksPerCommand, namespace.metadataSize == 0 else {
            let data = try queue.dataSlice(buffer, namespace: namespace, blocks: blocks)
            return try queue.submit(.blockTransfer(opcode, namespace.id, lba, checkedBlocks: blocks, cdw12Flags), data: data, token: token)
        }
        return try submitSplit(opcode, namespace, lba, blocks, buffer, token, cdw12Flags)
    }

    /// Read with metadata and protection (MetadataIO.swift): the pair's call, not split (one
    /// command's blocks at most; the blocking `Namespace.read(…metadata:…)` splits such requests).
    @inlinable
    @discardableResult
    public mutating func submitRead(
        namespace: NamespaceInfo, lba: UInt64, blocks: Int, into buffer: DMASlice, metadata: DMASlice?,
        protection: IOProtection, token: UInt64
    ) throws(NVMeError) -> UInt16 {
        try queue.submitRead(namespace: namespace, lba: lba, blocks: blocks, into: buffer, metadata: metadata, protection: protection, token: token)
    }

    /// Write with metadata and protection: the pair's call, not split (as the read above).
    @inlinable
    @discardableResult
    public mutating func submitWrite(
        namespace: NamespaceInfo, lba: UInt64, blocks: Int, from buffer: DMASlice, metadata: DMASlice?,
        protection: IOProtection, token: UInt64
    ) throws(NVMeError) -> UInt16 {
        try queue.submitWrite(namespace: namespace, lba: lba, blocks: blocks, from: buffer, metadata: metadata, protection: protection, token: token)
    }

    /// Publishes the submissions with one SQ tail doorbell store (`QueuePair.ringSubmissionDoorbell`).
    @inlinable
    public mutating func ringSubmissionDoorbell() { queue.ringSubmissionDoorbell() }

    /// The pieces of a data-only transfer over one command's limit, all submitted or none.
    @usableFromInline
    mutating func submitSplit(
        _ opcode: IOOpcode, _ namespace: NamespaceInfo, _ lba: UInt64, _ blocks: Int, _ buffer: DMASlice, _ token: UInt64,
        _ cdw12Flags: UInt32
    ) throws(NVMeError) -> UInt16 {
        let split = namespace.split(lba: lba, blocks: blocks, writing: opcode == .write)
        let shift = namespace.blockShift
        // Each piece carries at most `maximumBlocks`, so a request needing more than `depth` of
        // them can never go in; checked before the pieces are counted, which bounds the count.
        let depth = queue.depth
        guard blocks / split.maximumBlocks <= depth, split.count <= depth else {
            throw .transferTooLarge(bytes: blocks &<< shift, maximum: (depth &* split.maximumBlocks) &<< shift)
        }
        let parts = split.count
        let bytes = blocks &<< shift
        guard buffer.length >= bytes else { throw .bufferTooSmall(needed: bytes, actual: buffer.length) }
        // Everything `submit` could refuse a part for is checked here, before the first is written.
        if buffer.domain != queue.dmaDomain { throw queue.refuseForeign(buffer) }
        guard buffer.iova.rawValue & 3 == 0 else { throw .misalignedBuffer(iova: buffer.iova.rawValue) }
        guard split.maximumBlocks &<< shift <= queue.maximumTransferBytes else {
            throw .transferTooLarge(bytes: split.maximumBlocks &<< shift, maximum: queue.maximumTransferBytes)
        }
        guard Int(queue.submission.size &- 1 &- queue.submission.occupied) >= parts else {
            queue.stats.backpressure &+= 1
            throw .submissionQueueFull(queue: queue.id)
        }
        guard queue.commands.freeCount >= parts, let group = table.begin(token: token, parts: parts) else {
            queue.stats.backpressure &+= 1
            throw .noFreeCommandID(queue: queue.id)
        }
        var sent = 0
        for (offset, count) in split {
            let entry = SubmissionQueueEntry.blockTransfer(opcode, namespace.id, lba &+ UInt64(offset), checkedBlocks: count, cdw12Flags)
            let data = buffer.slice(offset: offset &<< shift, length: count &<< shift)
            do {
                let cid = try queue.submit(entry, data: data, token: token)
                table.add(commandID: cid, to: group, first: sent == 0)
                sent &+= 1
            } catch {
                // Not reached (every refusal was checked above). Were it, the parts sent still
                // complete, and the request with them, failed; with none sent it is refused.
                table.truncate(group, sent: sent, status: .abortedByHost)
                if sent == 0 { throw error }
                break
            }
        }
        return table.groups[group].leaderCommandID
    }

    /// Consumes up to `limit` command completions (`QueuePair.reap`), calling `body` for each
    /// request that completed: a command that is not a part as it is, a split request once its
    /// last part's completion is consumed. Returns how many requests completed.
    @inlinable
    public mutating func reap(limit: Int = .max, _ body: (Completion) -> Void) -> Int {
        let table = self.table
        var delivered = 0
        _ = queue.reap(limit: limit) { completion in
            guard let request = table.finish(completion) else { return }
            delivered &+= 1
            body(request)
        }
        return delivered
    }

    /// Waits until at least `minimum` requests have completed (at most the number outstanding),
    /// as `QueuePair.waitForCompletions` does for commands, in the given completion mode. The
    /// timeout covers the whole wait.
    @inlinable
    public mutating func waitForCompletions(
        atLeast minimum: Int = 1, mode: CompletionMode = .poll, timeoutMilliseconds: Int, _ body: (Completion) -> Void
    ) throws(NVMeError) -> Int {
        let target = min(max(minimum, 0), outstanding)
        let table = self.table
        var delivered = 0
        // The first look as the pair's own (its inlined poll path for requests that fit).
        _ = try queue.waitForCompletions(atLeast: target > 0 ? 1 : 0, mode: mode, timeoutMilliseconds: timeoutMilliseconds) { completion in
            guard let request = table.finish(completion) else { return }
            delivered &+= 1
            body(request)
        }
        if delivered < target {
            try waitForMore(target: target, delivered: &delivered, mode: mode, timeoutMilliseconds: timeoutMilliseconds, body)
        }
        return delivered
    }

    /// The rest of a wait whose first look left requests to wait for: one more command
    /// completion at a time (every part outstanding when all requests are waited for), until
    /// `target` requests completed or the time is up.
    @usableFromInline
    mutating func waitForMore(
        target: Int, delivered: inout Int, mode: CompletionMode, timeoutMilliseconds: Int, _ body: (Completion) -> Void
    ) throws(NVMeError) {
        let start = MonotonicClock.nanoseconds()
        let table = self.table
        var done = delivered
        defer { delivered = done }
        while done < target {
            let left = timeoutMilliseconds - Int((MonotonicClock.nanoseconds() &- start) / 1_000_000)
            guard left > 0 else {
                throw .timedOut(
                    what: "\(target - done) of \(target) requests on I/O queue \(queue.id) (\(outstanding) outstanding, \(queue.outstanding) commands)",
                    milliseconds: timeoutMilliseconds)
            }
            let commands = target - done >= outstanding ? queue.outstanding : 1
            _ = try queue.waitForCompletions(atLeast: commands, mode: mode, timeoutMilliseconds: left) { completion in
                guard let request = table.finish(completion) else { return }
                done &+= 1
                body(request)
            }
        }
    }

    /// `QueuePair.recoverIfReset`, with the ended commands turned into request completions: a
    /// split request ends once, with "Command Aborted By Host". Returns how many requests ended.
    public mutating func recoverIfReset(_ body: (Completion) -> Void) throws(NVMeError) -> Int {
        let table = self.table
        var delivered = 0
        _ = try queue.recoverIfReset { completion in
            guard let request = table.finish(completion) else { return }
            delivered &+= 1
            body(request)
        }
        return delivered
    }
}
