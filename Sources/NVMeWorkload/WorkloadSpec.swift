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

/// The access pattern of a workload, as fio names them.
public enum AccessPattern: String, Sendable, CaseIterable {
    case read, write, randread, randwrite, randrw

    @inlinable public var isRandom: Bool { self == .randread || self == .randwrite || self == .randrw }
    @inlinable public var writes: Bool { self != .read && self != .randread }
    @inlinable public var reads: Bool { self != .write && self != .randwrite }
}

/// What `vfioctl nvme perf` runs: a queue depth of I/Os kept in flight on each of `queuePairs`
/// queue pairs, one thread per pair, until `ios` complete or `seconds` pass, whichever comes
/// first (`WorkloadResult.endedBy` says which).
public struct WorkloadSpec: Sendable {
    public var pattern: AccessPattern
    /// Bytes per I/O, a multiple of the namespace's block size.
    public var blockSize: Int
    public var queueDepth: Int
    public var queuePairs: Int
    /// Stop after this many I/Os in total (nil: no limit).
    public var ios: Int?
    /// Stop after this long (`.infinity`: no limit); with `ios`, whichever comes first.
    public var seconds: Double
    public var mode: CompletionMode
    /// Check every byte read against what was written (the working set is written first).
    public var verify: Bool
    public var namespaceID: UInt32
    /// Share of reads in `randrw`, in percent.
    public var readPercent: Int
    /// Bytes of the namespace the workload touches (nil: all of it from the offset on, capped at
    /// 64 MiB when verifying, since the working set is written first).
    public var workingSetBytes: UInt64?
    /// Where the working set starts, in bytes (a multiple of `blockSize`): keeps a run away from
    /// data that must survive it.
    public var workingSetOffset: UInt64
    public var seed: UInt64
    /// PRINFO and tags on a namespace formatted with protection information (nil: the namespace's
    /// `defaultProtection`). perf moves no metadata: only PRACT on a namespace whose metadata is
    /// just the tuple runs (the controller makes and checks the tuples of every I/O).
    public var protection: IOProtection?

    /// `seconds` defaults to 10 without `ios`, to no limit with it.
    public init(
        pattern: AccessPattern = .randread, blockSize: Int = 4096, queueDepth: Int = 32, queuePairs: Int = 1,
        ios: Int? = nil, seconds: Double? = nil, mode: CompletionMode = .poll, verify: Bool = false,
        namespaceID: UInt32 = 1, readPercent: Int = 50, workingSetBytes: UInt64? = nil, workingSetOffset: UInt64 = 0,
        seed: UInt64 = 0x5eed, protection: IOProtection? = nil
    ) {
        self.pattern = pattern
        self.blockSize = blockSize
        self.queueDepth = queueDepth
        self.queuePairs = queuePairs
        self.ios = ios
        self.seconds = seconds ?? (ios == nil ? 10 : .infinity)
        self.mode = mode
        self.verify = verify
        self.namespaceID = namespaceID
        self.readPercent = readPercent
        self.workingSetBytes = workingSetBytes
        self.workingSetOffset = workingSetOffset
        self.seed = seed
        self.protection = protection
    }
}

/// Figures of a finished run. Latencies are in nanoseconds, from the submission to the moment
/// the completion was reaped.
public struct WorkloadResult: Sendable {
    public var ios: UInt64
    public var bytes: UInt64
    public var seconds: Double
    public var latencyMean: Double
    public var latencyP50: UInt64
    public var latencyP99: UInt64
    public var latencyP999: UInt64
    public var latencyMax: UInt64
    /// CPU time of the driver threads (CLOCK_THREAD_CPUTIME_ID) per I/O, in nanoseconds: the
    /// emulated controller's own thread is not in it.
    public var driverCPUPerIO: Double
    /// CPU time of the whole process per I/O (getrusage), emulated controller included.
    public var processCPUPerIO: Double
    public var errors: UInt64
    public var verifiedBytes: UInt64
    public var interrupts: UInt64
    public var submissionDoorbells: UInt64
    public var invalidCompletions: UInt64
    /// Poll-mode passes that found a CQ empty, and idle checks run (CSTS and clock reads), summed
    /// over the queue pairs (`QueueStatistics.emptyPolls`, `.idleChecks`).
    public var emptyPolls: UInt64 = 0
    public var idleChecks: UInt64 = 0
    /// Empty polls that ran the pause hint (`QueueStatistics.pauses`), summed over the queue pairs:
    /// what the poll mode's `SpinPolicy` did.
    public var pauses: UInt64 = 0
    /// What ended the run.
    public var endedBy: WorkloadEnd = .ios

    public var iops: Double { seconds > 0 ? Double(ios) / seconds : 0 }
    public var megabytesPerSecond: Double { seconds > 0 ? Double(bytes) / seconds / 1_000_000 : 0 }
}

/// What ended a run.
public enum WorkloadEnd: String, Sendable {
    /// `WorkloadSpec.ios` completed.
    case ios
    /// `WorkloadSpec.seconds` passed.
    case time
    /// The caller's `shouldStop` asked for it (vfioctl: SIGINT or SIGTERM).
    case stopped
    /// The device was removed (`NVMeError.deviceRemoved`): the figures count the I/Os it
    /// completed before; those in flight failed and are not counted.
    case deviceRemoved
}

extension WorkloadResult {
    /// The result of a run stopped before any I/O was started (during the verification prefill).
    static let stoppedBeforeStart = WorkloadResult(
        ios: 0, bytes: 0, seconds: 0, latencyMean: 0, latencyP50: 0, latencyP99: 0, latencyP999: 0, latencyMax: 0,
        driverCPUPerIO: 0, processCPUPerIO: 0, errors: 0, verifiedBytes: 0, interrupts: 0, submissionDoorbells: 0,
        invalidCompletions: 0, endedBy: .stopped)
}

/// What the progress callback sees about once a second.
public struct WorkloadProgress: Sendable {
    public var elapsedSeconds: Double
    public var ios: UInt64
    public var iopsLastInterval: Double
}
