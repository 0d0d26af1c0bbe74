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

@Suite struct InterruptTests {
    /// Submits `count` reads one at a time, letting the stepped controller complete each in its
    /// own step (so each completion is its own interrupt unless coalesced), then reaps them all
    /// in interrupt mode. Returns the interrupts the driver drained from the eventfd.
    func interruptsFor(_ count: Int, coalescing: InterruptCoalescing?) throws -> (driver: UInt64, device: Int, milliseconds: UInt64) {
        let rig = try Rig()
        let start = MonotonicClock.nanoseconds()
        if let coalescing { try rig.controller.setInterruptCoalescing(coalescing) }
        var pair = try rig.controller.makeQueuePair(entries: 128, interrupts: true)
        let buffer = try rig.device.dma.allocate(length: 4096)
        let before = rig.device.statistics.interruptsSignalled
        for i in 0..<count {
            try pair.submitRead(namespace: rig.namespace, lba: UInt64(i), blocks: 1, into: buffer.whole, token: UInt64(i))
            pair.ringSubmissionDoorbell()
            rig.device.service()
        }
        var completed = 0
        while completed < count {
            completed += try pair.waitForCompletions(atLeast: count - completed, mode: .interrupt, timeoutMilliseconds: 2000) { _ in }
        }
        return (pair.statistics.interrupts, rig.device.statistics.interruptsSignalled - before, (MonotonicClock.nanoseconds() - start) / 1_000_000)
    }

    @Test func interruptCoalescingReducesInterrupts() throws {
        let plain = try interruptsFor(64, coalescing: nil)
        // Threshold 8 completions, time 25.5 ms (longer than the test): one message per 8.
        let coalesced = try interruptsFor(64, coalescing: InterruptCoalescing(aggregationThreshold: 8, aggregationTime: 255))
        #expect(plain.device == 64)
        #expect(plain.driver == 64)
        // The aggregation time also flushes a partial batch: on a slow run (sanitizers, a loaded
        // machine) each 25.5 ms that passed may add one message, never more.
        let timerFlushes = Int(coalesced.milliseconds / 25)
        #expect(coalesced.device >= 8 && coalesced.device <= 8 + timerFlushes, "took \(coalesced.milliseconds) ms")
        #expect(coalesced.driver == UInt64(coalesced.device))
    }

    @Test func interruptCoalescingSettingReadsBack() throws {
        let rig = try Rig()
        let setting = InterruptCoalescing(aggregationThreshold: 16, aggregationTime: 3)
        try rig.controller.setInterruptCoalescing(setting)
        #expect(try rig.controller.interruptCoalescing() == setting)
        // Opting one vector out of coalescing (Interrupt Vector Configuration, CD).
        try rig.controller.setInterruptCoalescing(enabled: false, vector: 1)
        #expect(try rig.controller.feature(.interruptVectorConfiguration, cdw11: 1) & (1 << 16) != 0)
    }

    @Test func hybridModeMasksTheVectorWhilePolling() throws {
        // Fifteen reads complete at once; the sixteenth 30 ms later, while the reaper polls with
        // the vector masked: the controller holds that message, and the reaper drains it when it
        // re-arms.
        let rig = try Rig()
        rig.device.setFaultPlan(FaultPlan(rules: [.io(.read, .nth(16), .delayCompletion(nanoseconds: 30_000_000))]))
        var pair = try rig.controller.makeQueuePair(interrupts: true)
        let buffer = try rig.device.dma.allocate(length: 4096)
        for i in 0..<16 {
            try pair.submitRead(namespace: rig.namespace, lba: UInt64(i), blocks: 1, into: buffer.whole, token: UInt64(i))
        }
        pair.ringSubmissionDoorbell()
        var done = 0
        while done < 16 {
            done += try pair.waitForCompletions(atLeast: 16 - done, mode: .hybrid(idlePolls: 10_000_000), timeoutMilliseconds: 5000) { _ in }
        }
        #expect(pair.statistics.pollingPhases >= 1)
        #expect(rig.device.statistics.interruptsHeldMasked >= 1)
        #expect(pair.outstanding == 0)
    }

    @Test func interruptModeWithoutVectorIsAnError() throws {
        let rig = try Rig()
        var pair = try rig.controller.makeQueuePair(interrupts: false)
        let buffer = try rig.device.dma.allocate(length: 4096)
        try pair.submitRead(namespace: rig.namespace, lba: 0, blocks: 1, into: buffer.whole, token: 1)
        pair.ringSubmissionDoorbell()
        let id = pair.id
        #expect(throws: NVMeError.noInterruptVector(queue: id)) {
            _ = try pair.waitForCompletions(atLeast: 1, mode: .interrupt, timeoutMilliseconds: 100) { _ in }
        }
        _ = try pair.waitForCompletions(atLeast: 1, mode: .poll, timeoutMilliseconds: 100) { _ in }
    }
}
