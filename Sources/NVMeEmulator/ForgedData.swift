import CShims
import NVMe
import VFIO

/// Hostile-device hooks for fuzzing and tests of the driver's validation: completions with every
/// field chosen by the caller, and Identify data replaced by arbitrary bytes. A real controller
/// that is broken or malicious can produce either; the driver must reject what does not add up.
extension EmulatedNVMeController {
    /// Which phase tag a forged completion carries.
    public enum ForgedPhase: Sendable {
        /// The phase of the queue's current pass: the host sees the entry as new.
        case current
        /// The other one: the host must not see it.
        case stale
    }

    /// Writes `entry` (DW0, SQ head, SQ id, command id, status as given) at completion queue
    /// `queue`'s tail, with the phase tag replaced as `phase` says, and advances the tail as a post
    /// does. No command has to exist. False when the queue does not exist or is full (the
    /// controller never overruns the host's head, forged or not).
    @discardableResult
    public func postForgedCompletion(queue: UInt16, _ entry: CompletionQueueEntry, phase: ForgedPhase = .current) -> Bool {
        core.withEngine { $0.postForged(queue: Int(queue), entry, phase: phase) }
    }

    /// Replaces the 4096 bytes Identify returns for `cns` (every NSID, for the per-namespace CNS
    /// values); nil restores the real data. Shorter data is padded with zeroes. Requests the real
    /// controller refuses (an unknown NSID) are still refused.
    public func setIdentifyData(cns: IdentifyCNS, _ bytes: [UInt8]?) {
        core.withEngine { e in
            if let bytes {
                e.identifyOverrides[cns.rawValue] = Array((bytes + [UInt8](repeating: 0, count: 4096)).prefix(4096))
            } else {
                e.identifyOverrides[cns.rawValue] = nil
            }
        }
    }
}

extension ControllerEngine {
    mutating func postForged(queue cqid: Int, _ entry: CompletionQueueEntry, phase: EmulatedNVMeController.ForgedPhase) -> Bool {
        guard cqid >= 0, cqid < completionQueues.count, var cq = completionQueues[cqid] else { return false }
        refreshHead(cqid)
        cq = completionQueues[cqid]!
        guard !cq.isFull, pciConfig.busMasterEnabled else { return false }
        let tag = phase == .current ? cq.phase : !cq.phase
        let iova = cq.base &+ UInt64(cq.tail * 16)
        let written: Bool = iommu.withTranslation { t in
            guard let slot = t.translate(iova, length: 16, direction: .deviceWrite) else { return false }
            slot.storeBytes(of: entry.commandSpecific.littleEndian, toByteOffset: 0, as: UInt32.self)
            slot.storeBytes(of: entry.reserved.littleEndian, toByteOffset: 4, as: UInt32.self)
            let dw2 = UInt32(entry.submissionQueueHead) | UInt32(entry.submissionQueueID) << 16
            slot.storeBytes(of: dw2.littleEndian, toByteOffset: 8, as: UInt32.self)
            let dw3 = UInt32(entry.commandID) | UInt32(entry.status.withPhase(tag)) << 16
            shim_dma_store32_release(slot + 12, dw3.littleEndian)
            return true
        }
        guard written else { return false }
        cq.tail += 1
        if cq.tail == cq.size {
            cq.tail = 0
            cq.phase.toggle()
        }
        statistics.totals.completionsPosted += 1
        if cq.interruptsEnabled { cq.unsignalled += 1 }
        completionQueues[cqid] = cq
        return true
    }
}
