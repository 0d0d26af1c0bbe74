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
        guard cqid >= 0, cqid < completionQueues.count, completionQueues[cqid] != nil else { return false }
        refreshHead(cqid)
        let cq = completionQueues[cqid]!
        guard !cq.isFull else { return false }
        let words = CompletionEntryWords(
            dw0: entry.commandSpecific, dw1: entry.reserved, sqHead: entry.submissionQueueHead, sqid: entry.submissionQueueID,
            commandID: entry.commandID, status: entry.status)
        return writeEntry(words, to: cqid, phase: phase == .current ? cq.phase : !cq.phase, signal: true)
    }
}
