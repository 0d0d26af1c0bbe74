import CShims
import NVMe
import VFIO

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
        if effects.stop {
            halted = true
            return
        }
        if effects.fatal {
            fatal()
            return
        }
        var outcome: CommandOutcome
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
        if effects.drop || effects.badCommandID {
            lost.append(LostCommand(submissionQueue: sqid, commandID: sqe.commandID))
            if lost.count > Self.lostHistory { lost.removeFirst() }
        }
        if effects.drop { return }
        var due: UInt64 = 0
        let wait = configuration.commandLatencyNanoseconds &+ effects.delayNanoseconds
        if wait > 0 { due = MonotonicClock.now() &+ wait }
        let commandID = effects.badCommandID ? sqe.commandID ^ 0x8000 : sqe.commandID
        let completion = PendingCompletion(
            submissionQueue: sqid, commandID: commandID, status: outcome.status, result: outcome.result, due: due,
            corruptPhase: effects.corruptPhase, withholdInterrupt: effects.withholdInterrupt)
        pending[cqid].append(completion)
        if effects.duplicate { pending[cqid].append(completion) }
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
