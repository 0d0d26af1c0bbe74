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

/// What recovery remembers, behind `Controller.recovery` (lock order: recovery, admin, lifecycle).
struct RecoveryState: Sendable {
    var resets = 0
    var lastReason: String?
    /// Set once, when recovery failed or the device vanished; every later call throws it.
    var failure: NVMeError?
    /// Why the controller was quiesced, until a reset enables it again (`Controller.quiesce`).
    var quiesced: String?
    /// Quiesces so far, and how the last one was proven (nil: it was not).
    var quiesces = 0
    var lastQuietProof: QuietProof?
}

extension NVMeStatus {
    /// "Command Aborted By Host" (SCT 3h path related, SC 71h; NVMe base 1.4, Figure 130; Linux
    /// `NVME_SC_HOST_ABORTED_CMD`): the status a queue pair gives every command that was
    /// outstanding when a controller reset removed its queue. The device never saw it finish.
    public static let abortedByHost = NVMeStatus(codeType: .path, code: 0x71)

    /// Whether the driver itself ended the command (its Abort after a timeout, or a reset), so
    /// resubmitting it is safe and expected: the blocking API does, up to `RecoveryPolicy.retries`.
    @inlinable public var isEndedByHost: Bool { matches(.abortedByHost) || matches(.abortRequested) }
}

// MARK: - Controller reset (NVMe base 1.4, 7.3.2 "Controller Level Reset")
//
// The state machine, per controller:
//
//     live ──(CFS | I/O timeout after Abort | admin timeout | reset())──▶ resetting
//     resetting ──(EN=0, RDY=0 ≤ CAP.TO [else FLR], admin rings re-initialised,
//                  EN=1, RDY=1, Number of Queues)──▶ live, generation + 1
//     resetting ──(any step fails)──▶ failed (terminal: every call throws the reason)
//     any ──(registers read all ones)──▶ failed (.deviceRemoved)
//     live | failed ──close()──▶ closed
//
// and per queue pair, in its idle checks (never on submit or reap):
//
//     generation changed ──▶ rings reset in place, CQ zeroed, SQ and CQ created again,
//                            every outstanding command completed with Command Aborted By Host
//     command older than ioTimeout ──▶ Abort ──(still outstanding after abortTimeout,
//                                              or the Abort failed)──▶ controller reset

extension Controller {
    /// CAP.TO in milliseconds, at least 500 (some controllers report 0).
    var readyTimeoutMilliseconds: Int { max(500, capabilities.timeoutMilliseconds) }

    /// The terminal failure, if recovery failed or the device vanished (one atomic load when not).
    var recoveryFailure: NVMeError? {
        guard failedFlag.load(ordering: .acquiring) else { return nil }
        return recovery.withLock { $0.failure }
    }

    /// Controller resets done so far (automatic and requested).
    public var resetCount: Int { recovery.withLock { $0.resets } }

    /// Why the last reset happened, for reports.
    public var lastResetReason: String? { recovery.withLock { $0.lastReason } }

    /// Why the controller is failed for good, or nil while it is usable.
    public var failure: NVMeError? { recoveryFailure }

    /// Resets the controller now (CC.EN off and on, admin queue re-initialised) and has every queue
    /// pair rebuild its queues at its next wait. Outstanding commands complete with "Command
    /// Aborted By Host". Use it after a `.timedOut` when automatic recovery is disabled.
    public func reset() throws(NVMeError) {
        try recover(reason: "requested by the caller", observedGeneration: nil)
    }

    /// Records a terminal failure (the first one wins) and wakes nobody: waits see it at their
    /// next idle check.
    func markFailed(_ error: NVMeError) {
        recovery.withLock { state in
            if state.failure == nil { state.failure = error }
        }
        failedFlag.store(true, ordering: .releasing)
    }

    /// Resets the controller unless a reset already happened since the caller saw generation
    /// `observedGeneration` (several queue pairs noticing one failure cause one reset). Throws the
    /// terminal failure if the reset fails, and `.closed` after `close()`.
    func recover(reason: String, observedGeneration: UInt64?) throws(NVMeError) {
        try recovery.withLock { (state) throws(NVMeError) in
            if let failure = state.failure { throw failure }
            if closedFlag.load(ordering: .acquiring) { throw .closed }
            if let observed = observedGeneration, resetGeneration.load(ordering: .acquiring) != observed { return }
            logger.warning("NVMe \(device.name): resetting the controller: \(reason)")
            let outcome = admin.withLock { (queue) -> Result<Int, NVMeError> in
                // From the first register write on, the device's I/O queues are gone.
                lifecycle.withLock { $0.onDevice.removeAll() }
                do throws(NVMeError) {
                    let granted = try performReset(&queue)
                    // A controller may grant fewer queues after the reset than at bring-up.
                    recreatableQueuePairs.store(granted, ordering: .releasing)
                    // Pairs see the new generation only after the admin queue is usable again
                    // (they recreate their queues through it, under this same lock).
                    quiescedFlag.store(false, ordering: .releasing)
                    resetGeneration.add(1, ordering: .releasing)
                    return .success(granted)
                } catch {
                    return .failure(error)
                }
            }
            state.resets += 1
            state.lastReason = reason
            switch outcome {
            case .success:
                state.quiesced = nil
                logger.notice("NVMe \(device.name): controller reset done (\(state.resets) so far); queue pairs rebuild at their next wait")
            case .failure(let error):
                let failure: NVMeError = error == .deviceRemoved ? .deviceRemoved : .recoveryFailed(reason: "reset after \(reason) failed: \(error)")
                state.failure = failure
                failedFlag.store(true, ordering: .releasing)
                logger.error("NVMe \(device.name): \(failure)")
                // The reset may have left the controller half up: quiet it before queue pairs end
                // their commands. Only a device proven quiet lets them (the generation moves);
                // otherwise the commands stay outstanding and their memory is never released.
                if quiesceHoldingRecoveryLock(&state, reason: "a failed reset") != nil {
                    resetGeneration.add(1, ordering: .releasing)
                }
                throw failure
            }
        }
    }

    /// The reset itself, holding the admin lock. Returns the I/O queue pairs granted afterwards.
    private func performReset(_ queue: inout AdminQueue) throws(NVMeError) -> Int {
        let readyTimeout = readyTimeoutMilliseconds
        // CC.EN = 0; CSTS.RDY must follow within CAP.TO. A controller that ignores it gets a
        // function level reset (VFIO_DEVICE_RESET; vfio-pci saves and restores config space and
        // MSI-X around it), the same escalation as Linux's nvme_reset_work → pcie_flr.
        // A quiesce may have turned bus mastering off; the controller needs it to run again.
        do {
            try device.enableBusMaster()
        } catch {
            throw .vfio(error)
        }
        do {
            try Self.disable(registers: registers, device: device, timeoutMilliseconds: readyTimeout)
        } catch {
            guard case .timedOut = error else { throw error }
            logger.warning("NVMe \(device.name): CSTS.RDY stayed 1 after CC.EN = 0; trying a function level reset")
            do {
                try device.reset()
                try device.enableBusMaster()
            } catch {
                throw .recoveryFailed(reason: "the controller ignored CC.EN = 0 and the function level reset failed: \(error)")
            }
            try Self.disable(registers: registers, device: device, timeoutMilliseconds: readyTimeout)
        }
        // The controller forgot the admin queue's state; the host forgets its side too.
        queue.resetRings()
        Self.programAdminQueue(queue, registers: registers)
        try Self.enable(registers: registers, device: device, timeoutMilliseconds: readyTimeout)
        // Features return to their defaults at a reset (5.21.1.7: Number of Queues must be set
        // again before I/O queues are created).
        let requested = grantedQueuePairs
        let answer = try queue.execute(
            .setFeatures(.numberOfQueues, cdw11: NumberOfQueues(submissionQueues: requested, completionQueues: requested).dword),
            data: nil, name: "Set Features (Number of Queues) after reset", device: device, registers: registers,
            timeoutMilliseconds: options.adminTimeoutMilliseconds)
        let allocated = NumberOfQueues(dword: answer.commandSpecific)
        try restoreFeatures(&queue)
        // The reset ended the Asynchronous Event Requests the device held: keep as many outstanding as before.
        queue.armEventRequests()
        return min(requested, allocated.submissionQueues, allocated.completionQueues)
    }

    /// Sets again every feature the caller set (interrupt coalescing, write cache, ...), in the
    /// order they were first set, so a reset does not silently change how the controller behaves.
    /// A feature the controller now refuses is logged and forgotten rather than failing recovery;
    /// a timeout or a dead controller does fail it.
    private func restoreFeatures(_ queue: inout AdminQueue) throws(NVMeError) {
        var refused: [Int] = []
        for (index, feature) in queue.featuresToRestore.entries.enumerated() {
            do {
                try queue.execute(
                    .setFeatures(feature.id, cdw11: feature.cdw11), data: nil, name: "Set Features \(feature.id) after reset",
                    device: device, registers: registers, timeoutMilliseconds: options.adminTimeoutMilliseconds)
            } catch {
                guard case .commandFailed = error else { throw error }
                logger.warning("NVMe \(device.name): \(feature.id) could not be restored after the reset (\(error)); it is back at its default")
                refused.append(index)
            }
        }
        queue.featuresToRestore.forget(at: refused)
    }

    /// Abort (5.1) sent by a queue pair's timeout handling, with its own timeout and without the
    /// automatic reset of `adminCommand` (the pair escalates itself). True when the controller
    /// reports the command aborted.
    func abortForRecovery(queue: UInt16, commandID: UInt16) throws(NVMeError) -> Bool {
        if closedFlag.load(ordering: .acquiring) { throw .closed }
        if let failure = recoveryFailure { throw failure }
        let timeout = max(1, min(options.adminTimeoutMilliseconds, options.recovery.abortTimeoutMilliseconds))
        let cqe = try executeAdmin(
            .abort(submissionQueue: queue, commandID: commandID), name: "Abort (queue \(queue), command id \(commandID))",
            timeoutMilliseconds: timeout)
        return cqe.commandSpecific & 1 == 0
    }

    /// How long the blocking and async APIs wait for one completion before giving up: the
    /// command timeout, plus, with recovery, the Abort's and a reset's time to play out.
    var ioWaitMilliseconds: Int {
        let io = options.ioTimeoutMilliseconds
        guard options.recovery.enabled else { return io }
        return io + options.recovery.abortTimeoutMilliseconds + 2 * readyTimeoutMilliseconds
            + 4 * options.adminTimeoutMilliseconds + 1000
    }
}
