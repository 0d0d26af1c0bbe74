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

import Dispatch
#if canImport(Glibc)
import Glibc
#endif
import NVMe
import NVMeEmulator
import Synchronization
import Testing
import VFIO
import VFIOTestSupport

/// The device goes away mid-I/O (issue 17): the emulated controller leaves the bus (all ones in
/// BAR and config space, no more DMA, the request interrupt fires) or the kernel only asks for it
/// back. Every wait ends with `deviceRemoved` within a bound, what the device acknowledged is on
/// the media, and nothing is released before the device is quiet.
struct SurpriseRemovalTests {
    static let modes: [CompletionMode] = [.poll, .interrupt, .hybrid(idlePolls: 200)]
    /// The detection bound the issue asks for (the loops notice within an idle check: 1-10 ms).
    static let boundMilliseconds: UInt64 = 1000
    static let blocksPerWrite = 8

    /// A threaded controller whose namespace lives in a sparse file, so what it acknowledged can
    /// be read back through a second controller after the first has gone.
    static func fileBackedRig(_ path: String, faults: FaultPlan = FaultPlan()) throws -> Rig {
        try Rig(mode: .threaded, entries: 64, namespaces: [EmulatedNamespace(blockSize: 512, capacityInBlocks: 16384, backing: .sparseFile(path: path))]) {
            $0.faultPlan = faults
            $0.commandLatencyNanoseconds = 20_000
        }
    }

    /// Writes block-sized patterns at queue depth 16 until a wait throws; returns the LBAs the
    /// device acknowledged, the error, and how long the failing wait took.
    static func writeUntilFailure(_ rig: Rig, _ pair: inout QueuePair<EmulatedNVMeController>, mode: CompletionMode, buffers: borrowing DMABuffer)
        -> (acknowledged: [UInt64], error: NVMeError?, failingWaitMilliseconds: UInt64)
    {
        let depth = 16, bytes = blocksPerWrite * 512
        var free = Array(0..<depth)
        var lbaOfSlot = [UInt64](repeating: 0, count: depth)
        var acknowledged: [UInt64] = []
        var next: UInt64 = 0
        while next < 1000 {
            while let slot = free.popLast() {
                let lba = next * UInt64(blocksPerWrite)
                next += 1
                fill(buffers.slice(offset: slot * bytes, length: bytes), lba: lba)
                lbaOfSlot[slot] = lba
                do {
                    _ = try pair.submitWrite(namespace: rig.namespace, lba: lba, blocks: blocksPerWrite, from: buffers.slice(offset: slot * bytes, length: bytes), token: UInt64(slot))
                } catch {
                    Issue.record("submit failed: \(error)")
                    return (acknowledged, nil, 0)
                }
            }
            pair.ringSubmissionDoorbell()
            let start = MonotonicClock.nanoseconds()
            do {
                _ = try pair.waitForCompletions(atLeast: 1, mode: mode, timeoutMilliseconds: 5000) { c in
                    let slot = Int(c.token)
                    if c.status.isSuccess { acknowledged.append(lbaOfSlot[slot]) }
                    free.append(slot)
                }
            } catch {
                return (acknowledged, error, (MonotonicClock.nanoseconds() - start) / 1_000_000)
            }
        }
        return (acknowledged, nil, 0)
    }

    /// The pattern of one write: every byte names its LBA.
    static func fill(_ slice: DMASlice, lba: UInt64) {
        for i in 0..<slice.length { slice.bytes[i] = UInt8(truncatingIfNeeded: lba &* 7 &+ UInt64(i / 512)) }
    }

    static func temporaryImage(_ name: String) -> String { "/tmp/swift-vfio-removal-\(name)-\(getpid()).img" }

    @Test(arguments: modes)
    func removalDuringIOFailsTheWaitWithDeviceRemovedWithinTheBoundInEachMode(_ mode: CompletionMode) throws {
        let path = Self.temporaryImage("mode-\(mode.kind)")
        defer { unlink(path) }
        var acknowledged: [UInt64] = []
        do {
            // The device leaves the bus as it fetches the 40th write.
            let rig = try Self.fileBackedRig(path, faults: FaultPlan(rules: [.io(.write, .nth(40), .surpriseRemoval)]))
            defer { rig.device.close() }
            var pair = try rig.controller.makeQueuePair(interrupts: mode.usesInterrupts)
            let buffers = try rig.device.dma.allocate(length: 16 * Self.blocksPerWrite * 512)
            let outcome = Self.writeUntilFailure(rig, &pair, mode: mode, buffers: buffers)
            acknowledged = outcome.acknowledged
            #expect(outcome.error == .deviceRemoved)
            #expect(outcome.failingWaitMilliseconds < timeBound(Self.boundMilliseconds), "the wait took \(outcome.failingWaitMilliseconds) ms")
            print("removal in \(mode) mode noticed after \(outcome.failingWaitMilliseconds) ms, \(acknowledged.count) writes acknowledged")
            #expect(acknowledged.count >= 1 && acknowledged.count <= 39)
            #expect(pair.outstanding > 0)
            #expect(rig.controller.failure == .deviceRemoved)
            // A removed function is quiet by absence: its memory may go.
            #expect(rig.controller.quiesce(reason: "the test's removal"))
            #expect(rig.controller.lastQuietProof == .functionGone)
            #expect(rig.device.dma.keptMappings == 0)
            _ = consume pair
            let closeMs = millisecondsTaken { try? rig.controller.close() }
            #expect(closeMs < timeBound(Self.boundMilliseconds), "close took \(closeMs) ms")
            #expect(rig.device.dmaFaults.isEmpty)
        }
        // Every acknowledged write is on the media, as a new controller on the same image reads it.
        let again = try Self.fileBackedRig(path)
        defer { again.device.close() }
        let back = try again.device.dma.allocate(length: Self.blocksPerWrite * 512)
        let expected = try again.device.dma.allocate(length: Self.blocksPerWrite * 512)
        var intact = 0
        for lba in acknowledged {
            try again.controller.namespace(1).read(lba: lba, blocks: Self.blocksPerWrite, into: back.whole)
            Self.fill(expected.whole, lba: lba)
            if equalBytes(back.whole, expected.whole) { intact += 1 }
        }
        #expect(intact == acknowledged.count)
    }

    @Test(arguments: modes)
    func completionsPostedBetweenTheLastLookAndTheRemovalCheckAreDelivered(_ mode: CompletionMode) throws {
        // The race of the reliability runs, forced: after the wait found the CQ empty and before
        // its idle check answered, the controller completes four writes (the four reads hang)
        // and leaves the bus. The check delivers the four; a later one throws.
        var configuration = EmulatedNVMeConfiguration(namespaces: [EmulatedNamespace(blockSize: 512, capacityInBlocks: 16384)], maxDataTransferSize: 5, mode: .stepped)
        configuration.faultPlan = FaultPlan(rules: [.io(.read, .always, .hang)])
        let inner = try EmulatedNVMeController(configuration: configuration)
        defer { inner.close() }
        let device = DeviceLeavingAtTheRemovalCheck(inner)
        let controller = try Controller(device: device, options: ControllerOptions(ioQueuePairs: 1, ioQueueEntries: 64, ioTimeoutMilliseconds: 5000))
        var pair = try controller.makeQueuePair(interrupts: mode.usesInterrupts)
        let buffer = try inner.dma.allocate(length: 8 * 4096)
        let namespace = controller.namespaces[0]
        for i in 0..<8 {
            let slice = buffer.slice(offset: i * 4096, length: 4096)
            if i < 4 {
                try pair.submitWrite(namespace: namespace, lba: UInt64(i * 8), blocks: 8, from: slice, token: UInt64(i))
            } else {
                try pair.submitRead(namespace: namespace, lba: UInt64(i * 8), blocks: 8, into: slice, token: UInt64(i))
            }
        }
        device.holdUntilTheRemovalCheck {
            inner.service()
            inner.simulateSurpriseRemoval()
        }
        pair.ringSubmissionDoorbell()
        var completed: [UInt64] = []
        var error: NVMeError?
        let start = MonotonicClock.nanoseconds()
        while error == nil && MonotonicClock.nanoseconds() - start < 10_000_000_000 {
            do {
                _ = try pair.waitForCompletions(atLeast: 1, mode: mode, timeoutMilliseconds: 5000) { c in
                    #expect(c.status.isSuccess)
                    completed.append(c.token)
                }
            } catch let e {
                error = e
            }
        }
        #expect(try inner.readConfig32(at: 0) == .max, "the function left the bus")
        #expect(error == .deviceRemoved)
        // The four writes the controller completed, and not the reads it never answered.
        #expect(completed.sorted() == [0, 1, 2, 3])
        #expect(pair.outstanding == 4)
        #expect(controller.quiesce(reason: "the test's removal"))
        _ = consume pair
        #expect(inner.dmaFaults.isEmpty)
    }

    @Test func removalWithoutTheRequestInterruptIsSeenFromAllOnesWhileSleeping() throws {
        let rig = try Rig(mode: .threaded)
        defer { rig.device.close() }
        var pair = try rig.controller.makeQueuePair(interrupts: true)
        let buffer = try rig.device.dma.allocate(length: 4096)
        // A command the device will never answer, then a dead link with no notification.
        rig.device.setFaultPlan(FaultPlan(rules: [.io(.read, .nth(1), .hang)]))
        try pair.submitRead(namespace: rig.namespace, lba: 0, blocks: 8, into: buffer.whole, token: 1)
        pair.ringSubmissionDoorbell()
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(50)) { rig.device.simulateSurpriseRemoval(notify: false) }
        let ms = millisecondsTaken {
            #expect(throws: NVMeError.deviceRemoved) { _ = try pair.waitForCompletions(atLeast: 1, mode: .interrupt, timeoutMilliseconds: 5000) { _ in } }
        }
        #expect(ms < timeBound(50 + Self.boundMilliseconds), "took \(ms) ms")
        #expect(rig.device.removalRequestEventFD.map { EventFD.isSignalled($0) } == false)
    }

    @Test func requestInterruptAloneEndsTheWaitAndQuiescesBeforeMemoryGoes() throws {
        let rig = try Rig(mode: .threaded)
        defer { rig.device.close() }
        let namespace = try rig.controller.namespace(1)
        let buffer = try rig.device.dma.allocate(length: 4096)
        // A read the device holds on to; the kernel then asks for the device back. The device is
        // still there, so it must be stopped (CC.EN = 0) before the buffer can be released.
        rig.device.setFaultPlan(FaultPlan(rules: [.io(.read, .nth(1), .hang)]))
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(50)) { rig.device.requestRemoval() }
        let ms = millisecondsTaken {
            #expect(throws: NVMeError.deviceRemoved) { try namespace.read(lba: 0, blocks: 8, into: buffer.whole, mode: .hybrid) }
        }
        #expect(ms < timeBound(50 + Self.boundMilliseconds), "took \(ms) ms")
        #expect(rig.controller.lastQuietProof == .controllerDisabled)
        #expect(!rig.controller.status.ready)
        #expect(throws: NVMeError.deviceRemoved) { try namespace.write(lba: 0, blocks: 8, from: buffer.whole) }
        let closeMs = millisecondsTaken { try? rig.controller.close() }
        #expect(closeMs < timeBound(Self.boundMilliseconds), "close took \(closeMs) ms")
        #expect(rig.device.dmaFaults.isEmpty)
    }

    @Test(arguments: modes)
    func requestDuringBusyShortWaitsIsNoticedWithinTheBound(_ mode: CompletionMode) throws {
        // Every command completes in 20 us, so no single wait lasts the idle-check interval
        // (1 ms): only a pair that carries its last check from wait to wait looks at the
        // request while the device, still present, keeps completing what it is given.
        let rig = try Rig(mode: .threaded) { $0.commandLatencyNanoseconds = 20_000 }
        defer { rig.device.close() }
        var pair = try rig.controller.makeQueuePair(interrupts: mode.usesInterrupts)
        let buffer = try rig.device.dma.allocate(length: 8 * 4096)
        var free = Array(0..<8)
        var requestedAt: UInt64?
        var error: NVMeError?
        var lba: UInt64 = 0
        let start = MonotonicClock.nanoseconds()
        while error == nil && MonotonicClock.nanoseconds() - start < 5_000_000_000 {
            while let slot = free.popLast() {
                try pair.submitWrite(namespace: rig.namespace, lba: lba % 8192, blocks: 8, from: buffer.slice(offset: slot * 4096, length: 4096), token: UInt64(slot))
                lba += 8
            }
            pair.ringSubmissionDoorbell()
            do {
                _ = try pair.waitForCompletions(atLeast: 1, mode: mode, timeoutMilliseconds: 5000) { free.append(Int($0.token)) }
            } catch let e {
                error = e
            }
            if requestedAt == nil && lba >= 8 * 200 {
                rig.device.requestRemoval()
                requestedAt = MonotonicClock.nanoseconds()
            }
        }
        let ms = requestedAt.map { (MonotonicClock.nanoseconds() - $0) / 1_000_000 } ?? 0
        #expect(error == .deviceRemoved, "after \(lba / 8) writes")
        #expect(ms < timeBound(Self.boundMilliseconds), "noticed \(ms) ms after the request")
        #expect(rig.controller.quiesce(reason: "the test's removal"))
    }

    @Test func requestIsNoticedByAPollingPairThatNeverWaits() throws {
        // Stepped: the wait's own service() completes each read, so every poll-mode wait finds
        // its completion at the first look and never enters the wait loop, whose idle checks
        // are where a removal is seen. The device stays present and keeps completing.
        let rig = try Rig()
        defer { rig.device.close() }
        var pair = try rig.controller.makeQueuePair(interrupts: false)
        let buffer = try rig.device.dma.allocate(length: 4096)
        var error: NVMeError?
        var requestedAt: UInt64?
        var reads = 0
        let deadline = Deadline(milliseconds: Int(timeBound(5 * Self.boundMilliseconds)))
        while error == nil && !deadline.hasPassed {
            do {
                try pair.submitRead(namespace: rig.namespace, lba: 0, blocks: 8, into: buffer.slice(offset: 0, length: 4096), token: 1)
                pair.ringSubmissionDoorbell()
                let n = try pair.waitForCompletions(atLeast: 1, mode: .poll, timeoutMilliseconds: 5000) { _ in }
                #expect(n == 1)
                reads += 1
            } catch let e {
                error = e
            }
            if requestedAt == nil && reads == 100 {
                rig.device.requestRemoval()
                requestedAt = MonotonicClock.nanoseconds()
            }
        }
        let ms = requestedAt.map { (MonotonicClock.nanoseconds() - $0) / 1_000_000 } ?? 0
        #expect(error == .deviceRemoved, "after \(reads) reads")
        #expect(ms < timeBound(Self.boundMilliseconds), "noticed \(ms) ms after the request")
        #expect(pair.statistics.emptyPolls == 0, "the reads waited after all: the test proves nothing")
    }

    @Test func submissionAfterTheRemovalWasSeenNeverRingsTheDoorbell() throws {
        // Stepped: the device fetches only when the wait services it, so a doorbell store would
        // be counted (and the read executed) before the wait returns.
        let rig = try Rig()
        defer { rig.device.close() }
        var pair = try rig.controller.makeQueuePair(interrupts: false)
        let buffer = try rig.device.dma.allocate(length: 8192)
        rig.device.setFaultPlan(FaultPlan(rules: [.io(.read, .nth(1), .hang)]))
        try pair.submitRead(namespace: rig.namespace, lba: 0, blocks: 8, into: buffer.slice(offset: 0, length: 4096), token: 1)
        pair.ringSubmissionDoorbell()
        // The kernel asks for the function back: it is still there and would start new commands.
        rig.device.requestRemoval()
        #expect(throws: NVMeError.deviceRemoved) { _ = try pair.waitForCompletions(atLeast: 1, mode: .poll, timeoutMilliseconds: 5000) { _ in } }
        let doorbells = rig.device.statistics.doorbellWrites
        let reads = rig.device.statistics.io(IOOpcode.read.rawValue).commands
        try pair.submitRead(namespace: rig.namespace, lba: 8, blocks: 8, into: buffer.slice(offset: 4096, length: 4096), token: 2)
        pair.ringSubmissionDoorbell()
        #expect(throws: NVMeError.deviceRemoved) { _ = try pair.waitForCompletions(atLeast: 1, mode: .poll, timeoutMilliseconds: 5000) { _ in } }
        #expect(rig.device.statistics.doorbellWrites == doorbells)
        #expect(rig.device.statistics.io(IOOpcode.read.rawValue).commands == reads)
        #expect(pair.outstanding == 2)
        #expect(rig.controller.quiesce(reason: "the test's removal"))
    }

    @Test func removalWakesEveryAsyncWaiter() async throws {
        let path = Self.temporaryImage("async")
        defer { unlink(path) }
        let rig = try Self.fileBackedRig(path, faults: FaultPlan(rules: [.io(.write, .nth(30), .surpriseRemoval)]))
        defer { rig.device.close() }
        let pool = try rig.controller.startWorkers(2, mode: .interrupt)
        let tasks = 8
        let buffers = try rig.device.dma.allocate(length: tasks * 4096)
        let info = rig.namespace
        let start = MonotonicClock.nanoseconds()
        let outcomes = await withTaskGroup(of: (acknowledged: Int, error: NVMeError?).self) { group in
            for t in 0..<tasks {
                let slice = buffers.slice(offset: t * 4096, length: 4096)
                group.addTask {
                    var acknowledged = 0
                    for i in 0..<100 {
                        do throws(NVMeError) {
                            try await pool.write(info, lba: UInt64((t * 100 + i) * 8), blocks: 8, from: slice)
                            acknowledged += 1
                        } catch {
                            return (acknowledged, error)
                        }
                    }
                    return (acknowledged, nil)
                }
            }
            var all: [(acknowledged: Int, error: NVMeError?)] = []
            for await outcome in group { all.append(outcome) }
            return all
        }
        let ms = (MonotonicClock.nanoseconds() - start) / 1_000_000
        // Every task woke with the removal; none waited out a timeout.
        #expect(outcomes.count == tasks)
        #expect(outcomes.allSatisfy { $0.error == NVMeError.deviceRemoved })
        #expect(outcomes.reduce(0) { $0 + $1.acknowledged } <= 29)
        // No time bound here: under a parallel test run the tasks' resumption waits for the
        // cooperative pool, which blocking tests occupy (alone this takes ~40 ms). That no task
        // waited out its 5 s timeout shows in the error: `.timedOut` would be thrown instead.
        print("async removal: every task ended after \(ms) ms")
        pool.stop()
        #expect(rig.controller.lastQuietProof == .functionGone)
        #expect(rig.device.dma.keptMappings == 0)
    }
}
