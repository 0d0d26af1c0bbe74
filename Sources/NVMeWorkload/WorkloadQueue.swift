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

import NVMe
import VFIO

/// What perf's per-queue loop drives: a plain `QueuePair` when one I/O fits in a command, a
/// `SplittingQueuePair` when it does not (`--bs` over MDTS). The loop is generic over it and
/// specialized for each, so the plain case runs the pair's own inlined calls and pays nothing
/// for the other (scripts/bench.sh `perf_loop_instr_per_io`).
public protocol WorkloadQueue: ~Copyable {
    @discardableResult
    mutating func submitRead(
        namespace: NamespaceInfo, lba: UInt64, blocks: Int, into buffer: DMASlice, token: UInt64, forceUnitAccess: Bool
    ) throws(NVMeError) -> UInt16
    @discardableResult
    mutating func submitWrite(
        namespace: NamespaceInfo, lba: UInt64, blocks: Int, from buffer: DMASlice, token: UInt64, forceUnitAccess: Bool
    ) throws(NVMeError) -> UInt16
    @discardableResult
    mutating func submitRead(
        namespace: NamespaceInfo, lba: UInt64, blocks: Int, into buffer: DMASlice, metadata: DMASlice?,
        protection: IOProtection, token: UInt64
    ) throws(NVMeError) -> UInt16
    @discardableResult
    mutating func submitWrite(
        namespace: NamespaceInfo, lba: UInt64, blocks: Int, from buffer: DMASlice, metadata: DMASlice?,
        protection: IOProtection, token: UInt64
    ) throws(NVMeError) -> UInt16
    mutating func ringSubmissionDoorbell()
    /// Requests in flight.
    var outstanding: Int { get }
    mutating func waitForCompletions(
        atLeast minimum: Int, mode: CompletionMode, timeoutMilliseconds: Int, _ body: (Completion) -> Void
    ) throws(NVMeError) -> Int
    var statistics: QueueStatistics { get }
}

extension QueuePair: WorkloadQueue {}
extension SplittingQueuePair: WorkloadQueue {}
