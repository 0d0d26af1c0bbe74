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
import NVMeEmulator
import Testing
import VFIO

@Suite struct AsyncIOTests {
    @Test func awaitWriteThenReadThroughDefaultWorker() async throws {
        let rig = try Rig(mode: .threaded)
        let ns = try rig.controller.namespace(1)
        let out = try patternBuffer(rig.device.dma, bytes: 600 * 512, seed: 21)
        let back = try rig.device.dma.allocate(length: 600 * 512 + 4096)
        // 600 blocks is over MDTS (256 blocks): split by the worker; read into a mid-page slice.
        try await ns.write(lba: 1000, blocks: 600, from: out.whole)
        try await ns.read(lba: 1000, blocks: 600, into: back.slice(offset: 8, length: 600 * 512))
        #expect(back.bytes[8..<(8 + 600 * 512)].elementsEqual(out.bytes))
        try await ns.flush()
        try await ns.writeZeroes(lba: 1000, blocks: 8)
        try await ns.read(lba: 1000, blocks: 8, into: back.whole)
        #expect(back.bytes[0..<4096].allSatisfy { $0 == 0 })
        try rig.controller.close()
    }

    @Test(arguments: [CompletionMode.poll, .interrupt, .hybrid])
    func concurrentTasksOnFourWorkers(mode: CompletionMode) async throws {
        let rig = try Rig(mode: .threaded, queuePairs: 4)
        let pool = try rig.controller.startWorkers(4, mode: mode)
        let info = rig.namespace
        let allocator = rig.device.dma
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<16 {
                group.addTask {
                    let blocks = 1 + (task * 37) % 300
                    let out = try patternBuffer(allocator, bytes: blocks * 512, seed: UInt64(task))
                    let back = try allocator.allocate(length: blocks * 512)
                    let lba = UInt64(task * 512)
                    try await pool.write(info, lba: lba, blocks: blocks, from: out.whole)
                    try await pool.read(info, lba: lba, blocks: blocks, into: back.whole)
                    #expect(back.bytes.prefix(blocks * 512).elementsEqual(out.bytes.prefix(blocks * 512)), "task \(task)")
                }
            }
            try await group.waitForAll()
        }
        #expect(Set(pool.queueIDs.compactMap { $0 }).count == 4)
        pool.stop()
        try rig.controller.close()
    }

    @Test func failedCommandResumesWithItsStatus() async throws {
        let rig = try Rig(mode: .threaded)
        rig.device.setFaultPlan(FaultPlan(rules: [.io(.read, .nth(1), .completeWithStatus(.unrecoveredReadError))]))
        let ns = try rig.controller.namespace(1)
        let buffer = try rig.device.dma.allocate(length: 4096)
        await #expect(throws: NVMeError.commandFailed(command: "Read", status: .unrecoveredReadError)) {
            try await ns.read(lba: 0, blocks: 8, into: buffer.whole)
        }
        try await ns.read(lba: 0, blocks: 8, into: buffer.whole)
        try rig.controller.close()
    }

    @Test func requestsAfterStopFailWithClosed() async throws {
        let rig = try Rig(mode: .threaded)
        let pool = try rig.controller.startWorkers(1)
        pool.stop()
        let buffer = try rig.device.dma.allocate(length: 4096)
        await #expect(throws: NVMeError.closed) {
            try await pool.read(rig.namespace, lba: 0, blocks: 1, into: buffer.whole)
        }
        try rig.controller.close()
    }
}
