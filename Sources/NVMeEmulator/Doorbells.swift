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

/// Doorbells (NVMe base 1.4, 3.1.24, 3.1.25, 4.1): the host publishes an SQ tail or a CQ head by
/// writing BAR memory; the controller reads each with an acquire load, validates it against the
/// queue, and reports bad writes as asynchronous events instead of acting on them.
extension ControllerEngine {
    /// A write to the doorbell of a queue that does not exist (4.1; Asynchronous Event "Write to
    /// Invalid Doorbell Register"): reported, and the register cleared so it is reported once.
    mutating func checkUnusedDoorbells() {
        for qid in 0...layout.maxQueueID {
            if submissionQueues[qid] == nil, bar.load32(layout.submissionTailDoorbell(qid)) != 0 {
                bar.store32(0, layout.submissionTailDoorbell(qid))
                invalidDoorbell(info: 0x00)
            }
            if completionQueues[qid] == nil, bar.load32(layout.completionHeadDoorbell(qid)) != 0 {
                bar.store32(0, layout.completionHeadDoorbell(qid))
                invalidDoorbell(info: 0x00)
            }
        }
    }

    /// Error status asynchronous event 00h (write to invalid doorbell) or 01h (invalid value) (5.2.1).
    mutating func invalidDoorbell(info: UInt8) {
        statistics.totals.invalidDoorbellWrites += 1
        events.append(AsynchronousEvent(type: 0, info: info, logPage: LogPageIdentifier.errorInformation.rawValue))
    }

    /// Reads the CQ head doorbell; a head outside the queue or beyond the tail is an invalid write.
    mutating func refreshHead(_ cqid: Int) {
        guard var cq = completionQueues[cqid] else { return }
        let value = bar.loadDoorbell(layout.completionHeadDoorbell(cqid))
        if value == UInt32(cq.head) { return }
        // The new head may move forward over posted entries only: (value - head) <= filled.
        let advance = (Int(value) - cq.head + cq.size) % cq.size
        if Int(value) >= cq.size || advance > cq.filled {
            if cq.rejectedHead != value {
                cq.rejectedHead = value
                completionQueues[cqid] = cq
                invalidDoorbell(info: 0x01)
            }
            return
        }
        statistics.totals.doorbellWrites += 1
        cq.head = Int(value)
        cq.rejectedHead = nil
        completionQueues[cqid] = cq
    }

    /// Fetches and executes what the host queued on one SQ, as far as its CQ has room and at most
    /// the Arbitration Burst (2^AB commands, AB 7 = no limit; 4.11 round robin arbitration) before
    /// the next SQ gets its turn.
    mutating func processSubmissionQueue(_ qid: Int) -> Bool {
        guard var sq = submissionQueues[qid] else { return false }
        let value = bar.loadDoorbell(layout.submissionTailDoorbell(qid))
        if Int(value) != sq.tail {
            if Int(value) >= sq.size {
                if sq.rejectedTail != value {
                    sq.rejectedTail = value
                    submissionQueues[qid] = sq
                    invalidDoorbell(info: 0x01)
                }
                return false
            }
            statistics.totals.doorbellWrites += 1
            sq.tail = Int(value)
            sq.rejectedTail = nil
            submissionQueues[qid] = sq
        }
        let cqid = Int(sq.completionQueue)
        var progress = false
        let burst = Arbitration(dword: features.arbitration).burst
        var budget = burst == 7 ? Int.max : 1 << Int(burst)
        while sq.head != sq.tail && budget > 0 {
            budget -= 1
            refreshHead(cqid)
            guard let cq = completionQueues[cqid] else { break }
            // Fetch only what the CQ can take, so owed completions stay bounded (backpressure).
            if cq.filled + pending[cqid].count >= cq.size - 1 {
                statistics.totals.completionQueueFullStalls += 1
                break
            }
            guard let entry = fetch(sq, slot: sq.head) else { return progress }
            sq.head = (sq.head + 1) % sq.size
            submissionQueues[qid] = sq
            progress = true
            execute(entry, queue: UInt16(qid))
            guard !halted, let current = submissionQueues[qid] else { break }
            sq = current
        }
        return progress
    }

    /// Reads one 64-byte SQE through the IOMMU. A fault here cannot be reported in a completion
    /// (there is no command id yet), so it is fatal, as on hardware.
    mutating func fetch(_ sq: SubmissionQueueState, slot: Int) -> SubmissionQueueEntry? {
        let iova = sq.base &+ UInt64(slot * 64)
        if sq.inControllerMemory {
            let entry = fetchFromControllerMemory(iova)
            if entry == nil { fatal() }
            return entry
        }
        guard pci.mayAccess(iova, length: 64, .deviceRead) else {
            fatal()
            return nil
        }
        let entry: SubmissionQueueEntry? = iommu.withTranslation { t in
            guard let p = t.translate(iova, length: 64, direction: .deviceRead) else { return nil }
            return UnsafeRawPointer(p).loadUnaligned(as: SubmissionQueueEntry.self)
        }
        if entry == nil { fatal() }
        return entry
    }
}
