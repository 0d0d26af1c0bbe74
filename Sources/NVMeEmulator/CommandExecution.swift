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
import VFIO
import PCIEmulation

/// The result of executing one command.
struct CommandOutcome {
    var status: NVMeStatus
    /// CQE DW0 (command specific).
    var result: UInt32 = 0
    /// Data bytes moved, for statistics.
    var bytes = 0
    /// The completion is posted later (an Asynchronous Event Request waits for an event).
    var deferred = false
    /// For the error log: the namespace and LBA the command was about.
    var namespaceID: UInt32 = 0
    var lba: UInt64 = 0

    static let success = CommandOutcome(status: .success)

    init(status: NVMeStatus, result: UInt32 = 0, bytes: Int = 0) {
        self.status = status
        self.result = result
        self.bytes = bytes
    }
}

extension ControllerEngine {
    /// Runs one fetched command: fault plan, then the command, then its completion.
    mutating func execute(_ sqe: SubmissionQueueEntry, queue sqid: UInt16) {
        let effects = faults.isEmpty ? FaultEffects() : faults.evaluate(sqid: sqid, opcode: sqe.opcode)
        if !staleCompletions.isEmpty { repostStaleCompletion(sqid: sqid, commandID: sqe.commandID) }
        if effects.removal {
            leaveBus(notify: true)
            return
        }
        if effects.stop {
            halted = true
            return
        }
        if effects.fatal {
            fatal()
            return
        }
        if effects.hang {
            rememberLost(sqid: sqid, commandID: sqe.commandID)
            return
        }
        var outcome: CommandOutcome
        lateDataNanoseconds = effects.lateDataNanoseconds
        defer {
            lateDataNanoseconds = nil
            capturedLateWrite = nil
        }
        if let injected = effects.status {
            outcome = CommandOutcome(status: injected)
        } else if effects.dmaFault {
            iommu.recordFault(DMAFault(iova: sqe.prp1, length: 0, direction: .deviceRead, reason: .injected))
            outcome = CommandOutcome(status: .dataTransferError)
        } else if sqid == 0 {
            outcome = executeAdmin(sqe)
        } else {
            outcome = executeIO(sqe, queue: sqid)
        }
        statistics.count(admin: sqid == 0, opcode: sqe.opcode, failed: !outcome.status.isSuccess, bytes: outcome.bytes)
        if !outcome.status.isSuccess {
            logError(sqe, queue: sqid, outcome)
        }
        if outcome.deferred { return }
        guard let sq = submissionQueues[Int(sqid)] else { return }
        let cqid = Int(sq.completionQueue)
        if effects.drop || effects.badCommandID || effects.flood {
            rememberLost(sqid: sqid, commandID: sqe.commandID)
        }
        if effects.flood { floodCommandID = sqe.commandID ^ 0x8000 }
        if effects.drop || effects.flood {
            if let late = capturedLateWrite { scheduleLateWrite(late) }
            return
        }
        var due: UInt64 = 0
        let wait = configuration.commandLatencyNanoseconds &+ effects.delayNanoseconds
        if wait > 0 { due = MonotonicClock.nanoseconds() &+ wait }
        let commandID = effects.badCommandID ? sqe.commandID ^ 0x8000 : sqe.commandID
        var completion = PendingCompletion(
            submissionQueue: sqid, commandID: commandID, status: outcome.status, result: outcome.result, due: due,
            corruptPhase: effects.corruptPhase, withholdInterrupt: effects.withholdInterrupt)
        if effects.staleOnReuse { staleCompletions.append(completion) }
        completion.lateWrite = capturedLateWrite
        pending[cqid].append(completion)
        if effects.duplicate {
            completion.lateWrite = nil
            pending[cqid].append(completion)
        }
    }

    /// A command whose completion will never come (dropped, hung, lost to a flood): still
    /// outstanding as far as the host knows, so Abort can find it.
    mutating func rememberLost(sqid: UInt16, commandID: UInt16) {
        lost.append(LostCommand(submissionQueue: sqid, commandID: commandID))
        if lost.count > Self.lostHistory { lost.removeFirst() }
    }

    /// `FaultAction.staleCompletionOnReuse`: a later command was fetched from the SQ of a
    /// remembered completion, so that old entry is owed again, now, ahead of the new command's.
    /// Matched by queue, not by id: a driver that hands a freed id out again at once gives the new
    /// command the old id (the stale entry then looks valid); one with id generations does not.
    mutating func repostStaleCompletion(sqid: UInt16, commandID: UInt16) {
        guard let i = staleCompletions.firstIndex(where: { $0.submissionQueue == sqid }),
              let sq = submissionQueues[Int(sqid)] else { return }
        var stale = staleCompletions.remove(at: i)
        stale.due = 0
        pending[Int(sq.completionQueue)].append(stale)
    }

    /// Error Information log entry for a failed command (5.14.1.1), newest kept, 64 at most.
    mutating func logError(_ sqe: SubmissionQueueEntry, queue sqid: UInt16, _ outcome: CommandOutcome) {
        errorCount += 1
        var entry = ErrorInformationEntry()
        entry.errorCount = errorCount
        entry.submissionQueueID = sqid
        entry.commandID = sqe.commandID
        entry.status = outcome.status
        entry.parameterErrorLocation = 0xFFFF
        entry.lba = outcome.lba
        entry.namespaceID = outcome.namespaceID
        errorLog.append(entry)
        if errorLog.count > Self.errorLogEntries { errorLog.removeFirst() }
    }
}
