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

/// The queue pair the blocking API uses when the caller does not pass one, created on first use.
struct SharedQueuePair<Device: PCIFunction>: ~Copyable {
    var pair: QueuePair<Device>?
}

extension Controller {
    // MARK: - I/O queue pairs

    /// Creates an I/O queue pair (Create I/O Completion Queue, then Create I/O Submission Queue,
    /// NVMe base 1.4, 5.3-5.4) with its own DMA memory, command ids and PRP list pages.
    ///
    /// - Parameters:
    ///   - entries: ring size (2...CAP.MQES + 1); defaults to `ioQueueEntries`. Depth is one less.
    ///   - interrupts: give the CQ an MSI-X vector (needed by the interrupt and hybrid modes),
    ///     shared with other queues' CQs when the controller has fewer vectors than queues.
    ///     Nil: if a vector is available.
    ///   - submissionQueueInControllerMemory: put the SQ in the Controller Memory Buffer if it
    ///     takes SQs and has room, else in host memory (`QueuePair.submissionQueueInControllerMemory`
    ///     says which). Nil: `ControllerOptions.submissionQueuesInControllerMemory`.
    public func makeQueuePair(
        entries: Int? = nil, interrupts: Bool? = nil, submissionQueueInControllerMemory: Bool? = nil
    ) throws(NVMeError) -> QueuePair<Device> {
        try makeQueuePair(
            entries: entries, interrupts: interrupts, keepsControllerAlive: true,
            submissionQueueInControllerMemory: submissionQueueInControllerMemory)
    }

    /// Queue pairs that can still be created.
    public var availableQueuePairs: Int {
        lifecycle.withLock { grantedQueuePairs - $0.liveQueues.count }
    }

    func makeQueuePair(
        entries: Int?, interrupts: Bool?, keepsControllerAlive: Bool, submissionQueueInControllerMemory: Bool? = nil
    ) throws(NVMeError) -> QueuePair<Device> {
        let size = entries ?? ioQueueEntries
        let limit = min(capabilities.maxQueueEntryCount, 65536)
        guard size >= 2, size <= limit else {
            throw .invalidArgument("queue size \(size) is outside 2...\(limit) (CAP.MQES + 1)")
        }
        let id = try lifecycle.withLock { (state) throws(NVMeError) -> UInt16 in
            guard !state.closed else { throw .closed }
            guard let free = (1...UInt16(grantedQueuePairs)).first(where: { !state.liveQueues.contains($0) }) else {
                throw .noQueuePairAvailable(granted: grantedQueuePairs)
            }
            state.liveQueues.insert(free)
            return free
        }
        do throws(NVMeError) {
            let available = interruptVector(forQueue: id)
            if interrupts == true && available == nil { throw .noInterruptVector(queue: id) }
            let vector = (interrupts ?? true) ? available : nil
            // A shared vector's message is handed on to every CQ on it: this pair joins it.
            var sharing: SharedInterruptVector.Member?
            if let vector, let shared = sharedVectors[vector] {
                do {
                    sharing = try shared.join()
                } catch {
                    throw .vfio(error)
                }
            }

            // The SQ in the Controller Memory Buffer when asked and possible, else in host memory.
            let inBuffer = placeSubmissionQueue(
                id: id, bytes: size * 64, asked: submissionQueueInControllerMemory ?? options.submissionQueuesInControllerMemory)
            do throws(NVMeError) {
                let submissionMemory: DMABuffer?
                let place: (slots: UnsafeMutableRawPointer, address: UInt64)
                if let inBuffer, let buffer = memoryBuffer {
                    let location = buffer.location(of: inBuffer)
                    place = (location.slots, location.controllerAddress)
                    submissionMemory = nil
                } else {
                    let memory = try device.dma.allocateForNVMe(length: size * 64)
                    place = (memory.address, memory.iova.rawValue)
                    submissionMemory = consume memory
                }
                let completionMemory = try device.dma.allocateForNVMe(length: size * 16)
                let listPages = try device.dma.pageSlabForNVMe(count: size - 1)
                let generation = try createQueuesOnDevice(
                    id: id, entries: size, submissionIOVA: place.address, completionIOVA: completionMemory.iova.rawValue, vector: vector)
                if vector != nil { holdVector(queue: id) }
                return QueuePair(
                    controller: self, keepsControllerAlive: keepsControllerAlive, id: id, entries: size,
                    submissionMemory: submissionMemory, submissionSlots: place.slots, submissionAddress: place.address,
                    memoryBufferSlot: inBuffer, completionMemory: completionMemory, listPages: listPages,
                    doorbells: doorbells, interruptVector: vector, sharedVector: sharing.take(),
                    maximumTransferBytes: maximumTransferBytes, generation: generation)
            } catch {
                // Not created on the device (a create that may still happen quiesced it).
                if let inBuffer { releaseMemoryBufferSlot(inBuffer) }
                throw error
            }
        } catch {
            _ = lifecycle.withLock { $0.liveQueues.remove(id) }
            throw error
        }
    }

    /// A piece of the Controller Memory Buffer for queue `id`'s SQ when `asked` and the buffer
    /// takes SQs and has room; nil: the SQ goes to host memory (logged when it was asked for).
    func placeSubmissionQueue(id: UInt16, bytes: Int, asked: Bool) -> Int? {
        guard asked else { return nil }
        let why: String
        if let buffer = memoryBuffer {
            if buffer.info.size.submissionQueues {
                if let offset = buffer.allocate(bytes: bytes) { return offset }
                why = "the controller memory buffer has no \(bytes) bytes left"
            } else {
                why = "the controller memory buffer does not take submission queues (CMBSZ.SQS is 0)"
            }
        } else {
            why = controllerMemoryBufferUnusable ?? "the controller has no controller memory buffer"
        }
        logger.debug("NVMe \(device.name): I/O SQ \(id) in host memory: \(why)")
        return nil
    }

    /// Called when queue `id`'s SQ can no longer be fetched: deleted, or the controller quiet.
    /// A buffer piece of a queue that could not be proven gone stays taken (nothing reuses what
    /// the device may still read).
    func releaseMemoryBufferSlot(_ offset: Int) {
        guard !device.dma.keepsMappings else { return }
        memoryBuffer?.release(offset)
    }

    /// Creates the CQ, then the SQ of queue `id` on the device (NVMe base 1.4, 5.3-5.4), both
    /// under one hold of the admin lock so a reset cannot fall between them, and returns the reset
    /// generation they were created in. Used at creation and by a pair's rebuild after a reset.
    func createQueuesOnDevice(
        id: UInt16, entries: Int, submissionIOVA: UInt64, completionIOVA: UInt64, vector: Int?
    ) throws(NVMeError) -> UInt64 {
        let device = self.device, registers = self.registers, timeout = options.adminTimeoutMilliseconds
        if let failure = recoveryFailure { throw failure }
        try checkNotQuiesced()
        let generation = resetGeneration.load(ordering: .acquiring)
        let created: UInt64?
        do {
            created = try admin.withLock { (queue) throws(NVMeError) -> UInt64? in
                // Atomics only under the admin lock: the recovery lock is taken before it, never after.
                if failedFlag.load(ordering: .acquiring) { return nil }
                if closedFlag.load(ordering: .acquiring) { throw .closed }
                try checkNotQuiesced()
                let recreatable = recreatableQueuePairs.load(ordering: .acquiring)
                guard Int(id) <= recreatable else {
                    throw .recoveryFailed(reason: "after the reset the controller granted \(recreatable) I/O queue pairs, so queue \(id) cannot be rebuilt")
                }
                try queue.execute(
                    .createIOCompletionQueue(
                        id: id, size: entries, baseIOVA: completionIOVA, physicallyContiguous: true,
                        interruptsEnabled: vector != nil, vector: UInt16(vector ?? 0)),
                    data: nil, name: "Create I/O Completion Queue \(id)", device: device, registers: registers,
                    timeoutMilliseconds: timeout)
                do throws(NVMeError) {
                    try queue.execute(
                        .createIOSubmissionQueue(
                            id: id, size: entries, baseIOVA: submissionIOVA, completionQueue: id, physicallyContiguous: true),
                        data: nil, name: "Create I/O Submission Queue \(id)", device: device, registers: registers,
                        timeoutMilliseconds: timeout)
                } catch {
                    do {
                        try queue.execute(
                            .deleteIOCompletionQueue(id: id), data: nil, name: "Delete I/O Completion Queue \(id)", device: device,
                            registers: registers, timeoutMilliseconds: timeout)
                    } catch {
                        // The CQ may still exist on the device, pointing at memory the caller frees.
                        throw .timedOut(what: "the CQ of queue \(id) to go after its SQ could not be created (\(error))", milliseconds: timeout)
                    }
                    throw error
                }
                lifecycle.withLock { _ = $0.onDevice.insert(id) }
                // Read under the admin lock, which a reset holds while it bumps the generation.
                return resetGeneration.load(ordering: .acquiring)
            }
        } catch {
            // A create that did not complete may still happen, with the queue's memory freed.
            quietAfterAdminFailure(error, name: "creating I/O queue \(id)", generation: generation)
            throw error
        }
        // Nil: recovery failed while this waited for the admin lock.
        guard let created else { throw recoveryFailure ?? .closed }
        return created
    }

    /// Called by `QueuePair.deinit`: deletes the SQ, then the CQ (5.5, 5.6: a CQ goes after its
    /// SQs), unless `close()` already did or a reset removed them (the pair was never rebuilt).
    /// A delete that fails or never completes leaves the queue alive on the device, pointing at
    /// the memory the pair is about to release: the controller is quiesced first (and if that
    /// cannot be proven, the memory is never unmapped).
    func retireQueuePair(id: UInt16, outstanding: Int, usedVector: Bool) {
        defer { if usedVector { releaseVectorUse(queue: id) } }
        let live = lifecycle.withLock { state -> Bool in
            !state.closed && state.liveQueues.contains(id)
        }
        guard live else { return }
        if outstanding > 0 {
            logger.notice("\(device.name): I/O queue \(id) dropped with \(outstanding) commands outstanding; deleting it aborts them")
        }
        do {
            try deleteQueues(id)
        } catch {
            logger.error("\(device.name): deleting I/O queue \(id) failed: \(error); quiescing the controller before its memory is released")
            quiesce(reason: "deleting I/O queue \(id) failed (\(error))")
        }
        _ = lifecycle.withLock { $0.liveQueues.remove(id) }
    }

    // MARK: - Interrupt vectors outlive their users
    //
    // A queue pair caches its vector's eventfd number. Closing the controller must not close that
    // fd while the pair may still sleep on it or drain it: the number could by then name another
    // file of the process (a pipe, a socket). So `close()` releases the vectors only when no pair
    // uses one, and otherwise the last such pair does when it is dropped; a pair used after
    // `close()` sees `.closed` in its idle check and its fd is still the eventfd.

    /// Records that queue `id` uses its vector's eventfd (at creation).
    func holdVector(queue id: UInt16) {
        lifecycle.withLock { _ = $0.vectorUsers.insert(id) }
    }

    /// Queue `id` no longer uses its vector; after `close()`, the last one releases the vectors.
    func releaseVectorUse(queue id: UInt16) {
        let release = lifecycle.withLock { state -> Bool in
            state.vectorUsers.remove(id)
            return state.closed && state.vectorUsers.isEmpty && !state.vectorsReleased
        }
        if release { releaseVectors() }
    }

    /// Disables MSI-X (closing the eventfds) once.
    func releaseVectors() {
        guard interruptVectors > 0 else { return }
        let first = lifecycle.withLock { state -> Bool in
            defer { state.vectorsReleased = true }
            return !state.vectorsReleased
        }
        guard first else { return }
        do {
            try device.disableInterrupts()
        } catch {
            logger.warning("NVMe \(device.name): disabling MSI-X failed: \(error)")
        }
    }

    /// Deletes queue `id`'s SQ and CQ if they exist on the device (checked under the admin lock,
    /// so a reset cannot remove them in between).
    func deleteQueues(_ id: UInt16) throws(NVMeError) {
        let device = self.device, registers = self.registers, timeout = options.adminTimeoutMilliseconds
        try admin.withLock { (queue) throws(NVMeError) in
            guard lifecycle.withLock({ $0.onDevice.contains(id) }) else { return }
            defer { lifecycle.withLock { _ = $0.onDevice.remove(id) } }
            try queue.execute(
                .deleteIOSubmissionQueue(id: id), data: nil, name: "Delete I/O Submission Queue \(id)", device: device,
                registers: registers, timeoutMilliseconds: timeout)
            try queue.execute(
                .deleteIOCompletionQueue(id: id), data: nil, name: "Delete I/O Completion Queue \(id)", device: device,
                registers: registers, timeoutMilliseconds: timeout)
        }
    }

    /// Throws if waiting on this controller is pointless: closed, fatal status, or gone. Reads
    /// CSTS once; used by wait loops when they are idle, never per I/O.
    @usableFromInline
    func checkHealth(during what: String) throws(NVMeError) {
        if closedFlag.load(ordering: .acquiring) { throw .closed }
        if let failure = recoveryFailure { throw failure }
        try checkNotQuiesced()
        let status = registers.read(ControllerRegister.status)
        // Surprise removal or a dead link (all ones), or the kernel asking for the device back
        // (the request interrupt: it waits for us to let go): nothing more is submitted, the
        // waits throw and their callers quiesce what is in flight before it is released.
        if status.showsRemoval(of: device) {
            markFailed(.deviceRemoved)
            throw .deviceRemoved
        }
        if status.controllerFatalStatus { throw .controllerFatal(during: what) }
    }

    /// CSTS as read now.
    public var status: ControllerStatus { registers.read(ControllerRegister.status) }

    // MARK: - Shutdown (NVMe base 1.4, 7.6.2)

    /// Deletes the remaining I/O queues, shuts the controller down normally (CC.SHN = 01b, wait
    /// for CSTS.SHST = 10b), clears CC.EN (else quiesces: a function reset, bus master off), and
    /// disables its interrupts, or leaves that to the last queue pair holding a vector. Idempotent.
    /// Queue pairs still held by callers become unusable (their waits throw `.closed`, on their
    /// own eventfd, never a reused descriptor); their memory is released when they are dropped. DMA memory of the admin queue goes with the last
    /// reference to the controller.
    public func close() throws(NVMeError) {
        // The default worker pool and the internal pair first: their queue pairs delete their
        // queues while the controller is still open.
        defaultPool.withLock { $0.take() }?.stop()
        let internalPair = shared.withLock { slot -> QueuePair<Device>? in slot.pair.take() }
        _ = consume internalPair
        // Resets and close exclude each other: a reset in progress finishes first, and one that
        // starts later sees `closed` and does nothing.
        try recovery.withLock { (state) throws(NVMeError) in try closeHoldingRecoveryLock(&state) }
    }

    private func closeHoldingRecoveryLock(_ state: inout RecoveryState) throws(NVMeError) {
        let remaining = lifecycle.withLock { state -> [UInt16]? in
            guard !state.closed else { return nil }
            state.closed = true
            return state.liveQueues.sorted()
        }
        guard let remaining else { return }
        closedFlag.store(true, ordering: .releasing)
        // A failed controller gets no more admin commands: quiesce it and let go.
        if failedFlag.load(ordering: .acquiring) {
            lifecycle.withLock { $0.liveQueues.removeAll(); $0.onDevice.removeAll() }
            _ = quiesceHoldingRecoveryLock(&state, reason: "closing a failed controller")
            releaseVectorsUnlessInUse()
            return
        }

        var firstError: NVMeError?
        for id in remaining {
            do {
                try deleteQueues(id)
            } catch {
                firstError = firstError ?? error
            }
        }
        lifecycle.withLock { $0.liveQueues.removeAll() }

        let readyTimeout = readyTimeoutMilliseconds
        do {
            try shutdown()
        } catch {
            firstError = firstError ?? error
        }
        // With the controller disabled it no longer touches the admin queues or raises interrupts.
        // If it will not disable, a function reset or bus master off must stop it before the
        // admin queue's memory goes.
        do {
            try Self.disable(registers: registers, device: device, timeoutMilliseconds: readyTimeout)
        } catch {
            firstError = firstError ?? error
            _ = quiesceHoldingRecoveryLock(&state, reason: "closing the controller (\(error))")
        }
        releaseVectorsUnlessInUse()
        if let firstError { throw firstError }
    }

    /// At close: the vectors go now unless a queue pair still holds one (then with the last).
    private func releaseVectorsUnlessInUse() {
        guard lifecycle.withLock({ $0.vectorUsers.isEmpty }) else { return }
        releaseVectors()
    }

    /// CC.SHN normal, then CSTS.SHST complete within RTD3E (if reported) or 10 s.
    func shutdown() throws(NVMeError) {
        var configuration = registers.read(ControllerRegister.configuration)
        if configuration.rawValue == .max { throw .deviceRemoved }
        guard configuration.enable else { return }
        // A controller in fatal state will not complete a shutdown; the disable that follows
        // (a controller reset) is what it needs.
        if registers.read(ControllerRegister.status).controllerFatalStatus { throw .controllerFatal(during: "shutdown") }
        configuration.shutdownNotification = .normal
        registers.write(ControllerRegister.configuration, configuration)
        let rtd3 = Int(identity.rtd3EntryLatency / 1000)  // microseconds to milliseconds
        let timeout = max(10_000, min(rtd3, 60_000))
        let deadline = Deadline(milliseconds: timeout)
        var backoff = Backoff(startMicroseconds: 10, capMicroseconds: 10_000)
        while true {
            device.service()
            let status = registers.read(ControllerRegister.status)
            if status.looksDisconnected { throw .deviceRemoved }
            if status.shutdownStatus == .complete {
                logger.debug("NVMe \(device.name): shut down (CC.SHN normal, CSTS.SHST complete)")
                return
            }
            if status.controllerFatalStatus { throw .controllerFatal(during: "shutdown") }
            if deadline.hasPassed { throw .timedOut(what: "shutdown (CSTS.SHST = complete)", milliseconds: timeout) }
            backoff.sleep()
        }
    }
}
