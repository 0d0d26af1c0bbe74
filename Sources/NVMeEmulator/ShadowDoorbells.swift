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
import PCIEmulation
import VFIO

/// Doorbell Buffer Config (NVMe base 1.3, 5.7), the controller's side, for the I/O queues (the
/// admin queue keeps its MMIO doorbells, as Linux's driver expects).
///
/// A shadowed queue's doorbell register holds `BARMemory.unwrittenDoorbell` between host writes,
/// so every MMIO write is seen and counted, also one repeating the last value. An SQ's shadow
/// tail is read after an MMIO write (a kick) or when the shadow moved
/// while the event index was being written; the event index is then the tail seen, so the host
/// kicks again once it moves past it (QEMU `nvme_update_sq_eventidx`). A CQ's shadow head is
/// read whenever the head is needed, so its event index is the newest entry's slot, which a
/// host never moves past: it need not write the MMIO head doorbell at all. Everything read
/// from the pages is host data: the same range checks as for an MMIO doorbell value.
extension ControllerEngine {
    /// Doorbell Buffer Config: PRP1 the shadow doorbells, PRP2 the event indexes, page aligned.
    mutating func doorbellBufferConfig(_ sqe: SubmissionQueueEntry) -> CommandOutcome {
        guard configuration.doorbellBufferConfig else { return CommandOutcome(status: .invalidCommandOpcode) }
        let mask = UInt64(pageSize - 1)
        guard sqe.prp1 != 0, sqe.prp2 != 0, sqe.prp1 & mask == 0, sqe.prp2 & mask == 0 else {
            return CommandOutcome(status: .invalidFieldInCommand.withDoNotRetry())
        }
        doorbellBuffers = (sqe.prp1, sqe.prp2)
        // Queues that already exist continue from what the controller has (as QEMU does).
        for qid in liveSubmissionQueues where qid != 0 {
            guard var sq = submissionQueues[qid] else { continue }
            _ = writeHost32(sqe.prp1 &+ shadowOffset(qid, completion: false), UInt32(sq.tail))
            _ = writeHost32(sqe.prp2 &+ shadowOffset(qid, completion: false), UInt32(sq.tail))
            sq.mmioTail = bar.loadDoorbell(layout.submissionTailDoorbell(qid))
            bar.store32(BARMemory.unwrittenDoorbell, layout.submissionTailDoorbell(qid))
            submissionQueues[qid] = sq
        }
        for cqid in liveCompletionQueues where cqid != 0 {
            guard var cq = completionQueues[cqid] else { continue }
            _ = writeHost32(sqe.prp1 &+ shadowOffset(cqid, completion: true), UInt32(cq.head))
            _ = writeHost32(sqe.prp2 &+ shadowOffset(cqid, completion: true), UInt32(cq.tail))
            cq.mmioHead = bar.loadDoorbell(layout.completionHeadDoorbell(cqid))
            bar.store32(BARMemory.unwrittenDoorbell, layout.completionHeadDoorbell(cqid))
            completionQueues[cqid] = cq
        }
        return .success
    }

    /// Whether queue `qid`'s doorbells are shadowed (an I/O queue, after the command).
    func usesShadow(_ qid: Int) -> Bool { qid != 0 && doorbellBuffers != nil }

    /// Byte offset of a queue's entry in both pages: the doorbell register layout.
    func shadowOffset(_ qid: Int, completion: Bool) -> UInt64 {
        UInt64((2 * qid + (completion ? 1 : 0)) * (4 << Int(configuration.doorbellStride)))
    }

    /// The SQ tail the host published through its shadow doorbell, or nil when there is nothing
    /// to look at (no kick, not watching). Counts a changed MMIO value as a doorbell write.
    mutating func shadowSubmissionTail(_ qid: Int, _ sq: inout SubmissionQueueState) -> UInt32? {
        guard let buffers = doorbellBuffers else { return nil }
        let written = bar.takeDoorbell(layout.submissionTailDoorbell(qid))
        if let written {
            sq.mmioTail = written
            statistics.totals.doorbellWrites += 1
        }
        guard written != nil || sq.watchingShadow else { return nil }
        let offset = shadowOffset(qid, completion: false)
        // A shadow page the host unmapped: the kick's value is all there is.
        guard let value = readHost32(buffers.shadow &+ offset) else { return sq.mmioTail }
        _ = writeHost32(buffers.eventIndex &+ offset, configuration.forgedEventIndex ?? value)
        // Event index store, full barrier, shadow load: the mirror of the host's shadow store,
        // barrier, event index load. Either the host sees the new index (and kicks) or this
        // sees its new tail (and reads again next step without a kick).
        Barrier.full()
        sq.watchingShadow = (readHost32(buffers.shadow &+ offset) ?? value) != value
        return value
    }

    /// The CQ head the host published through its shadow doorbell (the MMIO value if the page
    /// is unreadable). Counts a changed MMIO value as a doorbell write.
    mutating func shadowCompletionHead(_ cqid: Int, _ cq: inout CompletionQueueState) -> UInt32 {
        if let written = bar.takeDoorbell(layout.completionHeadDoorbell(cqid)) {
            cq.mmioHead = written
            statistics.totals.doorbellWrites += 1
        }
        guard let buffers = doorbellBuffers else { return cq.mmioHead }
        return readHost32(buffers.shadow &+ shadowOffset(cqid, completion: true)) ?? cq.mmioHead
    }

    /// After posting to CQ `cqid`: its event index is the new tail (see the type's comment).
    mutating func publishCompletionEventIndex(_ cqid: Int, tail: Int) {
        guard let buffers = doorbellBuffers else { return }
        _ = writeHost32(buffers.eventIndex &+ shadowOffset(cqid, completion: true), configuration.forgedEventIndex ?? UInt32(tail))
    }

    /// One 32-bit word of host memory through the IOMMU, or nil if the function may not read it.
    func readHost32(_ iova: UInt64) -> UInt32? {
        guard pci.mayAccess(iova, length: 4, .deviceRead) else { return nil }
        return iommu.withTranslation { t -> UInt32? in
            guard let p = t.translate(iova, length: 4, direction: .deviceRead) else { return nil }
            return UInt32(littleEndian: DMAWord.load32(UnsafeRawPointer(p)))
        }
    }

    /// Writes one 32-bit word of host memory through the IOMMU; false if the function may not.
    func writeHost32(_ iova: UInt64, _ value: UInt32) -> Bool {
        guard pci.mayAccess(iova, length: 4, .deviceWrite) else { return false }
        return iommu.withTranslation { t -> Bool in
            guard let p = t.translate(iova, length: 4, direction: .deviceWrite) else { return false }
            DMAWord.storeRelease32(p, value.littleEndian)
            return true
        }
    }
}
