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
                    if now == 0 { now = MonotonicClock.nanoseconds() }
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

    /// Writes one owed completion (4.6), with the SQ head as it is now. Returns false (and goes
    /// fatal) if the CQ memory is not reachable: bus master off, or not mapped.
    mutating func post(_ p: PendingCompletion, to cqid: Int) -> Bool {
        guard let cq = completionQueues[cqid] else { return true }
        let sqHead = submissionQueues[Int(p.submissionQueue)].map { UInt16($0.head) } ?? 0
        let entry = CompletionEntryWords(
            dw0: p.result, dw1: 0, sqHead: sqHead, sqid: p.submissionQueue, commandID: p.commandID, status: p.status)
        guard writeEntry(entry, to: cqid, phase: p.corruptPhase ? !cq.phase : cq.phase, signal: !p.withholdInterrupt) else {
            fatal()
            return false
        }
        if let late = p.lateWrite { scheduleLateWrite(late) }
        return true
    }

    /// Writes one CQE at the tail of CQ `cqid` and advances the tail: DW0-DW2 with plain stores,
    /// then DW3 (command id, status, phase) with one release store, so a host that sees the new
    /// phase with its acquire load sees the whole entry. The CQ head is not checked here; callers
    /// that respect it (all but the flood fault) check room first. False when the function may
    /// not master the bus or the IOMMU refuses the slot (both recorded as faults).
    mutating func writeEntry(_ entry: CompletionEntryWords, to cqid: Int, phase: Bool, signal: Bool) -> Bool {
        guard var cq = completionQueues[cqid] else { return false }
        let iova = cq.base &+ UInt64(cq.tail * 16)
        guard pci.mayAccess(iova, length: 16, .deviceWrite) else { return false }
        let written: Bool = pci.iommu.withTranslation { t in
            guard let slot = t.translate(iova, length: 16, direction: .deviceWrite) else { return false }
            slot.storeBytes(of: entry.dw0.littleEndian, toByteOffset: 0, as: UInt32.self)
            slot.storeBytes(of: entry.dw1.littleEndian, toByteOffset: 4, as: UInt32.self)
            let dw2 = UInt32(entry.sqHead) | UInt32(entry.sqid) << 16
            slot.storeBytes(of: dw2.littleEndian, toByteOffset: 8, as: UInt32.self)
            let dw3 = UInt32(entry.commandID) | UInt32(entry.status.withPhase(phase)) << 16
            DMAWord.storeRelease32(slot + 12, dw3.littleEndian)
            return true
        }
        guard written else { return false }
        cq.tail += 1
        if cq.tail == cq.size {
            cq.tail = 0
            cq.phase.toggle()
        }
        statistics.totals.completionsPosted += 1
        if cq.interruptsEnabled && signal { cq.unsignalled += 1 }
        completionQueues[cqid] = cq
        return true
    }
}

/// The four dwords of a CQE, phase aside (NVMe base 1.4, 4.6, Figure 124).
struct CompletionEntryWords {
    var dw0: UInt32
    var dw1: UInt32
    var sqHead: UInt16
    var sqid: UInt16
    var commandID: UInt16
    var status: NVMeStatus
}
