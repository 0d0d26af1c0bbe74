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

#if canImport(Glibc)
import Glibc
#endif
import NVMe
import VFIO

/// Controller reset (CC.EN off and on) with 16 reads outstanding: the pair rebuilds its queues at
/// its next wait, every read ends (Aborted By Host, or done when the device was faster than the
/// reset), data acknowledged before survives, and a feature the caller set is set again.
public enum ResetWithReadsOutstanding: NVMeScenario {
    public static let name = "nvme-recovery-reset"
    public static let summary = "controller reset (CC.EN off and on) with 16 reads outstanding: the pair rebuilds its queues at its next wait, every read ends (Aborted By Host or done), acknowledged data survives, a feature the caller set is set again"

    public static func run<Device: PCIFunction>(_ target: NVMeTarget<Device>) throws -> ScenarioOutcome {
        let rig = try NVMeScenarioRig(target)
        defer { try? rig.controller.close() }
        let info = rig.info
        let ns = try rig.controller.namespace(info.id)
        var pair = try rig.controller.makeQueuePair(entries: 32, interrupts: true)
        // Acknowledged before the reset: must read back the same after it. Three quarters into
        // the namespace: past the other scenarios' scratch areas (which start at the middle),
        // inside the smallest namespace of the configurations (8192 blocks).
        let blocks = Int(min(UInt64(max(1, (64 << 10) / info.blockSize)), info.blockCount / 16))
        let lba = info.blockCount / 4 * 3
        let written = try rig.device.dma.allocate(length: blocks * info.blockSize)
        fillPattern(written.whole, seed: 0x5EED_4E5E7)
        try ns.write(lba: lba, blocks: blocks, from: written.whole, using: &pair, mode: .interrupt)
        // Asynchronous Event Configuration (NVMe base 2.0, 5.27.1.8), bit 0: report an available
        // spare below its threshold. Both devices support it; a reset returns it to 0 on the
        // emulated controller (QEMU 7.2 keeps it), and the driver must set it again.
        let events: UInt32 = 0x1
        try rig.controller.setFeature(.asynchronousEventConfiguration, value: events)

        let scratch = try rig.device.dma.allocate(length: 16 * info.blockSize)
        for i in 0..<16 {
            try pair.submitRead(namespace: info, lba: UInt64(i), blocks: 1,
                                into: scratch.slice(offset: i * info.blockSize, length: info.blockSize), token: UInt64(i))
        }
        pair.ringSubmissionDoorbell()
        try rig.controller.reset()

        var ended = 0, abortedByHost = 0, failed: [String] = []
        while ended < 16 {
            let n = try pair.waitForCompletions(atLeast: 16 - ended, mode: .interrupt, timeoutMilliseconds: 20_000) { c in
                if c.status.isEndedByHost { abortedByHost += 1 } else if !c.status.isSuccess { failed.append("\(c.status)") }
            }
            try expect(n > 0, "only \(ended) of 16 outstanding reads ended after the reset")
            ended += n
        }
        rig.log("reset with 16 reads submitted: \(abortedByHost) ended by the host, \(16 - abortedByHost - failed.count) completed by the device before the reset")
        try expect(failed.isEmpty, "reads failed with \(failed)")
        try expect(rig.controller.resetCount == 1, "resets \(rig.controller.resetCount)")

        // A device that completed all 16 before the reset: the pair learns of the reset at the
        // first wait of this read, rebuilds, and the Namespace API resubmits what it lost.
        let back = try rig.device.dma.allocate(length: blocks * info.blockSize)
        try ns.read(lba: lba, blocks: blocks, into: back.whole, using: &pair, mode: .interrupt)
        let stats = pair.statistics
        rig.log("after the read-back: rebuilds \(stats.rebuilds), ended by reset \(stats.endedByReset)")
        try expect(stats.rebuilds == 1, "the pair rebuilt its queues \(stats.rebuilds) times after one reset")
        try expect(memcmp(written.address, back.address, blocks * info.blockSize) == 0, "data written before the reset reads back different")
        let now = try rig.controller.feature(.asynchronousEventConfiguration)
        try expect(now == events, "Asynchronous Event Configuration is \(hex(now)) after the reset, the caller set \(hex(events))")
        return .pass
    }
}
