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

/// An active namespace and the blocking I/O API for tools and scripts.
///
/// Each call returns when every command it issued has completed. Requests larger than one
/// command (MDTS, 16-bit NLB) are split, and as many pieces are kept in flight as the queue allows.
/// The LBA range and the buffer size are checked on the host first. Calls use either a queue
/// pair the caller owns (`using:`), which must have nothing outstanding, or the controller's
/// internal one behind a lock (simple, serialised across threads).
///
/// Data moves zero-copy between the device and the caller's `DMASlice`; the caller keeps the
/// owning `DMABuffer` alive for the call.
public struct Namespace<Device: PCIFunction>: Sendable {
    public let controller: Controller<Device>
    public let info: NamespaceInfo

    public var id: UInt32 { info.id }
    public var blockSize: Int { info.blockSize }
    public var blockCount: UInt64 { info.blockCount }

    // MARK: Data transfers

    /// Reads `blocks` blocks at `lba` into `buffer` (at least blocks x blockSize bytes).
    public func read(lba: UInt64, blocks: Int, into buffer: DMASlice, mode: CompletionMode = .poll) throws(NVMeError) {
        try withSharedQueuePair { (pair) throws(NVMeError) in try transfer(.read, lba: lba, blocks: blocks, buffer: buffer, pair: &pair, mode: mode) }
    }

    /// Writes `blocks` blocks from `buffer` to `lba`.
    public func write(lba: UInt64, blocks: Int, from buffer: DMASlice, mode: CompletionMode = .poll) throws(NVMeError) {
        try withSharedQueuePair { (pair) throws(NVMeError) in try transfer(.write, lba: lba, blocks: blocks, buffer: buffer, pair: &pair, mode: mode) }
    }

    /// Compares `buffer` with the blocks at `lba`; throws `.commandFailed` with Compare Failure on a mismatch.
    public func compare(lba: UInt64, blocks: Int, with buffer: DMASlice, mode: CompletionMode = .poll) throws(NVMeError) {
        try withSharedQueuePair { (pair) throws(NVMeError) in try transfer(.compare, lba: lba, blocks: blocks, buffer: buffer, pair: &pair, mode: mode) }
    }

    public func read(lba: UInt64, blocks: Int, into buffer: DMASlice, using pair: inout QueuePair<Device>, mode: CompletionMode = .poll) throws(NVMeError) {
        try transfer(.read, lba: lba, blocks: blocks, buffer: buffer, pair: &pair, mode: mode)
    }

    public func write(lba: UInt64, blocks: Int, from buffer: DMASlice, using pair: inout QueuePair<Device>, mode: CompletionMode = .poll) throws(NVMeError) {
        try transfer(.write, lba: lba, blocks: blocks, buffer: buffer, pair: &pair, mode: mode)
    }

    public func compare(lba: UInt64, blocks: Int, with buffer: DMASlice, using pair: inout QueuePair<Device>, mode: CompletionMode = .poll) throws(NVMeError) {
        try transfer(.compare, lba: lba, blocks: blocks, buffer: buffer, pair: &pair, mode: mode)
    }

    // MARK: Data-less commands

    /// Flush: makes completed writes durable (commits the volatile write cache).
    public func flush(mode: CompletionMode = .poll) throws(NVMeError) {
        try withSharedQueuePair { (pair) throws(NVMeError) in try flush(using: &pair, mode: mode) }
    }

    public func flush(using pair: inout QueuePair<Device>, mode: CompletionMode = .poll) throws(NVMeError) {
        try pipeline(TransferSplit(lba: 0, blocks: 1, maximumBlocks: 1), pair: &pair, mode: mode, command: "Flush of namespace \(id)") { (pair, start, _) throws(NVMeError) in
            try pair.submitFlush(namespace: info, token: UInt64(start))
        }
    }

    /// Writes zeroes to `blocks` blocks at `lba` (Write Zeroes, split at 65536 blocks).
    public func writeZeroes(lba: UInt64, blocks: Int, deallocate: Bool = false, mode: CompletionMode = .poll) throws(NVMeError) {
        try withSharedQueuePair { (pair) throws(NVMeError) in
            try writeZeroes(lba: lba, blocks: blocks, deallocate: deallocate, using: &pair, mode: mode)
        }
    }

    public func writeZeroes(
        lba: UInt64, blocks: Int, deallocate: Bool = false, using pair: inout QueuePair<Device>, mode: CompletionMode = .poll
    ) throws(NVMeError) {
        try info.check(lba: lba, blocks: blocks)
        try pipeline(TransferSplit(lba: lba, blocks: blocks, maximumBlocks: 65536), pair: &pair, mode: mode, command: "Write Zeroes") { (pair, start, count) throws(NVMeError) in
            try pair.submitWriteZeroes(namespace: info, lba: lba + UInt64(start), blocks: count, deallocate: deallocate, token: UInt64(start))
        }
    }

    /// Deallocates (TRIMs) `blocks` blocks at `lba` with Dataset Management.
    public func deallocate(lba: UInt64, blocks: Int, mode: CompletionMode = .poll) throws(NVMeError) {
        try withSharedQueuePair { (pair) throws(NVMeError) in try deallocate(lba: lba, blocks: blocks, using: &pair, mode: mode) }
    }

    public func deallocate(lba: UInt64, blocks: Int, using pair: inout QueuePair<Device>, mode: CompletionMode = .poll) throws(NVMeError) {
        try info.check(lba: lba, blocks: blocks)
        // One range holds up to 2^32 - 1 blocks; one command up to 256 ranges.
        let perRange = Int(UInt32.max)
        var ranges: [DatasetManagementRange] = []
        var start = 0
        while start < blocks {
            let n = min(perRange, blocks - start)
            ranges.append(DatasetManagementRange(lengthInBlocks: UInt32(n), startingLBA: lba + UInt64(start)))
            start += n
        }
        try deallocate(ranges: ranges, using: &pair, mode: mode)
    }

    /// Deallocates arbitrary ranges (256 per command).
    public func deallocate(ranges: [DatasetManagementRange], using pair: inout QueuePair<Device>, mode: CompletionMode = .poll) throws(NVMeError) {
        for range in ranges { try info.check(lba: range.startingLBA, blocks: Int(range.lengthInBlocks)) }
        try ranges.withUnsafeBufferPointer { (all) throws(NVMeError) in
            try pipeline(TransferSplit(lba: 0, blocks: all.count, maximumBlocks: 256), pair: &pair, mode: mode, command: "Dataset Management (deallocate)") {
                (pair, start, count) throws(NVMeError) in
                try pair.submitDeallocate(namespace: info, ranges: UnsafeBufferPointer(rebasing: all[start..<(start + count)]), token: UInt64(start))
            }
        }
    }

    // MARK: The engine

    enum TransferKind {
        case read, write, compare

        var name: String {
            switch self {
            case .read: return "Read"
            case .write: return "Write"
            case .compare: return "Compare"
            }
        }
    }

    func transfer(
        _ kind: TransferKind, lba: UInt64, blocks: Int, buffer: DMASlice, pair: inout QueuePair<Device>, mode: CompletionMode
    ) throws(NVMeError) {
        if info.metadataSize > 0 {
            return try transferWithMetadata(kind, lba: lba, blocks: blocks, buffer: buffer, metadata: nil, protection: nil, pair: &pair, mode: mode)
        }
        try info.check(lba: lba, blocks: blocks)
        let shift = info.blockShift
        // Compared in blocks: blocks x block size can exceed Int.max on a large namespace.
        guard blocks <= buffer.length >> shift else { throw .bufferTooSmall(needed: info.bytes(blocks: blocks), actual: buffer.length) }
        try pipeline(info.split(lba: lba, blocks: blocks, writing: kind == .write), pair: &pair, mode: mode, command: "\(kind.name) of namespace \(id)") {
            (pair, start, count) throws(NVMeError) in
            let slice = buffer.slice(offset: start << shift, length: count << shift)
            let at = lba + UInt64(start)
            switch kind {
            case .read: try pair.submitRead(namespace: info, lba: at, blocks: count, into: slice, token: UInt64(start))
            case .write: try pair.submitWrite(namespace: info, lba: at, blocks: count, from: slice, token: UInt64(start))
            case .compare: try pair.submitCompare(namespace: info, lba: at, blocks: count, with: slice, token: UInt64(start))
            }
        }
    }

    /// Submits the pieces of `split` (units: blocks, ranges, ...), keeps as many in flight as the
    /// queue takes, and waits for all of them. The first failure is thrown after everything submitted
    /// has completed, so no DMA into the caller's buffer can happen after the call returns.
    ///
    /// `submitOne(pair, start, count)` must use `start` as the token. A piece the driver itself
    /// ended (its Abort after a timeout, or a controller reset: `NVMeStatus.isEndedByHost`) is
    /// submitted again, up to `RecoveryPolicy.retries` times; statuses the device chose are not.
    func pipeline(
        _ split: TransferSplit, pair: inout QueuePair<Device>, mode: CompletionMode, command: String,
        _ submitOne: (inout QueuePair<Device>, Int, Int) throws(NVMeError) -> Void
    ) throws(NVMeError) {
        // A reset since this pair last waited: rebuild now rather than submit to a queue that is
        // gone (this also ends commands an earlier call left behind when the controller reset).
        _ = try pair.recoverIfReset { _ in }
        try requireIdle(pair)
        try controller.checkNamespaceAttached(id)
        let total = split.blocks
        guard total > 0 else { return }
        let retries = controller.options.recovery.enabled ? controller.options.recovery.retries : 0
        let waitLimit = controller.ioWaitMilliseconds
        var next = 0
        var failure: NVMeError?
        // Pieces to submit again (by start), and how often each was; empty unless recovery acted.
        var again: [Int] = []
        var attempts: [Int: Int] = [:]
        while next < total || pair.outstanding > 0 || (!again.isEmpty && failure == nil) {
            while failure == nil, let start = again.last, pair.canSubmit {
                do throws(NVMeError) {
                    try submitOne(&pair, start, split.blocks(at: start))
                } catch {
                    failure = error
                    break
                }
                again.removeLast()
            }
            while next < total, failure == nil, pair.canSubmit {
                let count = split.blocks(at: next)
                do throws(NVMeError) {
                    try submitOne(&pair, next, count)
                } catch {
                    failure = error
                    break
                }
                next += count
            }
            pair.ringSubmissionDoorbell()
            if failure != nil && pair.outstanding == 0 { break }
            do throws(NVMeError) {
                _ = try waitForPieces(&pair, mode: mode, timeoutMilliseconds: waitLimit) { completion in
                guard !completion.status.isSuccess else { return }
                let start = Int(truncatingIfNeeded: completion.token)
                if completion.status.isEndedByHost, failure == nil, start >= 0, start < total {
                    let tries = attempts[start, default: 0] + 1
                    attempts[start] = tries
                    if tries <= retries {
                        again.append(start)
                        return
                    }
                }
                if failure == nil { failure = .commandFailed(command: command, status: completion.status) }
                }
            } catch {
                // Giving up with commands in flight (a timeout, a fatal or vanished controller,
                // close): they may still move data into the caller's buffer after we return, so
                // the device is made quiet first.
                if pair.outstanding > 0 {
                    controller.quiesce(reason: "\(command) gave up with \(pair.outstanding) command(s) in flight (\(error))")
                }
                throw error
            }
            if failure != nil { next = total }
        }
        if let failure { throw controller.explainNamespaceFailure(failure, namespace: id) }
    }

    /// One wait of the pipeline (a seam, so the quiesce on giving up covers every wait).
    private func waitForPieces(
        _ pair: inout QueuePair<Device>, mode: CompletionMode, timeoutMilliseconds: Int, _ body: (Completion) -> Void
    ) throws(NVMeError) -> Int {
        try pair.waitForCompletions(atLeast: 1, mode: mode, timeoutMilliseconds: timeoutMilliseconds, body)
    }

    func requireIdle(_ pair: borrowing QueuePair<Device>) throws(NVMeError) {
        guard pair.outstanding == 0 else {
            throw .invalidArgument("queue pair \(pair.id) has \(pair.outstanding) commands outstanding; the blocking API needs an idle one")
        }
    }

    /// Runs `body` with the controller's internal queue pair, under its lock, creating it on first
    /// use. A pair left with commands outstanding (a timeout) is dropped, which deletes its queues
    /// and so stops any further DMA to the caller's buffers; the next call makes a new one.
    /// `keepsControllerAlive: false`: the controller owns this pair (and drops it in `close()`).
    func withSharedQueuePair(_ body: (inout QueuePair<Device>) throws(NVMeError) -> Void) throws(NVMeError) {
        let controller = self.controller
        try controller.shared.withLock { (slot) throws(NVMeError) in
            var pair: QueuePair<Device>
            if let existing = slot.pair.take() {
                pair = existing
            } else {
                pair = try controller.makeQueuePair(entries: nil, interrupts: nil, keepsControllerAlive: false)
            }
            do throws(NVMeError) {
                try body(&pair)
            } catch {
                if pair.outstanding == 0 { slot.pair = consume pair }
                throw error
            }
            slot.pair = consume pair
        }
    }
}
