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
import NVMeTCPTarget

/// `vfioctl nvme serve`'s summary on exit: one line, or (`--json`) the totals, the backend
/// queue's counters and a report per connection.
extension ConnectionStatistics {
    var jsonFields: [(String, JSON)] {
        [
            ("commands", .uint(commands)), ("read_bytes", .uint(readBytes)), ("written_bytes", .uint(writtenBytes)),
            ("pdus_received", .uint(pdusReceived)), ("pdus_sent", .uint(pdusSent)),
            ("bytes_received", .uint(bytesReceived)), ("bytes_sent", .uint(bytesSent)), ("r2ts", .uint(r2ts)),
            ("buffer_waits", .uint(bufferWaits)), ("output_waits", .uint(outputWaits)),
            ("backend_queue_waits", .uint(backendQueueWaits)), ("data_digest_errors", .uint(dataDigestErrors)),
        ]
    }
}

extension ConnectionReport {
    var json: JSON {
        .object(
            [
                ("connection", .int(index)), ("peer", .optional(peer)), ("host_nqn", .optional(hostNQN)),
                ("controller_id", .optional(controllerID.map(Int.init))), ("queue_id", .optional(queueID.map(Int.init))),
                ("discovery", .bool(discovery)),
            ] + statistics.jsonFields + [("terminated", .bool(terminated)), ("close_reason", .optional(closeReason))])
    }
}

extension QueueStatistics {
    /// The backend queue pair's side: what reached the device, its backpressure, how it woke.
    var serveJSON: JSON {
        .object([
            ("submitted", .uint(submitted)), ("completed", .uint(completed)), ("backpressure", .uint(backpressure)),
            ("submission_doorbells", .uint(submissionDoorbells)), ("interrupts", .uint(interrupts)),
            ("interrupt_wakeups", .uint(interruptWakeups)), ("polling_phases", .uint(pollingPhases)),
            ("invalid_completions", .uint(invalidCompletions)),
        ])
    }
}

extension TargetServerSummary {
    /// The counters of the one-line summary (after "served NQN on ADDRESS until SIGNAL: ").
    var line: String {
        "\(connectionsAccepted) connections, \(totals.summaryLine), \(terminations) terminated for protocol errors"
    }
}
