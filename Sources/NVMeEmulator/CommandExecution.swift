import CShims
import NVMe

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

    // MARK: - Posting completions

    /// Posts every owed completion that is due, in order, while its CQ has room; the rest wait
    /// for the host to advance the CQ head (4.1: the controller must not overrun it).
    mutating func postDueCompletions() -> Bool {
        var progress = false
        var now: UInt64 = 0
        for cqid in pending.indices where !pending[cqid].isEmpty {
            guard completionQueues[cqid] != nil else {
                pending[cqid].removeAll()
                continue
            }
            refreshHead(cqid)
            var kept = 0
            var blocked = false
            let count = pending[cqid].count
            for i in 0..<count {
                let p = pending[cqid][i]
                var postNow = !blocked
                if postNow && p.due != 0 {
                    if now == 0 { now = MonotonicClock.now() }
                    postNow = p.due <= now
                }
                if postNow && completionQueues[cqid]!.isFull {
                    statistics.totals.completionQueueFullStalls += 1
                    blocked = true
                    postNow = false
                }
                if postNow {
                    guard post(p, to: cqid) else { return true }
                    progress = true
                } else {
                    pending[cqid][kept] = p
                    kept += 1
                }
            }
            pending[cqid].removeLast(count - kept)
        }
        return progress
    }

    /// Writes one CQE (4.6): DW0-DW2 with plain stores, then DW3 (command id, status, phase) with
    /// one release store, so a host that sees the new phase with its acquire load sees the whole
    /// entry. Returns false (and goes fatal) if the CQ memory is not mapped.
    mutating func post(_ p: PendingCompletion, to cqid: Int) -> Bool {
        guard var cq = completionQueues[cqid] else { return true }
        let sqHead = submissionQueues[Int(p.submissionQueue)].map { UInt16($0.head) } ?? 0
        let phase = p.corruptPhase ? !cq.phase : cq.phase
        let iova = cq.base &+ UInt64(cq.tail * 16)
        guard pciConfig.busMasterEnabled else {
            iommu.recordFault(DMAFault(iova: iova, length: 16, direction: .deviceWrite, reason: .busMasterDisabled))
            fatal()
            return false
        }
        let written: Bool = iommu.withTranslation { t in
            guard let slot = t.translate(iova, length: 16, direction: .deviceWrite) else { return false }
            slot.storeBytes(of: p.result.littleEndian, toByteOffset: 0, as: UInt32.self)
            slot.storeBytes(of: UInt32(0), toByteOffset: 4, as: UInt32.self)
            let dw2 = UInt32(sqHead) | UInt32(p.submissionQueue) << 16
            slot.storeBytes(of: dw2.littleEndian, toByteOffset: 8, as: UInt32.self)
            let dw3 = UInt32(p.commandID) | UInt32(p.status.withPhase(phase)) << 16
            shim_dma_store32_release(slot + 12, dw3.littleEndian)
            return true
        }
        guard written else {
            fatal()
            return false
        }
        cq.tail += 1
        if cq.tail == cq.size {
            cq.tail = 0
            cq.phase.toggle()
        }
        statistics.totals.completionsPosted += 1
        if cq.interruptsEnabled && !p.withholdInterrupt { cq.unsignalled += 1 }
        completionQueues[cqid] = cq
        return true
    }
}
