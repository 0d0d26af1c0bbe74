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

/// Poll mode: spin on the phase tag; the queue filled to its depth, then a write/read-back.
public enum PollMode: NVMeScenario {
    public static let name = "nvme-poll-mode"
    public static let summary = "write/read-back in poll mode (spin on the phase tag), queue filled to its depth"

    public static func run<Device: PCIFunction>(_ target: NVMeTarget<Device>) throws -> ScenarioOutcome {
        let rig = try NVMeScenarioRig(target)
        var pair = try rig.controller.makeQueuePair(entries: 32, interrupts: false)
        try rig.fillQueue(&pair, mode: .poll)
        try rig.roundTrip(&pair, mode: .poll, bytes: 256 << 10, offset: 12)
        rig.log("poll: \(pair.statistics)")
        try rig.controller.close()
        return .pass
    }
}

/// Interrupt mode: the CQ's MSI-X vector signals its eventfd and wakes the sleeping reaper.
public enum InterruptMode: NVMeScenario {
    public static let name = "nvme-interrupt-mode"
    public static let summary = "write/read-back in interrupt mode: the CQ's MSI-X vector fires its eventfd and wakes the reaper"

    public static func run<Device: PCIFunction>(_ target: NVMeTarget<Device>) throws -> ScenarioOutcome {
        let rig = try NVMeScenarioRig(target)
        var pair = try rig.controller.makeQueuePair(entries: 32, interrupts: true)
        try rig.fillQueue(&pair, mode: .interrupt)
        try rig.roundTrip(&pair, mode: .interrupt, bytes: 256 << 10, offset: 100 * 4)
        // A reaper sleeps only when the CQ is still empty as it looks; single reads make that
        // near certain (a device completes in microseconds, not nanoseconds), so repeat until one
        // wake-up by the interrupt is seen.
        let buffer = try rig.device.dma.allocate(length: rig.info.blockSize)
        for i in 0..<50 where pair.statistics.interruptWakeups == 0 {
            try pair.submitRead(namespace: rig.info, lba: UInt64(i), blocks: 1, into: buffer.whole, token: 0)
            pair.ringSubmissionDoorbell()
            _ = try pair.waitForCompletions(atLeast: 1, mode: .interrupt, timeoutMilliseconds: 5000) { _ in }
        }
        let stats = pair.statistics
        rig.log("interrupt: vector \(pair.interruptVector.map(String.init) ?? "none"), \(stats)")
        try expect(stats.interrupts > 0 && stats.interruptWakeups > 0, "no MSI-X interrupt was seen (\(stats.interrupts) signals, \(stats.interruptWakeups) wake-ups)")
        try rig.controller.close()
        return .pass
    }
}

/// Hybrid (NAPI) mode: an interrupt wakes the reaper, which polls with the vector masked, then
/// re-arms.
public enum HybridMode: NVMeScenario {
    public static let name = "nvme-hybrid-mode"
    public static let summary = "write/read-back in hybrid (NAPI) mode: an interrupt wakes the reaper, which polls with the vector masked, then re-arms"

    public static func run<Device: PCIFunction>(_ target: NVMeTarget<Device>) throws -> ScenarioOutcome {
        let rig = try NVMeScenarioRig(target)
        var pair = try rig.controller.makeQueuePair(entries: 32, interrupts: true)
        try rig.fillQueue(&pair, mode: .hybrid(idlePolls: 500))
        try rig.roundTrip(&pair, mode: .hybrid(idlePolls: 500), bytes: 256 << 10, offset: 2048)
        let stats = pair.statistics
        rig.log("hybrid: \(stats)")
        try expect(stats.pollingPhases > 0, "never entered a polling phase")
        try expect(stats.interrupts > 0, "no MSI-X interrupt was seen")
        try rig.controller.close()
        return .pass
    }
}
