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

/// Doorbell Buffer Config (QEMU 7.2 advertises it, OACS bit 8): verified QD1 writes and reads
/// with the driver's shadow doorbells, then the same with `ControllerOptions.shadowDoorbells`
/// off, and fewer MMIO doorbell writes per I/O with them (each one a VM exit under QEMU).
/// Skips on a controller that does not offer the command.
public enum ShadowDoorbellsInUse: NVMeScenario {
    public static let name = "dbbuf-shadow-doorbells"
    public static let summary = "Doorbell Buffer Config when offered (OACS bit 8): verified QD1 I/O with shadow doorbells and with them turned off; fewer MMIO doorbell writes per I/O with them"

    /// I/Os of each direction per measurement.
    static let count = 200

    public static func run<Device: PCIFunction>(_ target: NVMeTarget<Device>) throws -> ScenarioOutcome {
        var options = NVMeScenarioRig<Device>.options
        let with = try measure(target, options: options)
        guard let with else {
            return .skip("the controller does not offer Doorbell Buffer Config (OACS bit 8), or refused it")
        }
        options.shadowDoorbells = false
        guard let without = try measure(target, options: options) else {
            throw ScenarioFailure("with ControllerOptions.shadowDoorbells off the controller reports shadow doorbells in use")
        }
        let perIO = { (s: QueueStatistics) in Double(s.submissionDoorbells + s.completionDoorbells) / Double(max(1, s.completed)) }
        target.log(
            "\(name): MMIO doorbell writes per I/O at QD1: \(perIO(with)) with shadow doorbells (SQ \(with.submissionDoorbells), CQ \(with.completionDoorbells), shadow only \(with.shadowOnlyDoorbells), \(with.completed) I/Os), \(perIO(without)) without (SQ \(without.submissionDoorbells), CQ \(without.completionDoorbells))")
        try expect(without.shadowOnlyDoorbells == 0, "with shadow doorbells off, \(without.shadowOnlyDoorbells) updates skipped the MMIO doorbell")
        try expect(with.shadowOnlyDoorbells > 0, "with shadow doorbells no update skipped the MMIO doorbell: the controller asked for every one")
        try expect(perIO(with) < perIO(without), "shadow doorbells did not lower the MMIO doorbell writes per I/O (\(perIO(with)) against \(perIO(without)))")
        return .pass
    }

    /// Writes and reads back `count` blocks one at a time on a polled pair; the pair's statistics,
    /// or nil when the controller does not use shadow doorbells though asked to.
    static func measure<Device: PCIFunction>(_ target: NVMeTarget<Device>, options: ControllerOptions) throws -> QueueStatistics? {
        let rig = try NVMeScenarioRig(target, options: options)
        defer { try? rig.controller.close() }
        guard rig.controller.usesShadowDoorbells == options.shadowDoorbells else { return nil }
        let info = rig.info
        let length = count * info.blockSize
        let out = try rig.device.dma.allocate(length: length)
        let back = try rig.device.dma.allocate(length: length)
        fillPattern(out.slice(offset: 0, length: length), seed: options.shadowDoorbells ? 0xDB : 0xD0)
        var pair = try rig.controller.makeQueuePair(entries: 32, interrupts: false)
        let lba = info.blockCount / 2
        var failed: [String] = []
        for write in [true, false] {
            for i in 0..<count {
                if write {
                    let slice = out.slice(offset: i * info.blockSize, length: info.blockSize)
                    try pair.submitWrite(namespace: info, lba: lba + UInt64(i), blocks: 1, from: slice, token: 0)
                } else {
                    let slice = back.slice(offset: i * info.blockSize, length: info.blockSize)
                    try pair.submitRead(namespace: info, lba: lba + UInt64(i), blocks: 1, into: slice, token: 0)
                }
                pair.ringSubmissionDoorbell()
                _ = try pair.waitForCompletions(atLeast: 1, timeoutMilliseconds: 20_000) { c in
                    if !c.status.isSuccess { failed.append("\(c.status)") }
                }
            }
        }
        try expect(failed.isEmpty, "\(failed.count) I/Os failed: \(failed.first ?? "")")
        let written = out.slice(offset: 0, length: length), read = back.slice(offset: 0, length: length)
        try expect(written.bytes.elementsEqual(read.bytes), "the blocks read back differ from those written")
        return pair.statistics
    }
}
