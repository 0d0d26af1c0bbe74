import CShims
import NVMe
import VFIO

/// Posting completions (NVMe base 1.4, 4.6): phase tags, SQ head in every entry, and a full CQ
/// that holds completions back instead of overrunning the host's head.
extension ControllerEngine {
    /// Posts every owed completion that is due, in order, while its CQ has room; the rest wait
    /// for the host to advance the CQ head (4.1: the controller must not overrun it).
    mutating func postDueCompletions() -> Bool {
        var progress = false
        var now: UInt64 = 0
        for cqid in liveCompletionQueues where !pending[cqid].isEmpty {
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
                if postNow && post(p, to: cqid) {
                    progress = true
                } else {
                    // Not due, no room, or the post failed (the controller is now halted).
                    blocked = blocked || postNow
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
