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

import Logging
import VFIO

/// Choices made at controller bring-up.
public struct ControllerOptions: Sendable {
    /// I/O queue pairs to ask for with Set Features Number of Queues; the controller may grant
    /// fewer, and the driver uses what it grants.
    public var ioQueuePairs: Int
    /// Default entries per I/O queue (capped by CAP.MQES + 1). `depth` is one less.
    public var ioQueueEntries: Int
    /// Entries of the admin SQ and CQ (2...4096, capped by CAP.MQES + 1).
    public var adminQueueEntries: Int
    /// Upper bound for one admin command.
    public var adminTimeoutMilliseconds: Int
    /// Upper bound for one I/O command: with recovery enabled, a command outstanding this long is
    /// aborted (then the controller reset); without, the blocking and async APIs give up waiting.
    public var ioTimeoutMilliseconds: Int
    /// Enable MSI-X (one vector for the admin queue and one per I/O queue pair). Without it, only
    /// the poll completion mode is available.
    public var interrupts: Bool
    /// What the driver does about commands that time out and controllers that fail.
    public var recovery: RecoveryPolicy
    /// Where the controller logs bring-up, resets, aborts and misbehaving devices: quiet unless
    /// the caller passes its own (a library does not print on its own).
    public var logger: Logger
    /// PRPs or SGLs for data (`DataPointerPolicy`); each queue pair can change its own.
    public var dataPointers: DataPointerPolicy = .automatic
    /// Put the I/O submission queues in the Controller Memory Buffer when the controller has one
    /// that takes them (CMBSZ.SQS) with room left; else in host memory, as without it.
    /// `makeQueuePair(submissionQueueInControllerMemory:)` overrides it per pair.
    public var submissionQueuesInControllerMemory = false

    public init(
        ioQueuePairs: Int = 4, ioQueueEntries: Int = 256, adminQueueEntries: Int = 32,
        adminTimeoutMilliseconds: Int = 10_000, ioTimeoutMilliseconds: Int = 30_000, interrupts: Bool = true,
        recovery: RecoveryPolicy = RecoveryPolicy(), logger: Logger = .quiet(label: "swift-vfio.nvme")
    ) {
        self.ioQueuePairs = ioQueuePairs
        self.ioQueueEntries = ioQueueEntries
        self.adminQueueEntries = adminQueueEntries
        self.adminTimeoutMilliseconds = adminTimeoutMilliseconds
        self.ioTimeoutMilliseconds = ioTimeoutMilliseconds
        self.interrupts = interrupts
        self.recovery = recovery
        self.logger = logger
    }
}

/// Error recovery, in the escalation Linux's `nvme_timeout` uses: a command outstanding longer
/// than `ControllerOptions.ioTimeoutMilliseconds` is aborted (Abort, NVMe base 1.4, 5.1); if it is
/// still outstanding `abortTimeoutMilliseconds` later, or the Abort itself fails, or CSTS.CFS is
/// set, or an admin command times out, the controller is reset (CC.EN 1 → 0 → 1, 7.3.2) and every
/// I/O queue is rebuilt. Commands the reset ended complete with "Command Aborted By Host"
/// (SCT 3h, SC 71h); the blocking `Namespace` API resubmits those and aborted ones up to
/// `retries` times. A controller whose reset fails, or whose registers read all ones, is failed
/// for good: every later call throws the reason.
public struct RecoveryPolicy: Sendable, Equatable {
    /// Off: a timeout only ends the wait (`.timedOut`) and CSTS.CFS is only reported; the caller
    /// aborts or closes. On: abort, then reset, automatically.
    public var enabled: Bool
    /// How long an aborted command may still take before the controller is reset.
    public var abortTimeoutMilliseconds: Int
    /// Resubmissions of one piece of a blocking `Namespace` call after the driver ended it (its
    /// Abort, or a reset). Errors the device reports itself are never retried by the driver.
    public var retries: Int

    public init(enabled: Bool = true, abortTimeoutMilliseconds: Int = 5_000, retries: Int = 3) {
        self.enabled = enabled
        self.abortTimeoutMilliseconds = abortTimeoutMilliseconds
        self.retries = retries
    }

    /// No automatic abort or reset.
    public static let disabled = RecoveryPolicy(enabled: false)
}
