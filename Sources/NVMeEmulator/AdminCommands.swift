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

import NVMeSpec

extension ControllerEngine {
    /// Admin command set (NVMe base 1.4, 5). Unknown or unsupported opcodes: Invalid Command Opcode.
    mutating func executeAdmin(_ sqe: SubmissionQueueEntry) -> CommandOutcome {
        // FUSES is 0: fused commands are invalid fields; admin commands take PRPs only (SGLs are for
        // I/O commands over PCIe, NVMe base 1.4, 4.4), so PSDT must be 00b here.
        guard sqe.fusedOperation == 0, sqe.dataPointerType == 0 else {
            return CommandOutcome(status: .invalidFieldInCommand)
        }
        guard let opcode = sqe.adminOpcode else { return CommandOutcome(status: .invalidCommandOpcode) }
        switch opcode {
        case .identify: return identify(sqe)
        case .createIOCompletionQueue: return createCompletionQueue(sqe)
        case .createIOSubmissionQueue: return createSubmissionQueue(sqe)
        case .deleteIOSubmissionQueue: return deleteSubmissionQueue(sqe)
        case .deleteIOCompletionQueue: return deleteCompletionQueue(sqe)
        case .getFeatures: return getFeatures(sqe)
        case .setFeatures: return setFeatures(sqe)
        case .getLogPage: return getLogPage(sqe)
        case .abort: return abort(sqe)
        case .asynchronousEventRequest: return asynchronousEventRequest(sqe)
        case .namespaceAttachment: return namespaceAttachment(sqe)
        case .namespaceManagement: return namespaceManagement(sqe)
        default: return CommandOutcome(status: .invalidCommandOpcode)
        }
    }

    /// Queue ids the host may create: up to what Number of Queues granted (or the maximum, if the
    /// host never asked).
    var creatableSubmissionQueues: Int { features.grantedQueues?.submission ?? configuration.maxIOQueuePairs }
    var creatableCompletionQueues: Int { features.grantedQueues?.completion ?? configuration.maxIOQueuePairs }

    /// Create I/O Completion Queue (5.3). Checks in QEMU's order, statuses from Figure 150.
    mutating func createCompletionQueue(_ sqe: SubmissionQueueEntry) -> CommandOutcome {
        let qid = Int(sqe.queueID)
        guard qid != 0, qid <= creatableCompletionQueues, qid <= layout.maxQueueID, completionQueues[qid] == nil else {
            return CommandOutcome(status: .invalidQueueIdentifier.withDoNotRetry())
        }
        guard sqe.queueSize >= 2, sqe.queueSize <= capabilities.maxQueueEntryCount else {
            return CommandOutcome(status: .invalidQueueSize.withDoNotRetry())
        }
        guard sqe.prp1 & UInt64(pageSize - 1) == 0, sqe.prp1 != 0 else {
            return CommandOutcome(status: .prpOffsetInvalid.withDoNotRetry())
        }
        guard sqe.physicallyContiguous else { return CommandOutcome(status: .invalidFieldInCommand.withDoNotRetry()) }
        // CMBSZ.CQS is 0: completion queues cannot live in the buffer.
        if inControllerMemory(sqe.prp1, bytes: 0) != nil { return CommandOutcome(status: .invalidUseOfCMB.withDoNotRetry()) }
        guard Int(sqe.interruptVector) < configuration.msixVectors else {
            return CommandOutcome(status: .invalidInterruptVector.withDoNotRetry())
        }
        guard ControllerConfiguration(rawValue: lastCC).ioCompletionQueueEntrySize == 4 else {
            return CommandOutcome(status: .invalidFieldInCommand.withDoNotRetry())
        }
        completionQueues[qid] = CompletionQueueState(
            id: UInt16(qid), base: sqe.prp1, size: sqe.queueSize, interruptsEnabled: sqe.interruptsEnabled,
            vector: Int(sqe.interruptVector))
        bar.store32(0, layout.completionHeadDoorbell(qid))
        queuesChanged()
        return .success
    }

    /// Create I/O Submission Queue (5.4).
    mutating func createSubmissionQueue(_ sqe: SubmissionQueueEntry) -> CommandOutcome {
        let qid = Int(sqe.queueID)
        guard qid != 0, qid <= creatableSubmissionQueues, qid <= layout.maxQueueID, submissionQueues[qid] == nil else {
            return CommandOutcome(status: .invalidQueueIdentifier.withDoNotRetry())
        }
        let cqid = Int(sqe.completionQueueID)
        guard cqid != 0, cqid <= layout.maxQueueID, completionQueues[cqid] != nil else {
            return CommandOutcome(status: .completionQueueInvalid.withDoNotRetry())
        }
        guard sqe.queueSize >= 2, sqe.queueSize <= capabilities.maxQueueEntryCount else {
            return CommandOutcome(status: .invalidQueueSize.withDoNotRetry())
        }
        guard sqe.prp1 & UInt64(pageSize - 1) == 0, sqe.prp1 != 0 else {
            return CommandOutcome(status: .prpOffsetInvalid.withDoNotRetry())
        }
        guard sqe.physicallyContiguous else { return CommandOutcome(status: .invalidFieldInCommand.withDoNotRetry()) }
        guard ControllerConfiguration(rawValue: lastCC).ioSubmissionQueueEntrySize == 6 else {
            return CommandOutcome(status: .invalidFieldInCommand.withDoNotRetry())
        }
        // An SQ in the Controller Memory Buffer must fit in it (QEMU: Invalid Use of CMB).
        let inMemoryBuffer = inControllerMemory(sqe.prp1, bytes: sqe.queueSize * 64)
        if inMemoryBuffer == false { return CommandOutcome(status: .invalidUseOfCMB.withDoNotRetry()) }
        var state = SubmissionQueueState(id: UInt16(qid), base: sqe.prp1, size: sqe.queueSize, completionQueue: UInt16(cqid))
        state.inControllerMemory = inMemoryBuffer == true
        submissionQueues[qid] = state
        completionQueues[cqid]!.submissionQueues += 1
        bar.store32(0, layout.submissionTailDoorbell(qid))
        queuesChanged()
        return .success
    }

    /// Delete I/O Submission Queue (5.6): completions still owed for it are posted as Command
    /// Aborted due to SQ Deletion before this command completes.
    mutating func deleteSubmissionQueue(_ sqe: SubmissionQueueEntry) -> CommandOutcome {
        let qid = Int(sqe.queueID)
        guard qid != 0, qid <= layout.maxQueueID, let sq = submissionQueues[qid] else {
            return CommandOutcome(status: .invalidQueueIdentifier.withDoNotRetry())
        }
        let cqid = Int(sq.completionQueue)
        var kept: [PendingCompletion] = []
        for var p in pending[cqid] {
            guard p.submissionQueue == UInt16(qid) else {
                kept.append(p)
                continue
            }
            p.status = .abortedSQDeletion
            refreshHead(cqid)
            if completionQueues[cqid]?.isFull != false || !post(p, to: cqid) {
                p.due = 0
                kept.append(p)
            }
        }
        pending[cqid] = kept
        lost.removeAll { $0.submissionQueue == UInt16(qid) }
        submissionQueues[qid] = nil
        completionQueues[cqid]?.submissionQueues -= 1
        bar.store32(0, layout.submissionTailDoorbell(qid))
        queuesChanged()
        return .success
    }

    /// Delete I/O Completion Queue (5.5): refused while an SQ still posts to it.
    mutating func deleteCompletionQueue(_ sqe: SubmissionQueueEntry) -> CommandOutcome {
        let qid = Int(sqe.queueID)
        guard qid != 0, qid <= layout.maxQueueID, let cq = completionQueues[qid] else {
            return CommandOutcome(status: .invalidQueueIdentifier.withDoNotRetry())
        }
        guard cq.submissionQueues == 0 else { return CommandOutcome(status: .invalidQueueDeletion.withDoNotRetry()) }
        completionQueues[qid] = nil
        pending[qid].removeAll()
        bar.store32(0, layout.completionHeadDoorbell(qid))
        queuesChanged()
        return .success
    }

    /// Abort (5.1): finds a command whose completion is still owed (held by latency or a delay,
    /// or lost by an injected fault) and completes it with Command Abort Requested. DW0 bit 0 is
    /// 0 when the command was aborted, 1 when it was not.
    mutating func abort(_ sqe: SubmissionQueueEntry) -> CommandOutcome {
        let sqid = sqe.abortSubmissionQueueID
        let cid = sqe.abortCommandID
        guard Int(sqid) <= layout.maxQueueID, let sq = submissionQueues[Int(sqid)] else {
            return CommandOutcome(status: .success, result: 1)
        }
        let cqid = Int(sq.completionQueue)
        if let i = pending[cqid].firstIndex(where: { $0.submissionQueue == sqid && $0.commandID == cid }) {
            pending[cqid][i].status = .abortRequested
            pending[cqid][i].due = 0
            return CommandOutcome(status: .success, result: 0)
        }
        if let i = lost.firstIndex(where: { $0.submissionQueue == sqid && $0.commandID == cid }) {
            lost.remove(at: i)
            pending[cqid].append(PendingCompletion(submissionQueue: sqid, commandID: cid, status: .abortRequested, result: 0, due: 0))
            return CommandOutcome(status: .success, result: 0)
        }
        if sqid == 0, let i = outstandingEventRequests.firstIndex(of: cid) {
            outstandingEventRequests.remove(at: i)
            pending[0].append(PendingCompletion(submissionQueue: 0, commandID: cid, status: .abortRequested, result: 0, due: 0))
            return CommandOutcome(status: .success, result: 0)
        }
        return CommandOutcome(status: .success, result: 1)
    }

    /// Asynchronous Event Request (5.2): held until an event; AERL + 1 may be outstanding.
    mutating func asynchronousEventRequest(_ sqe: SubmissionQueueEntry) -> CommandOutcome {
        guard outstandingEventRequests.count < Self.eventRequestLimit else {
            return CommandOutcome(status: .asynchronousEventRequestLimitExceeded)
        }
        outstandingEventRequests.append(sqe.commandID)
        var outcome = CommandOutcome.success
        outcome.deferred = true
        return outcome
    }

    /// Completes held Asynchronous Event Requests with pending events whose log page is not
    /// masked. SMART and notice events are reported only if Asynchronous Event Configuration
    /// enables them (5.21.1.11); error events always.
    mutating func deliverAsynchronousEvents() -> Bool {
        guard !outstandingEventRequests.isEmpty, !events.isEmpty else { return false }
        var progress = false
        var i = 0
        while i < events.count, !outstandingEventRequests.isEmpty {
            let event = events[i]
            let enabled: Bool
            switch event.type {
            case 1: enabled = features.asynchronousEventConfiguration & 0xFF != 0
            case 2: enabled = features.asynchronousEventConfiguration & 0xFF00 != 0
            default: enabled = true
            }
            guard enabled, !maskedEventLogPages.contains(event.logPage) else {
                i += 1
                continue
            }
            events.remove(at: i)
            maskedEventLogPages.insert(event.logPage)
            let cid = outstandingEventRequests.removeFirst()
            pending[0].append(PendingCompletion(submissionQueue: 0, commandID: cid, status: .success, result: event.dword, due: 0))
            progress = true
        }
        return progress
    }
}
