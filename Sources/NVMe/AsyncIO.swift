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

import Synchronization
import VFIO

/// The Swift concurrency API's engine: worker threads, each owning one queue pair for its whole
/// life, fed by a lock-protected inbox of requests. A task calling `try await pool.read(...)` puts
/// a request in a worker's inbox and suspends; the worker submits it (split at the per-command
/// limit: MDTS, NOIOB, NPWG), waits for completions in its completion mode, and resumes the task's continuation when
/// every piece has completed. The queue pair never leaves its thread, so the I/O path stays the
/// allocation-free one; what allocates is the per-request bookkeeping of the async layer.
///
/// Data buffers are `DMASlice`s whose owning `DMABuffer` the awaiting task keeps alive: the task
/// is suspended until no DMA to the slice can happen any more. If a wait fails (timeout, fatal
/// controller), the worker drops its queue pair first (deleting the queues aborts what is in
/// flight) and only then resumes the affected tasks with the error. Pieces the driver itself ended
/// (its Abort after a timeout, a controller reset) are submitted again, up to
/// `RecoveryPolicy.retries` times. Task cancellation does not cancel a submitted command.
public final class IOWorkerPool<Device: PCIFunction>: Sendable {
    let workers: [IOWorker<Device>]
    let nextWorker = Atomic<Int>(0)
    /// How the workers wait for completions.
    public let mode: CompletionMode

    /// Starts `count` workers, each creating its own queue pair on its thread.
    /// `retainsController` is false only for the controller's own default pool (the controller
    /// stops that pool before it goes away).
    init(controller: Controller<Device>, count: Int, mode: CompletionMode, entries: Int?, retainsController: Bool) throws(NVMeError) {
        guard count >= 1 else { throw .invalidArgument("a worker pool needs at least one worker, not \(count)") }
        if mode.usesInterrupts && controller.interruptVectors <= 1 {
            throw .invalidArgument("completion mode \(mode) needs MSI-X vectors, and the controller has none enabled")
        }
        self.mode = mode
        var started: [IOWorker<Device>] = []
        do throws(NVMeError) {
            for index in 0..<count {
                started.append(try IOWorker(
                    controller: controller, index: index, mode: mode, entries: entries, retainsController: retainsController))
            }
        } catch {
            for worker in started { worker.stop() }
            throw error
        }
        workers = started
    }

    deinit { stop() }

    /// Stops every worker: requests not yet started fail with `.closed`; commands in flight are
    /// waited for; then the queue pairs are dropped. Idempotent.
    public func stop() {
        for worker in workers { worker.stop() }
    }

    /// Queue ids of the workers' queue pairs (nil while a worker has none).
    public var queueIDs: [UInt16?] { workers.map { $0.queueID.load(ordering: .relaxed) }.map { $0 == 0 ? nil : UInt16($0) } }

    // MARK: Requests

    public func read(_ namespace: NamespaceInfo, lba: UInt64, blocks: Int, into buffer: DMASlice) async throws(NVMeError) {
        try await perform(.read, namespace, lba: lba, blocks: blocks, buffer: buffer)
    }

    public func write(_ namespace: NamespaceInfo, lba: UInt64, blocks: Int, from buffer: DMASlice) async throws(NVMeError) {
        try await perform(.write, namespace, lba: lba, blocks: blocks, buffer: buffer)
    }

    public func compare(_ namespace: NamespaceInfo, lba: UInt64, blocks: Int, with buffer: DMASlice) async throws(NVMeError) {
        try await perform(.compare, namespace, lba: lba, blocks: blocks, buffer: buffer)
    }

    public func flush(_ namespace: NamespaceInfo) async throws(NVMeError) {
        try await perform(.flush, namespace, lba: 0, blocks: 0, buffer: nil)
    }

    public func writeZeroes(_ namespace: NamespaceInfo, lba: UInt64, blocks: Int, deallocate: Bool = false) async throws(NVMeError) {
        try await perform(.writeZeroes(deallocate: deallocate), namespace, lba: lba, blocks: blocks, buffer: nil)
    }

    public func deallocate(_ namespace: NamespaceInfo, lba: UInt64, blocks: Int) async throws(NVMeError) {
        try await perform(.deallocate, namespace, lba: lba, blocks: blocks, buffer: nil)
    }

    func perform(_ kind: AsyncRequest.Kind, _ namespace: NamespaceInfo, lba: UInt64, blocks: Int, buffer: DMASlice?) async throws(NVMeError) {
        if case .flush = kind {} else {
            guard blocks >= 1 else { throw .invalidArgument("a transfer needs at least one block, not \(blocks)") }
            try namespace.check(lba: lba, blocks: blocks)
        }
        if let buffer {
            // In blocks: a shift of a large count wraps (to a size the buffer passes, and a slice
            // offset that traps later).
            guard blocks <= buffer.length >> namespace.blockShift else {
                throw .bufferTooSmall(needed: namespace.bytes(blocks: blocks), actual: buffer.length)
            }
        }
        // The completion token carries a piece's start in 40 bits (`Worker.token`).
        guard blocks < 1 << 40 else {
            throw .invalidArgument("\(blocks) blocks in one request; the async API takes fewer than 2^40 (split the request)")
        }
        let worker = workers[nextWorker.wrappingAdd(1, ordering: .relaxed).oldValue % workers.count]
        let failure = await withCheckedContinuation { (continuation: CheckedContinuation<NVMeError?, Never>) in
            let request = AsyncRequest(kind: kind, namespace: namespace, lba: lba, blocks: blocks, buffer: buffer, continuation: continuation)
            if !worker.enqueue(request) { continuation.resume(returning: .closed) }
        }
        if let failure { throw failure }
    }
}

/// One request of the async API, as it travels from a task to a worker.
struct AsyncRequest: Sendable {
    enum Kind: Sendable {
        case read, write, compare, flush, deallocate
        case writeZeroes(deallocate: Bool)
    }

    let kind: Kind
    let namespace: NamespaceInfo
    let lba: UInt64
    let blocks: Int
    let buffer: DMASlice?
    let continuation: CheckedContinuation<NVMeError?, Never>

    /// The request's commands: the namespace's split for data (MDTS, NOIOB, NPWG for writes), the
    /// 16-bit NLB for Write Zeroes, a 32-bit range length for Dataset Management, one flush.
    var split: TransferSplit {
        switch kind {
        case .read, .compare: return namespace.split(lba: lba, blocks: blocks, writing: false)
        case .write: return namespace.split(lba: lba, blocks: blocks, writing: true)
        case .writeZeroes: return TransferSplit(lba: lba, blocks: blocks, maximumBlocks: 65536)
        case .deallocate: return TransferSplit(lba: lba, blocks: blocks, maximumBlocks: Int(UInt32.max))
        case .flush: return TransferSplit(lba: 0, blocks: 1, maximumBlocks: 1)
        }
    }
}

/// One worker thread and its inbox.
final class IOWorker<Device: PCIFunction>: Sendable {
    struct Inbox: ~Copyable {
        var requests: [AsyncRequest] = []
        var stopping = false
        var thread: OSThread?
    }

    let inbox = TSanVisibleMutex(Inbox())
    let wakeUp: EventFD
    /// The queue id of the worker's pair, 0 when it has none (for tests and tools).
    let queueID = Atomic<Int>(0)

    init(controller: Controller<Device>, index: Int, mode: CompletionMode, entries: Int?, retainsController: Bool) throws(NVMeError) {
        do {
            wakeUp = try EventFD()
        } catch {
            throw .vfio(error)
        }
        // The thread references the controller weakly-unsafely when the controller owns the pool
        // (it stops the pool before it goes away), strongly otherwise.
        let strong: Controller<Device>? = retainsController ? controller : nil
        unowned(unsafe) let target = controller
        var thread: OSThread?
        do {
            thread = try OSThread(name: "nvme-io-\(index)") { [self] in
                withExtendedLifetime(strong) {
                    self.run(controller: target, mode: mode, entries: entries, retainsController: retainsController)
                }
            }
        } catch {
            throw .vfio(error)
        }
        inbox.withLock { $0.thread = thread.take() }
    }

    /// Adds a request; false once the worker is stopping.
    func enqueue(_ request: AsyncRequest) -> Bool {
        let accepted = inbox.withLock { box -> Bool in
            guard !box.stopping else { return false }
            box.requests.append(request)
            return true
        }
        if accepted { wakeUp.signal() }
        return accepted
    }

    func stop() {
        let thread = inbox.withLock { box -> OSThread? in
            box.stopping = true
            return box.thread.take()
        }
        wakeUp.signal()
        thread?.join()
    }

    /// A request being worked on: how far it was submitted, how many pieces are in flight.
    struct Active {
        let request: AsyncRequest
        /// The request's commands, computed once.
        let split: TransferSplit
        var submitted = 0
        var inFlight = 0
        var failure: NVMeError?
        /// Pieces (by start) the driver ended (its Abort, a reset) to submit again, and how often
        /// each was; empty unless recovery acted.
        var again: [Int] = []
        var attempts: [Int: Int] = [:]
        var hasPiecesToSubmit: Bool { submitted < split.blocks || !again.isEmpty }
        var finished: Bool { !hasPiecesToSubmit && inFlight == 0 }
    }

    /// A piece's completion token: the request's slot in the low 24 bits, the piece's start above.
    static func token(slot: Int, start: Int) -> UInt64 { UInt64(slot) | UInt64(start) << 24 }

    /// The worker's bookkeeping: requests by slot (a slot number is in the completion token).
    struct Work {
        var slots: [Active?] = []
        var freeSlots: [Int] = []
        /// Slots with pieces left to submit, oldest first.
        var order: [Int] = []
        var stopping = false

        var isIdle: Bool { slots.allSatisfy { $0 == nil } }

        mutating func add(_ request: AsyncRequest) {
            let slot = freeSlots.popLast() ?? { slots.append(nil); return slots.count - 1 }()
            precondition(slot < 1 << 24, "more than 2^24 requests in one worker")
            slots[slot] = Active(request: request, split: request.split)
            order.append(slot)
        }

        mutating func finish(_ slot: Int, _ failure: NVMeError?) {
            slots[slot]!.request.continuation.resume(returning: failure)
            slots[slot] = nil
            freeSlots.append(slot)
        }

        /// Fails every request (after the queue pair that carried them is gone).
        mutating func failAll(_ error: NVMeError) {
            for slot in slots.indices where slots[slot] != nil { finish(slot, error) }
            order.removeAll()
        }
    }

    /// Moves requests from the inbox into `work`; once stopping, new ones fail with `.closed` and
    /// partly submitted ones stop submitting (they fail once their pieces are back).
    func intake(_ work: inout Work) {
        let (incoming, stopping) = inbox.withLock { box -> ([AsyncRequest], Bool) in
            defer { box.requests.removeAll(keepingCapacity: true) }
            return (box.requests, box.stopping)
        }
        work.stopping = stopping
        for request in incoming {
            if stopping { request.continuation.resume(returning: .closed) } else { work.add(request) }
        }
        if stopping {
            for slot in work.order {
                work.slots[slot]!.failure = work.slots[slot]!.failure ?? .closed
                work.slots[slot]!.submitted = work.slots[slot]!.split.blocks
                work.slots[slot]!.again.removeAll()
            }
            work.order.removeAll()
            for slot in work.slots.indices where work.slots[slot]?.finished == true { work.finish(slot, work.slots[slot]!.failure) }
        }
    }

    /// The worker thread: creates its queue pair when the first request arrives and keeps it; if
    /// a wait fails, drops the pair (deleting its queues ends every command in flight, so no DMA
    /// to a caller's buffer follows) and only then fails the requests.
    func run(controller: Controller<Device>, mode: CompletionMode, entries: Int?, retainsController: Bool) {
        var work = Work()
        while true {
            intake(&work)
            if work.stopping && work.isIdle { return }
            if work.order.isEmpty {
                _ = wakeUp.wait(timeoutMilliseconds: 100)
                wakeUp.drain()
                continue
            }
            var pair: QueuePair<Device>
            do throws(NVMeError) {
                pair = try controller.makeQueuePair(entries: entries, interrupts: mode.usesInterrupts, keepsControllerAlive: retainsController)
            } catch {
                work.failAll(error)
                continue
            }
            queueID.store(Int(pair.id), ordering: .relaxed)
            let retries = controller.options.recovery.enabled ? controller.options.recovery.retries : 0
            let failure = serve(&pair, &work, mode: mode, timeout: controller.ioWaitMilliseconds, retries: retries)
            // Commands still in flight may move data into the callers' buffers: the device is
            // made quiet before the requests fail (deleting the queues alone is not proof).
            if let failure, pair.outstanding > 0 {
                controller.quiesce(reason: "an async request gave up with \(pair.outstanding) command(s) in flight (\(failure))")
            }
            _ = consume pair
            queueID.store(0, ordering: .relaxed)
            if let failure { work.failAll(failure) } else { return }
        }
    }

    /// Runs requests on `pair` until stopped (nil) or a wait fails (the error).
    func serve(_ pair: inout QueuePair<Device>, _ work: inout Work, mode: CompletionMode, timeout: Int, retries: Int) -> NVMeError? {
        while true {
            // A reset while the pair was idle: rebuild before submitting to a queue that is gone.
            if pair.outstanding == 0 {
                do throws(NVMeError) {
                    _ = try pair.recoverIfReset { _ in }
                } catch {
                    return error
                }
            }
            // Submit pieces, oldest request first, while the queue takes them.
            var remaining: [Int] = []
            for slot in work.order {
                submitPieces(of: slot, slots: &work.slots, pair: &pair)
                if work.slots[slot]!.hasPiecesToSubmit && work.slots[slot]!.failure == nil {
                    remaining.append(slot)
                } else if work.slots[slot]!.finished {
                    work.finish(slot, work.slots[slot]!.failure)
                }
            }
            work.order = remaining
            pair.ringSubmissionDoorbell()

            if pair.outstanding == 0 {
                if work.stopping { return nil }
                _ = wakeUp.wait(timeoutMilliseconds: 100)
                wakeUp.drain()
            } else {
                do throws(NVMeError) {
                    _ = try pair.waitForCompletions(atLeast: 1, mode: mode, timeoutMilliseconds: timeout, wakeUpFD: wakeUp.rawValue) { completion in
                        let slot = Int(completion.token & 0xFF_FFFF)
                        let start = Int(completion.token >> 24)
                        work.slots[slot]!.inFlight -= 1
                        if completion.status.isEndedByHost && work.slots[slot]!.failure == nil && !work.stopping {
                            let tries = work.slots[slot]!.attempts[start, default: 0] + 1
                            work.slots[slot]!.attempts[start] = tries
                            if tries <= retries {
                                work.slots[slot]!.again.append(start)
                                if !work.order.contains(slot) { work.order.append(slot) }
                                return
                            }
                        }
                        if !completion.status.isSuccess && work.slots[slot]!.failure == nil {
                            work.slots[slot]!.failure = .commandFailed(command: work.slots[slot]!.request.kind.commandName, status: completion.status)
                        }
                        if work.slots[slot]!.finished { work.finish(slot, work.slots[slot]!.failure) }
                    }
                } catch {
                    return error
                }
                wakeUp.drain()
            }
            intake(&work)
            if work.stopping && pair.outstanding == 0 && work.order.isEmpty { return nil }
        }
    }

    /// Submits as many pieces of one request as the queue pair accepts: pieces to submit again
    /// first, then new ones.
    func submitPieces(of slot: Int, slots: inout [Active?], pair: inout QueuePair<Device>) {
        let request = slots[slot]!.request
        let split = slots[slot]!.split
        while slots[slot]!.failure == nil, let start = slots[slot]!.again.last, pair.canSubmit {
            do throws(NVMeError) {
                try submitPiece(request, start: start, count: split.blocks(at: start), token: Self.token(slot: slot, start: start), pair: &pair)
                slots[slot]!.again.removeLast()
                slots[slot]!.inFlight += 1
            } catch {
                slots[slot]!.failure = error
                slots[slot]!.again.removeAll()
            }
        }
        while slots[slot]!.submitted < split.blocks, slots[slot]!.failure == nil, pair.canSubmit {
            let start = slots[slot]!.submitted
            let count = split.blocks(at: start)
            do throws(NVMeError) {
                try submitPiece(request, start: start, count: count, token: Self.token(slot: slot, start: start), pair: &pair)
                slots[slot]!.submitted += count
                slots[slot]!.inFlight += 1
            } catch {
                // A bad buffer (misaligned) fails the request once its submitted pieces are back.
                slots[slot]!.failure = error
                slots[slot]!.submitted = split.blocks
            }
        }
    }

    /// Submits the piece of `request` that starts `start` units in and is `count` long.
    func submitPiece(_ request: AsyncRequest, start: Int, count: Int, token: UInt64, pair: inout QueuePair<Device>) throws(NVMeError) {
        let info = request.namespace
        let lba = request.lba + UInt64(start)
        switch request.kind {
        case .read:
            try pair.submitRead(namespace: info, lba: lba, blocks: count, into: request.buffer!.slice(offset: start << info.blockShift, length: count << info.blockShift), token: token)
        case .write:
            try pair.submitWrite(namespace: info, lba: lba, blocks: count, from: request.buffer!.slice(offset: start << info.blockShift, length: count << info.blockShift), token: token)
        case .compare:
            try pair.submitCompare(namespace: info, lba: lba, blocks: count, with: request.buffer!.slice(offset: start << info.blockShift, length: count << info.blockShift), token: token)
        case .flush:
            try pair.submitFlush(namespace: info, token: token)
        case .writeZeroes(let deallocate):
            try pair.submitWriteZeroes(namespace: info, lba: lba, blocks: count, deallocate: deallocate, token: token)
        case .deallocate:
            let range = DatasetManagementRange(lengthInBlocks: UInt32(count), startingLBA: lba)
            try withUnsafePointer(to: range) { (p) throws(NVMeError) in
                _ = try pair.submitDeallocate(namespace: info, ranges: UnsafeBufferPointer(start: p, count: 1), token: token)
            }
        }
    }
}

extension AsyncRequest.Kind {
    var commandName: String {
        switch self {
        case .read: return "Read"
        case .write: return "Write"
        case .compare: return "Compare"
        case .flush: return "Flush"
        case .deallocate: return "Dataset Management (deallocate)"
        case .writeZeroes: return "Write Zeroes"
        }
    }
}

// MARK: - Controller and namespace entry points

extension Controller {
    /// Starts a pool of `workers` threads, each with its own queue pair, for the async API.
    /// Stop it (or drop it) before closing the controller.
    public func startWorkers(_ workers: Int = 1, mode: CompletionMode = .poll, entries: Int? = nil) throws(NVMeError) -> IOWorkerPool<Device> {
        try IOWorkerPool(controller: self, count: workers, mode: mode, entries: entries, retainsController: true)
    }

    /// The pool behind `Namespace`'s async methods: one worker, hybrid completions when MSI-X is
    /// available, else polling. Created on first use, stopped by `close()`.
    func defaultWorkers() throws(NVMeError) -> IOWorkerPool<Device> {
        try defaultPool.withLock { (slot) throws(NVMeError) -> IOWorkerPool<Device> in
            if let pool = slot { return pool }
            if closedFlag.load(ordering: .acquiring) { throw .closed }
            let mode: CompletionMode = interruptVectors > 1 ? .hybrid : .poll
            let pool = try IOWorkerPool(controller: self, count: 1, mode: mode, entries: nil, retainsController: false)
            slot = pool
            return pool
        }
    }
}

extension Namespace {
    /// Reads `blocks` blocks at `lba` into `buffer`, suspending the task until done.
    public func read(lba: UInt64, blocks: Int, into buffer: DMASlice) async throws(NVMeError) {
        try await controller.defaultWorkers().read(info, lba: lba, blocks: blocks, into: buffer)
    }

    /// Writes `blocks` blocks from `buffer` to `lba`.
    public func write(lba: UInt64, blocks: Int, from buffer: DMASlice) async throws(NVMeError) {
        try await controller.defaultWorkers().write(info, lba: lba, blocks: blocks, from: buffer)
    }

    /// Compares `buffer` with the media; throws Compare Failure on a mismatch.
    public func compare(lba: UInt64, blocks: Int, with buffer: DMASlice) async throws(NVMeError) {
        try await controller.defaultWorkers().compare(info, lba: lba, blocks: blocks, with: buffer)
    }

    public func flush() async throws(NVMeError) {
        try await controller.defaultWorkers().flush(info)
    }

    public func writeZeroes(lba: UInt64, blocks: Int, deallocate: Bool = false) async throws(NVMeError) {
        try await controller.defaultWorkers().writeZeroes(info, lba: lba, blocks: blocks, deallocate: deallocate)
    }

    public func deallocate(lba: UInt64, blocks: Int) async throws(NVMeError) {
        try await controller.defaultWorkers().deallocate(info, lba: lba, blocks: blocks)
    }
}
