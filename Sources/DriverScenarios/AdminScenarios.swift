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

/// Admin commands beyond bring-up: SMART / Health and error logs, Get Features (Number of
/// Queues), and an Abort of a command id that is not outstanding.
public enum AdminLogsAndFeatures: NVMeScenario {
    public static let name = "nvme-admin-logs-features"
    public static let summary = "SMART / Health log, error log, Get Features (Number of Queues), Abort of a command that is not outstanding"

    public static func run<Device: PCIFunction>(_ target: NVMeTarget<Device>) throws -> ScenarioOutcome {
        let rig = try NVMeScenarioRig(target)
        let smart = try rig.controller.smartHealthLog()
        let errors = try rig.controller.errorLog()
        let queues = NumberOfQueues(dword: try rig.controller.feature(.numberOfQueues))
        rig.log("SMART: temperature \(smart.compositeTemperature) K, spare \(smart.availableSpare)%, host writes \(smart.hostWriteCommands); error log entries \(errors.count); queues \(queues.submissionQueues)/\(queues.completionQueues)")
        try expect(smart.compositeTemperature > 200, "composite temperature \(smart.compositeTemperature) K")
        try expect(queues.submissionQueues >= rig.controller.grantedQueuePairs, "Get Features Number of Queues \(queues)")
        // Aborting a command that is not outstanding: the controller says it did not abort, or
        // completes the Abort at once (QEMU 7.2 does); either way the admin queue goes on.
        let pair = try rig.controller.makeQueuePair()
        let aborted = try rig.controller.abort(queue: pair.id, commandID: 7)
        rig.log("abort of an idle command id: aborted = \(aborted)")
        try rig.controller.close()
        return .pass
    }
}
