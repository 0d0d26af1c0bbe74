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

/// I/O submission queues in the Controller Memory Buffer (QEMU's `cmb_size_mb`): a pair whose SQ
/// the controller fetches from its own BAR, verified write/read-back in each completion mode.
/// Skips on a controller without a buffer that takes SQs.
public enum ControllerMemoryBufferQueues: NVMeScenario {
    public static let name = "cmb-submission-queues"
    public static let summary = "I/O SQs in the Controller Memory Buffer (CMBLOC/CMBSZ validated, BAR mapped): write/read-back in poll, interrupt and hybrid mode"

    public static func run<Device: PCIFunction>(_ target: NVMeTarget<Device>) throws -> ScenarioOutcome {
        let rig = try NVMeScenarioRig(target)
        defer { try? rig.controller.close() }
        let controller = rig.controller
        guard let info = controller.controllerMemoryBuffer else {
            return .skip(controller.controllerMemoryBufferUnusable.map { "controller memory buffer not usable: \($0)" }
                ?? "the controller has no controller memory buffer (CAP.CMBS is 0)")
        }
        rig.log("CMB: BAR\(info.bar) offset \(info.offset), \(info.bytes) bytes, CMBSZ 0x\(String(info.size.rawValue, radix: 16)), controller address 0x\(String(info.controllerAddress, radix: 16))")
        guard info.size.submissionQueues else { return .skip("the controller memory buffer does not take submission queues (CMBSZ.SQS is 0)") }
        for (slot, mode) in [CompletionMode.poll, .interrupt, .hybrid(idlePolls: 500)].enumerated() {
            var pair = try controller.makeQueuePair(entries: 32, interrupts: mode.usesInterrupts, submissionQueueInControllerMemory: true)
            try expect(pair.submissionQueueInControllerMemory, "queue pair \(pair.id)'s SQ was not placed in the controller memory buffer")
            try rig.fillQueue(&pair, mode: mode)
            try rig.roundTrip(&pair, mode: mode, bytes: 128 << 10, offset: 512, slot: slot)
            rig.log("cmb \(mode): queue \(pair.id), \(pair.statistics)")
        }
        return .pass
    }
}
