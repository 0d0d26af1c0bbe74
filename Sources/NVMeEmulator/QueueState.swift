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

/// A submission queue as the controller tracks it (NVMe base 1.4, 4.1).
struct SubmissionQueueState {
    let id: UInt16
    /// IOVA of entry 0 (physically contiguous: CAP.CQR is set).
    let base: UInt64
    /// Entries (one-based).
    let size: Int
    let completionQueue: UInt16
    /// `base` is a controller address in the Controller Memory Buffer: entries come from BAR2.
    var inControllerMemory = false
    /// Next entry to fetch; reported as SQHD in every completion.
    var head = 0
    /// Last tail doorbell value accepted.
    var tail = 0
    /// The last rejected tail value, so one bad write is reported once.
    var rejectedTail: UInt32?
}

/// A completion queue as the controller tracks it.
struct CompletionQueueState {
    let id: UInt16
    let base: UInt64
    let size: Int
    let interruptsEnabled: Bool
    let vector: Int
    /// Next slot to write.
    var tail = 0
    /// Phase tag of the current pass; the first pass writes 1 (NVMe base 1.4, 4.6).
    var phase = true
    /// Last head doorbell value accepted.
    var head = 0
    var rejectedHead: UInt32?
    /// SQs that post here; a CQ with any cannot be deleted.
    var submissionQueues = 0
    /// Completions posted since the last interrupt, and when the first of them was posted.
    var unsignalled = 0
    var firstUnsignalledAt: UInt64 = 0

    /// Entries posted and not yet consumed by the host.
    var filled: Int { (tail - head + size) % size }
    /// Full when one more entry would make tail equal head (4.1: a queue of N entries holds N-1).
    var isFull: Bool { (tail + 1) % size == head }
}

/// A completion the controller owes: waiting for its latency or delay, or for room in the CQ.
struct PendingCompletion {
    var submissionQueue: UInt16
    var commandID: UInt16
    var status: NVMeStatus
    var result: UInt32
    /// Monotonic time it may be posted; 0 = now.
    var due: UInt64
    var corruptPhase = false
    var withholdInterrupt = false
    /// Data for the host to write once this completion is posted (`FaultAction.lateData`).
    var lateWrite: LateWrite?
}

/// A command whose completion the fault plan dropped (or replaced by a bad command id): still
/// outstanding as far as the host knows, so Abort can find it.
struct LostCommand {
    var submissionQueue: UInt16
    var commandID: UInt16
}

/// An asynchronous event waiting for an Asynchronous Event Request (NVMe base 1.4, 5.2).
struct AsynchronousEvent {
    var type: UInt8
    var info: UInt8
    var logPage: UInt8
    var dword: UInt32 { UInt32(type & 0x7) | UInt32(info) << 8 | UInt32(logPage) << 16 }
}

/// Current values of the features the controller implements (NVMe base 1.4, 5.21.1).
struct FeatureState {
    /// AB 7: no burst limit until the host sets one.
    var arbitration: UInt32 = 7
    var powerManagement: UInt32 = 0
    var volatileWriteCache: UInt32
    var interruptCoalescing: UInt32 = 0
    /// Interrupt Vector Configuration CD (coalescing disable) per vector.
    var coalescingDisabled: [Bool]
    var asynchronousEventConfiguration: UInt32 = 0
    /// Granted by Set Features Number of Queues (one-based); nil until set.
    var grantedQueues: (submission: Int, completion: Int)?

    init(vectors: Int, volatileWriteCache: Bool) {
        self.volatileWriteCache = volatileWriteCache ? 1 : 0
        coalescingDisabled = Array(repeating: false, count: vectors)
    }
}
