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

import Synchronization
import VFIO

extension ControllerStatus {
    /// Whether the controller is gone or being taken away: CSTS reads all ones (surprise removal,
    /// a dead link) or the kernel has asked for the function back through the request interrupt
    /// (it then waits for us to let go). One test for every wait loop, so the admin wait and the
    /// I/O waits' idle check cannot drift apart. Outside the I/O path: `removalRequested` is a
    /// `poll` call.
    func showsRemoval(of device: some PCIFunction) -> Bool {
        looksDisconnected || device.removalRequested
    }
}

extension Controller {
    /// Whether the controller failed for good (removed, or recovery given up).
    var hasFailed: Bool { failedFlag.load(ordering: .acquiring) }
}

/// The word a queue pair's SQ tail doorbell points at once its controller has failed for good:
/// ours, never the device's. Doorbell stores are atomic (`Doorbell.ring`), so pairs on several
/// threads may write it at once; nobody reads it.
nonisolated(unsafe) let disconnectedDoorbellWord: UnsafeMutableRawPointer = {
    let word = UnsafeMutableRawPointer.allocate(byteCount: 4, alignment: 4)
    word.storeBytes(of: 0, as: UInt32.self)
    return word
}()

extension QueuePair {
    /// After a removal (or recovery given up) nothing may start on this pair again: a function
    /// the kernel only asked back is still there and would fetch new commands, into memory that
    /// is about to be released. So the pair's idle check, on seeing the terminal failure, points
    /// the SQ tail doorbell at `disconnectedDoorbellWord`; later submissions stay outstanding
    /// and the next wait throws the failure. The I/O path pays nothing for this: no flag is
    /// read per doorbell (a load and branch there cost 5 of 186 instructions per I/O).
    mutating func disconnectSubmissionDoorbell() {
        guard submission.slots.doorbell.address != disconnectedDoorbellWord else { return }
        var ring = SubmissionRing(slots: submission.slots.with(doorbell: Doorbell(address: disconnectedDoorbellWord)))
        ring.tail = submission.tail
        ring.head = submission.head
        ring.unpublished = submission.unpublished
        submission = ring
    }
}
