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
    /// `FaultAction.floodAdminCompletions`: one full ring of entries on the admin CQ per step,
    /// with the current phase and whatever the CQ head doorbell says, so the host always finds
    /// new entries for a command id it never issued. A controller that does this is broken or
    /// hostile; a driver's admin drain must stay bounded (consume at most a ring per call and
    /// check its deadline) or it never returns. Stops at a controller or function reset, or when
    /// the CQ memory becomes unreachable (then the controller goes fatal, as on any failed post).
    mutating func floodAdminCompletionQueue() -> Bool {
        guard let commandID = floodCommandID, let cq = completionQueues[0] else { return false }
        let sqHead = submissionQueues[0].map { UInt16($0.head) } ?? 0
        let entry = CompletionEntryWords(dw0: 0, dw1: 0, sqHead: sqHead, sqid: 0, commandID: commandID, status: .success)
        for _ in 0..<cq.size {
            guard writeEntry(entry, to: 0, phase: completionQueues[0]!.phase, signal: true) else {
                floodCommandID = nil
                fatal()
                return true
            }
        }
        return true
    }
}
